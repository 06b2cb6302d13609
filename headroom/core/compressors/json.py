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
import re
from typing import Any

from headroom.core import tokens
from headroom.core.compressors import facets, select
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import Query, parse_query
from headroom.core.compressors.runs import fold, lines_summary
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
# An aggregate question ("which accounts are suspended?") needs every matching item: items holding a
# question term found in at most this many items are all kept, and so are items carrying an error
# (an error field, a failed status) while there are at most this many of them. Beyond that the
# markers count how many of their items match.
QUERY_ALL_MAX = 40
SEVERE_ALL_MAX = 40
# Items holding a value few siblings share (select.rare_values: the one operator whose Degraded condition
# is "True", the one job whose conclusion is "failure") are all kept while there are at most this many;
# beyond that each marker counts the rare values it holds. Items the question selects by id, numeric
# condition, extreme or negation (select.select) are kept up to the same count.
ANOMALY_ALL_MAX = 40
SELECTED_ALL_MAX = 40
RARE_IN_MARKER = 2  # rare values named per marker
# A field with at most this many distinct short values (status, level, role, enabled) is described
# in each marker by its values' counts ("status: active x310, pending x20"), so "none of the dropped
# are suspended" is visible without retrieval.
FACET_MAX_VALUES = 8
FACET_MAX_FIELDS = 2
FACET_VALUE_CHARS = 24
_FACET_NAMES = ("status", "state", "level", "severity", "result", "outcome", "conclusion", "phase", "health",
                "type", "kind", "role", "category", "enabled", "active", "ok", "success")
_ERROR_KEY_WORDS = ("error", "exception", "fail", "fault", "traceback", "stacktrace")


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

    def _select(self, texts: list[str], severe: set[int] | None = None, by_value: bool = False) -> list[bool]:
        """Which of `texts` (serialised siblings) to keep; `severe`: indexes of items carrying an error.
        `by_value`: the question already selects items by their values (a negation, a condition, an
        extreme, an id): its plain words then do not select more ("which packages are not MIT
        licensed?" is answered by the license values, not by items that mention 'packages')."""
        n = len(texts)
        keep = [False] * n
        if severe and len(severe) <= SEVERE_ALL_MAX:
            for i in severe:
                keep[i] = True
        # Field names are not values: "0 mention 'errors'" of items with an `errorCount` field reads as "no errors".
        names = {k for t in texts for k in _KEY.findall(t)} if self.query else set()
        self._terms = facets.informative_terms(self.query, texts, names) if self.query else {}
        for term, where in self._terms.items():
            if facets.keep_all(where, n, QUERY_ALL_MAX) and not (by_value and term in self.query.words):
                for i in where:
                    keep[i] = True
        for i in range(min(HEAD_ITEMS, n)):
            keep[i] = True
        for i in range(max(0, n - TAIL_ITEMS), n):
            keep[i] = True
        for i, t in enumerate(texts):
            if has_marker(t):
                keep[i] = True  # an earlier marker is content the model has already been shown
        if not self.query:
            return keep
        hits = [(self.query.strong_hits(t), set() if by_value else self.query.word_hits(t)) for t in texts]
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
        severe = {i for i, x in enumerate(items) if _has_error(x)}
        sel, rare, chosen = self._by_values(items)
        names, name_field = self._names, self._name_field  # nested arrays set their own
        keep = self._select([_dumps(x) for x in items], severe, by_value=bool(sel))
        for i in chosen:
            keep[i] = True
        terms = self._terms
        fields = _facet_fields(items, self.query)
        objects = all(isinstance(x, dict) for x in items)
        kept = {k for k, v in enumerate(keep) if v}
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
            rng = f"item {i + 1}" if j - i == 1 else f"items {i + 1}-{j}"  # the range counts them
            what = ([f"{name_field} {_short(names[i])}" + (f" ... {_short(names[j - 1])}" if j - i > 1 else "")]
                    if names else [])
            what += (_facet_summary(fields, run) + _rare_summary(rare, range(i, j)) + sel.describe(range(i, j), kept)
                    + facets.term_counts(terms, range(i, j), severe, self.query.text))
            summary = f"{rng} of {n} omitted{' (' + '; '.join(what) + ')' if what else ''}"
            dropped = _dumps(run)
            if _costs_as_much(make_marker(summary, dropped)[0], dropped):
                out.extend(self.value(x) for x in run)  # a marker as long as the items only hides them
            else:
                marker = self._marker(summary, dropped)
                out.append({JSON_MARKER_FIELD: marker} if objects else marker)
            i = j
        return out

    def _by_values(self, items: list) -> tuple[select.Selection, dict[int, list[str]], set[int]]:
        """The items the question selects by field values and the items with rare values, and which of
        them to keep (each within its cap: beyond it, the markers count them). Sets `self._names`: the
        field naming each item, if there is one, by item index."""
        self._names: dict[int, str] = {}
        self._name_field = ""
        dicts = [i for i, x in enumerate(items) if isinstance(x, dict)]
        if len(dicts) < MIN_ITEMS or len(dicts) < 0.8 * len(items):
            return select.Selection(), {}, set()
        flat = [select.flatten(items[i]) for i in dicts]
        ident = select.identity_field(flat) if len(dicts) == len(items) else None
        chosen: set[int] = set()
        if ident:
            self._name_field = ident
            self._names = {dicts[k]: flat[k][ident] for k in range(len(dicts))}
            # The item the question names by its identity ("the installed requests" in `pip inspect`) is
            # kept even when its name is a common word of the other items' texts.
            asked = {t.lower() for t in _QUESTION_TOKEN.findall(self.query.text)} if self.query else set()
            chosen |= {i for i, name in self._names.items() if name.lower() in asked}
        found, odd = select.rare_values([], flat, self.query)
        rare = {dicts[k]: v for k, v in found.items()}
        if len(odd) <= ANOMALY_ALL_MAX:
            chosen |= {dicts[k] for k in odd}
        sel = select.select(flat, self.query) if self.query else select.Selection()
        sel = select.Selection({what: frozenset(dicts[k] for k in rows) for what, rows in sel.by.items()})
        for rows in sel.by.values():
            if len(rows) <= SELECTED_ALL_MAX:
                chosen |= rows
        return sel, rare, chosen

    def map(self, obj: dict) -> dict:
        keys = list(obj)
        values = list(obj.values())
        severe = {i for i, x in enumerate(values) if _has_error(x)}
        sel, rare, chosen = self._by_values(values)
        keep = self._select([_dumps({k: obj[k]}) for k in keys], severe, by_value=bool(sel))
        for i in chosen:
            keep[i] = True
        kept = {k for k, v in enumerate(keep) if v}
        if all(keep):
            return {k: self.value(x) for k, x in obj.items()}
        dropped = {k: obj[k] for k, kept in zip(keys, keep) if not kept}
        idx = [i for i, kept in enumerate(keep) if not kept]
        first, last = next(iter(dropped)), next(reversed(dropped))
        what = (_facet_summary(_facet_fields(values, self.query), [values[i] for i in idx]) + _rare_summary(rare, idx)
                + sel.describe(idx, kept) + facets.term_counts(self._terms, idx, severe, self.query.text))
        summary = f"{len(dropped)} of {len(keys)} entries omitted ({_short(first)} ... {_short(last)}" + (
            f"; {'; '.join(what)})" if what else ")")
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
        text, drops = fold(lines, keep, lambda i, j: lines_summary(i, j))  # the string's own line numbers
        self.drops.update(drops)
        return text


_QUESTION_TOKEN = re.compile(r"[\w@./:+-]*\w")
# A key in compact JSON: a string followed by a colon (a string value is followed by , ] or }).
_KEY = re.compile(r'"((?:[^"\\]|\\.){1,80})":')


def _has_error(item: Any) -> bool:
    """An item that reports a failure: a non-empty field named like an error (`error`, `exception`,
    `failure_reason`) or a short string field whose value says so (`"status": "failed"`)."""
    if not isinstance(item, dict):
        return isinstance(item, str) and len(item) <= 200 and facets.is_severe(item)
    for k, v in item.items():
        low = k.lower()
        if any(w in low for w in _ERROR_KEY_WORDS):
            if v not in (None, False, "", [], {}, 0) and not (isinstance(v, str) and v.lower() in ("none", "null", "ok")):
                return True
        elif isinstance(v, str) and len(v) <= 40 and facets.is_severe(v):
            return True
    return False


def _facet_value(v: Any) -> str | None:
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, str) and len(v) <= FACET_VALUE_CHARS and "\n" not in v:
        return v
    return None


def _facet_fields(items: list, query: Query) -> list[str]:
    """Top-level fields of the items with a few distinct short values: categories worth counting."""
    dicts = [x for x in items if isinstance(x, dict)]
    if len(dicts) < MIN_ITEMS or len(dicts) < 0.8 * len(items):
        return []
    seen: dict[str, set[str]] = {}
    present: dict[str, int] = {}
    dead: set[str] = set()
    for d in dicts:
        for k, v in d.items():
            if k in dead:
                continue
            fv = _facet_value(v)
            vals = seen.setdefault(k, set())
            if fv is None:
                dead.add(k)
                continue
            vals.add(fv)
            present[k] = present.get(k, 0) + 1
            if len(vals) > FACET_MAX_VALUES:
                dead.add(k)
    n = len(dicts)
    cands = [k for k, vals in seen.items()
             if k not in dead and present.get(k, 0) >= 0.8 * n and len(vals) > 1
             and len(vals) <= max(2, n // 4)]

    def rank(k: str) -> tuple:
        asked = bool(query) and bool(query.word_hits(k) or query.strong_hits(k) or any(
            query.word_hits(v) or query.strong_hits(v) for v in seen[k]))
        return (not asked, k.lower() not in _FACET_NAMES, len(seen[k]), k)

    return sorted(cands, key=rank)[:FACET_MAX_FIELDS]


def _facet_summary(fields: list[str], run: list) -> list[str]:
    """["status: active x310, pending x20"] for the dropped run `run`."""
    out = []
    for f in fields:
        c: dict[str, int] = {}
        for x in run:
            if isinstance(x, dict) and f in x:
                fv = _facet_value(x[f])
                if fv is not None:
                    c[fv] = c.get(fv, 0) + 1
        if c:
            out.append(f"{f}: " + ", ".join(f"{v} x{k}" for v, k in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))))
    return out


def _costs_as_much(marker: str, dropped: str) -> bool:
    """Would the marker cost at least as many tokens as the items it replaces? (Counted exactly only
    when the two are close: characters tell the rest apart.)"""
    if len(marker) + 20 < len(dropped) // 2:
        return False
    return len(marker) >= len(dropped) or tokens.count(marker) + 6 >= tokens.count(dropped)


def _rare_summary(rare: dict[int, list[str]], indexes) -> list[str]:
    """["rare values: conditions[type=Degraded].status=True x2"]: the odd values a dropped run holds."""
    c: dict[str, int] = {}
    for i in indexes:
        for v in dict.fromkeys(rare.get(i, ())):
            c[v] = c.get(v, 0) + 1
    if not c:
        return []
    top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:RARE_IN_MARKER]
    more = len(c) - len(top)
    return ["rare values: " + ", ".join(f"{v} x{k}" for v, k in top) + (f" and {more} more" if more else "")]


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
