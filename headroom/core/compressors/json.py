"""JSON: compact re-serialisation, then arrays and maps of similar items cut down to the ones that matter.

The document stays valid JSON of the same schema: a dropped run of array items becomes one marker
item (`{"_headroom": marker}` among objects, the marker string among scalars), the dropped entries of a
large map become one `"_headroom"` entry, and a long multi-line string keeps its head and the lines
the question mentions, with a marker line where the rest was. Items kept are kept whole and exactly.

Which items are kept: the first and the last (they show the shape and the extent), and those that
contain the question's terms, each term weighted by how few siblings contain it (a term every item
contains tells nothing).
"""
from __future__ import annotations

import json
import math
from typing import Any

from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import Query, parse_query
from headroom.core.compressors.runs import LINE_OFFSET, fold, lines_summary
from headroom.core.markers import JSON_MARKER_FIELD, has_marker, make_marker

__all__ = ["compress_json", "parse_json"]

MIN_ITEMS = 8  # shorter arrays/maps are read whole: a marker would cost as much as what it saves
MAP_MIN_KEYS = 16  # an object with this many keys whose values share one type is a map (id -> record)
HEAD_ITEMS = 1
TAIL_ITEMS = 1
MATCH_MAX_FRACTION = 0.5  # a term in more than half the items does not single any out
RELATIVE_SCORE = 0.34  # keep items scoring at least this share of the best item's score
PER_TERM_ITEMS = 2  # items kept for each informative term of the question, best scored first
MAX_MATCHED_ITEMS = 40  # at most this many items kept for matching the question, best first
LONG_STRING_LINES = 40  # multi-line strings longer than this keep their head and matching lines
STRING_HEAD_LINES = 12


def parse_json(text: str) -> Any:
    """The value of `text` if it is a JSON object or array, else raise ValueError."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        raise ValueError("not a JSON document")
    return json.loads(stripped)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Shrinker:
    def __init__(self, query: Query):
        self.query = query
        self.drops: dict[str, str] = {}

    def _marker(self, summary: str, dropped: str) -> str:
        text, key = make_marker(summary, dropped)
        self.drops[key] = dropped
        return text

    def _select(self, texts: list[str]) -> list[bool]:
        """Which of `texts` (serialised siblings) to keep."""
        n = len(texts)
        keep = [False] * n
        for i in range(min(HEAD_ITEMS, n)):
            keep[i] = True
        for i in range(max(0, n - TAIL_ITEMS), n):
            keep[i] = True
        for i, t in enumerate(texts):
            if has_marker(t):
                keep[i] = True  # an earlier marker is content the model has already been shown
        if not self.query:
            return keep
        hits = [(self.query.strong_hits(t), self.query.word_hits(t)) for t in texts]
        df: dict[tuple[bool, str], int] = {}
        for strong, words in hits:
            for s in strong:
                df[(True, s)] = df.get((True, s), 0) + 1
            for w in words:
                df[(False, w)] = df.get((False, w), 0) + 1
        limit = max(1, int(MATCH_MAX_FRACTION * n))
        weight = {t: (3.0 if t[0] else 1.0) * math.log(1 + n / c) for t, c in df.items() if c <= limit}
        scores = [
            sum(weight.get((True, s), 0.0) for s in strong) + sum(weight.get((False, w), 0.0) for w in words)
            for strong, words in hits
        ]
        best = max(scores, default=0.0)
        if best <= 0:
            return keep
        chosen = {i for i in range(n) if scores[i] >= RELATIVE_SCORE * best}
        # A question often asks several things: every informative term keeps its own best items, so
        # one strongly matched part of the question cannot crowd out the others.
        for term in weight:
            holders = [i for i, (strong, words) in enumerate(hits) if term[1] in (strong if term[0] else words)]
            holders.sort(key=lambda i: (-scores[i], i))
            chosen.update(holders[:PER_TERM_ITEMS])
        for i in sorted(chosen, key=lambda i: (-scores[i], i))[:MAX_MATCHED_ITEMS]:
            keep[i] = True
        return keep

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return self.array(v)
        if isinstance(v, dict):
            if _is_map(v):
                return self.map(v)
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, str) and v.count("\n") >= LONG_STRING_LINES:
            return self.string(v)
        return v

    def array(self, items: list) -> list:
        if len(items) < MIN_ITEMS:
            return [self.value(x) for x in items]
        keep = self._select([_dumps(x) for x in items])
        objects = all(isinstance(x, dict) for x in items)
        out: list = []
        i = 0
        n = len(items)
        while i < n:
            if keep[i]:
                out.append(self.value(items[i]))
                i += 1
                continue
            j = i
            while j < n and not keep[j]:
                j += 1
            run = items[i:j]
            noun = "item" if j - i == 1 else "items"
            rng = f"item {i + 1}" if j - i == 1 else f"items {i + 1}-{j}"
            marker = self._marker(f"{j - i} {noun} omitted ({rng} of {n})", _dumps(run))
            out.append({JSON_MARKER_FIELD: marker} if objects else marker)
            i = j
        return out

    def map(self, obj: dict) -> dict:
        keys = list(obj)
        keep = self._select([_dumps({k: obj[k]}) for k in keys])
        if all(keep):
            return {k: self.value(x) for k, x in obj.items()}
        dropped = {k: obj[k] for k, kept in zip(keys, keep) if not kept}
        first, last = next(iter(dropped)), next(reversed(dropped))
        summary = f"{len(dropped)} of {len(keys)} entries omitted ({_short(first)} ... {_short(last)})"
        marker = self._marker(summary, _dumps(dropped))
        out: dict = {}
        placed = False
        for k, kept in zip(keys, keep):
            if kept:
                out[k] = self.value(obj[k])
            elif not placed:
                # One entry where the first dropped one was; a real "_headroom" key is never overwritten.
                out[JSON_MARKER_FIELD if JSON_MARKER_FIELD not in obj else JSON_MARKER_FIELD + "_"] = marker
                placed = True
        return out

    def string(self, s: str) -> str:
        lines = s.split("\n")
        keep = [i < STRING_HEAD_LINES for i in range(len(lines))]
        if self.query:
            for i, ln in enumerate(lines):
                if self.query.strong_hits(ln):
                    keep[i] = True
        token = LINE_OFFSET.set(0)  # line numbers inside a string are the string's own
        try:
            text, drops = fold(lines, keep, lambda i, j: lines_summary(i, j))
        finally:
            LINE_OFFSET.reset(token)
        self.drops.update(drops)
        return text


def _short(key: str) -> str:
    return repr(key if len(key) <= 30 else key[:27] + "...")


def _is_map(obj: dict) -> bool:
    if len(obj) < MAP_MIN_KEYS:
        return False
    kinds = {type(v) for v in obj.values()}
    return len(kinds) == 1


def compress_json(text: str, ctx: Context) -> Compressed:
    """Raises ValueError if `text` is not a JSON document (RecursionError if nested beyond the stack)."""
    value = parse_json(text)
    shrinker = _Shrinker(parse_query(ctx.query))
    out = _dumps(shrinker.value(value))
    return Compressed(out, "json", "json", shrinker.drops)
