"""The one entry point the proxy calls per request: compress the tool outputs of a parsed body.

Pure and sans-IO: a dict in, a new dict out (the input is never mutated; unchanged parts are shared).
Each tool output (a "unit", found by the provider module) goes through core.compressors.compress_text
with the user's text that preceded it as the query, so the result depends only on the conversation up
to that point (invariant 3). A result is kept only if it is non-empty and has fewer tokens. Results are
cached, so the tool outputs an agent resends every turn are compressed once; the cache is keyed by every
setting a result depends on (the token floor it was given, whether the relevance model is on).
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping

from headroom.core import relevance, tokens
from headroom.core.compressors import MIN_TOKENS, Context, compress_text, facets, views
from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.memo import MEMO
from headroom.core.providers import Unit, get_provider

__all__ = ["DeadlineExceeded", "Outcome", "UnitReport", "clear_cache", "compress_body", "find_units"]


class DeadlineExceeded(Exception):
    """The time budget ran out; the caller forwards the original request."""


@dataclass(frozen=True)
class UnitReport:
    location: str  # e.g. "messages[3].content"
    tool_name: str | None
    content_type: str
    compressor: str
    tokens_before: int
    tokens_after: int
    ms: float
    note: str = ""  # why a unit was left as it was ("no gain", "retrieval output", ...)


@dataclass(frozen=True)
class Outcome:
    body: dict[str, Any]  # a new dict; shares unchanged parts with the input
    changed: bool
    units: tuple[UnitReport, ...] = ()
    drops: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tokens_before: int = 0  # tokens of tool outputs only
    tokens_after: int = 0
    # Earlier tool outputs re-expanded because the newest question names what they dropped: each changes an
    # earlier message (one prompt-cache miss). Stable ids (output + question), so a caller can count each
    # once although the conversation's later requests carry the same question and the same re-expansion.
    reexpansions: tuple[str, ...] = ()

    @property
    def reexpanded(self) -> int:
        return len(self.reexpansions)


def find_units(provider: str, body: dict[str, Any]) -> list[Unit]:
    return get_provider(provider).find_units(body)


def _set_path(root: dict[str, Any], path: tuple[Any, ...], value: Any, copied: set[int]) -> dict[str, Any]:
    """Write `value` at `path`, copying each container on the way once (copy-on-write)."""
    if id(root) not in copied:
        root = dict(root)
        copied.add(id(root))
    node: Any = root
    for key in path[:-1]:
        child = node[key]
        if id(child) not in copied:
            child = dict(child) if isinstance(child, dict) else list(child)
            copied.add(id(child))
            node[key] = child
        node = child
    node[path[-1]] = value
    return root


@dataclass(frozen=True)
class _Done:
    """One tool output's compression, as cached: the result and both token counts."""

    text: str
    content_type: str
    compressor: str
    drops: Mapping[str, str]
    before: int
    after: int


class _ResultCache:
    """Least-recently-used results by (compressor, text digest, context).

    An agent resends its whole conversation every turn, so without this every earlier tool output is
    compressed again on every request: work that grows with the session. Compressors are deterministic
    (same text and context, same result), so a cached result is exactly what recomputing would give.
    """

    def __init__(self, max_entries: int, max_chars: int):
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._items: OrderedDict[tuple[Any, ...], tuple[_Done, int]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> _Done | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: tuple[Any, ...], done: _Done) -> None:
        size = len(done.text) + sum(len(v) for v in done.drops.values())
        if size > self.max_chars // 8:
            return  # one huge output would flush everything else
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._chars -= old[1]
            self._items[key] = (done, size)
            self._chars += size
            while self._items and (len(self._items) > self.max_entries or self._chars > self.max_chars):
                _, (_, dropped_size) = self._items.popitem(last=False)
                self._chars -= dropped_size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._chars = 0


# A few hundred sessions' worth of tool outputs; tens of MB at most.
_CACHE = _ResultCache(max_entries=4096, max_chars=16 * 1024 * 1024)


def clear_cache() -> None:
    """Forget every cached result (tests; or after swapping compressors at run time)."""
    _CACHE.clear()
    MEMO.clear()
    with _REEXPANDED_LOCK:
        _REEXPANDED.clear()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _settings_key(floor: int) -> tuple[Any, ...]:
    """The settings a compression result depends on besides its text and context, for the caches' keys."""
    return (floor, relevance.enabled())


def _sibling_tokens(units: list[Unit], encoding: str) -> dict[int, int]:
    """For each unit that is one item of a tool output of several (Codex's Code Mode answers with a list of
    text items: a long output's head, its note, its tail), the tokens of the output's other items: what
    the model reads with it, by which "read whole under a size" is judged (Context.rest_tokens)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for k, unit in enumerate(units):
        if len(unit.path) >= 2 and isinstance(unit.path[-2], int) and unit.tool_name != RETRIEVE_TOOL_NAME:
            groups.setdefault((unit.path[:-2], unit.path[-1]), []).append(k)
    out: dict[int, int] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        counts = {k: tokens.count(units[k].text, encoding) for k in members}
        total = sum(counts.values())
        out.update({k: total - counts[k] for k in members})
    return out


def _compress_unit(text: str, ctx: Context, digest: bytes | None = None, floor: int = MIN_TOKENS) -> _Done:
    """`digest` is `_digest(text)` when the caller has it already (it hashes each output once a request)."""
    # The compressor itself is part of the key: a different compressor must never get another's result.
    key = (compress_text, digest or _digest(text), ctx, _settings_key(floor))
    done = _CACHE.get(key)
    if done is None:
        before = tokens.count(text, ctx.encoding)
        result = compress_text(text, replace(ctx, tokens=before), floor)  # counted once, not again inside
        after = tokens.count(result.text, ctx.encoding) if result.text != text else before
        done = _Done(result.text, result.content_type, result.compressor, MappingProxyType(dict(result.drops)),
                     before, after)
        _CACHE.put(key, done)
    return done


# A named run is put back whole when compressing again for the later question did not keep it, up to this
# size (about a function's body); a larger one stays behind its marker, which names what it holds (the model
# fetches it if it must): one name on one line of a 300-line run is not worth the whole run.
RESTORE_MAX_LINES = 60
RESTORE_MAX_SHARE = 0.25
_NAME_MIN_CHARS = 3


# A plain word of a later question names something when it picks out a few lines of the output (a package,
# a host, a test): at most this share of its lines, and never more than NAME_MAX_OCCURRENCES.
NAME_MAX_SHARE = 0.03
NAME_MAX_OCCURRENCES = 40
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]")


def _named_terms(question: str, text: str) -> list[str]:
    """What a later question names in `text` (lower-case): its identifiers, paths, numbers and quoted
    strings, the last part of a qualified name (`Client.send` names `send` too), and its plain words that
    occur in only a few places of `text`."""
    from headroom.core.compressors.query import STOPWORDS, parse_query, stem

    asked = parse_query(question)
    out: list[str] = []
    for term in asked.strong:
        if len(term) >= _NAME_MIN_CHARS:
            out.append(term)
        last = re.split(r"[.:/#]+", term)[-1]
        if last != term and len(last) > _NAME_MIN_CHARS and not last.isdigit():
            out.append(last)
    low = text.lower()
    limit = min(NAME_MAX_OCCURRENCES, max(3, int(NAME_MAX_SHARE * (low.count("\n") + 1))))
    # The question model's filter words (no noise, no part of "over 3000 KB"), negated ones too: "not
    # callable" names the check that says callable.
    content = set(asked.words) | set(asked.negated)
    for word in _WORD.findall(question):
        w = word.lower()
        if (len(w) > _NAME_MIN_CHARS and w not in STOPWORDS and stem(w) in content and w not in out
                and 0 < low.count(w) <= limit):
            out.append(w)
    return list(dict.fromkeys(out))


# What a marker says its run is (core/compressors/code.py, search.py): "body of HeaderTable.add", "docstring of
# Foo", "value of TABLE", "defining get, __getitem__". The run itself need not hold the name (a body does not
# hold its own `def` line).
_MARKER_NAMES = re.compile(r"\b(?:body|value|docstring) of (?P<one>[A-Za-z_][\w.]*)"
                           r"|\b(?:defining|definitions, signatures and bodies:) (?P<list>[A-Za-z_][\w.]*(?:, [A-Za-z_][\w.]*)*)")


_DEFINED_WORD = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


def _marker_names(text: str) -> dict[str, set[str]]:
    """For each marker of `text`, the names its summary gives what it holds (lower-case)."""
    from headroom.core.markers import find_markers

    out: dict[str, set[str]] = {}
    for marker in find_markers(text):
        names: set[str] = set()
        for m in _MARKER_NAMES.finditer(marker.summary):
            if m.group("one"):
                names.add(m.group("one").rstrip(".").lower())
            else:
                names.update(x.lower() for x in m.group("list").split(", "))
        if names:
            out[marker.key] = names
    return out


def _names(term: str, names: set[str]) -> bool:
    """`term` (a later question's) is one of `names` or a qualified form of one: `HeaderTable.add` and
    `add` name each other when one is the other's last part."""
    return any(term == n or n.endswith("." + term) or term.endswith("." + n) for n in names)


def _hits(term: str, text: str) -> bool:
    """`term` in `text` as a whole name or a whole part of one (`ansi` in `_strip_ansi` and `stripAnsi`, not
    in `transient`), case-insensitively."""
    for m in re.finditer(re.escape(term), text, re.I):
        before = text[m.start() - 1] if m.start() else " "
        after = text[m.end()] if m.end() < len(text) else " "
        starts = not before.isalnum() or (before.islower() and m.group()[0].isupper())
        ends = not after.isalnum() or (after.isupper() and m.group()[-1].islower())
        if starts and ends:
            return True
    return False


def _reexpand(unit: Unit, ctx: Context, done: _Done, digest: bytes, floor: int) -> tuple[_Done, str | None]:
    """`done` again for each later question that names something it dropped: compressed for both
    questions, and any named run the compressor still folds put back whole (up to RESTORE_MAX_LINES).
    Returns the result and the last question that changed it (None: unchanged)."""
    from headroom.core.compressors.query import parse_query

    by = None
    query = ctx.query
    for later in unit.later:
        dropped = "\n".join(done.drops.values())
        low = dropped.lower()
        by_marker = _marker_names(done.text)
        named = [t for t in _named_terms(later, unit.text)
                 if (t in low and _hits(t, dropped)) or any(_names(t, ns) for ns in by_marker.values())]
        # A word of the question that is the name of a definition a marker lists ("what does send do?" over
        # "4 definitions, signatures and bodies: ..., Signal.send") names it, common word or not: asked by its
        # qualified name, the recompression keeps its body whole.
        words = {w.lower() for w in _DEFINED_WORD.findall(later) if len(w) >= _NAME_MIN_CHARS}
        defined = sorted({n for ns in by_marker.values() for n in ns if any(_names(w, {n}) for w in words)})
        named += [n for n in defined if n not in named]
        asked = parse_query(later)
        # A question that selects by value ("north of latitude 70", "the 3 largest", "not Running") may
        # select rows this output dropped, when it is about what this output holds (one of its words, a
        # column's name say, is in it): compressing again for it tells, and is cached like any result.
        # Without that test a "most recent" anywhere would recompress every earlier output at once.
        selects = bool(asked.conditions or asked.extremes or asked.negated or asked.ids) and bool(
            asked.word_hits(unit.text) or asked.id_hits(unit.text))
        if not named and not selects:
            continue
        combined = f"{query}\n{later}" if query else later
        if defined:
            combined += "\n" + " ".join(defined)
        again = _restore(_compress_unit(unit.text, replace(ctx, query=combined), digest, floor), named,
                         ctx.encoding)
        if again.text != done.text:
            done, by, query = again, later, combined
    return done, by


_REEXPANDED: OrderedDict[tuple[Any, ...], tuple[_Done, str | None]] = OrderedDict()
_REEXPANDED_MAX = 4096
_REEXPANDED_LOCK = threading.Lock()


def _reexpand_cached(unit: Unit, ctx: Context, done: _Done, digest: bytes,
                     floor: int) -> tuple[_Done, str | None]:
    """_reexpand, remembered by (output, context, later questions, settings): every request of a conversation
    asks again for each earlier output, and the answer changes only when a new question comes."""
    key = (digest, ctx, unit.later, _settings_key(floor))
    with _REEXPANDED_LOCK:
        hit = _REEXPANDED.get(key)
        if hit is not None:
            _REEXPANDED.move_to_end(key)
            return hit
    result = _reexpand(unit, ctx, done, digest, floor)
    with _REEXPANDED_LOCK:
        _REEXPANDED[key] = result
        while len(_REEXPANDED) > _REEXPANDED_MAX:
            _REEXPANDED.popitem(last=False)
    return result


def _restore(done: _Done, named: list[str], encoding: str) -> _Done:
    """`done` with each whole-line marker whose dropped run holds a named term replaced by that run."""
    from headroom.core.markers import MARKER_RE

    # A term found in many runs (a file name in every diagnostic of that file) names the output, not one
    # run of it: the recompression for the question already kept what it singles out.
    by_marker = _marker_names(done.text)
    holding = {t: [k for k, v in done.drops.items() if _hits(t, v) or _names(t, by_marker.get(k, set()))]
               for t in named}
    few = max(1, RESTORE_MAX_SHARE * len(done.drops))
    precise = [t for t, keys in holding.items() if len(keys) <= few]
    wanted = {k for t in precise for k in holding[t] if done.drops[k].count("\n") < RESTORE_MAX_LINES}
    # Terms that each name several runs may together name one: "what does curry raise when ... not
    # callable?" ('raise' in two bodies, 'callable' in three, both only in curry.__init__'s).
    held = {k: sum(1 for keys in holding.values() if k in keys) for k in done.drops}
    most = max(held.values(), default=0)
    if most >= 2:
        top = [k for k, c in held.items() if c == most]
        if len(top) <= few:
            wanted |= {k for k in top if done.drops[k].count("\n") < RESTORE_MAX_LINES}
    if not wanted:
        return done
    out = []
    drops = dict(done.drops)
    for line in done.text.split("\n"):
        m = MARKER_RE.search(line)
        if m is not None and m.group("key") in wanted and line.strip() == m.group(0):
            out.append(drops.pop(m.group("key")))
        else:
            out.append(line)
    text = "\n".join(out)
    if text == done.text:
        return done
    text = facets.keep_shared_claim(done.text, text)
    return _Done(text, done.content_type, done.compressor, MappingProxyType(drops), done.before,
                 tokens.count(text, encoding))


def compress_body(provider: str, body: dict[str, Any], *, model: str | None = None, deadline: float | None = None,
                  path: str = "", min_tokens: int = MIN_TOKENS) -> Outcome:
    """Compress every tool output of `body` (a parsed request of `provider`).

    `deadline` is a time.monotonic() value: past it, DeadlineExceeded is raised between units.
    `path` is the request path (Gemini names the model there). `min_tokens` is the floor under which a tool
    output is left as it is (HEADROOM_MIN_TOKENS).
    """
    mod = get_provider(provider)
    encoding = tokens.encoding_for_model(model or mod.model_of(body, path))
    units = mod.find_units(body)
    reports: list[UnitReport] = []
    drops: dict[str, str] = {}
    new_body = body
    copied: set[int] = set()
    before_total = after_total = 0
    reexpansions: list[str] = []
    folded: dict[str, list[tuple[int, int]]] = {}  # file -> line ranges its earlier views folded
    rest = _sibling_tokens(units, encoding)
    for n_unit, unit in enumerate(units):
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded(f"compression budget ran out after {len(reports)} of {len(units)} tool outputs")
        t0 = time.perf_counter()
        if unit.tool_name == RETRIEVE_TOOL_NAME:
            # What headroom_retrieve returned is the original the model asked for: never shrink it again.
            before = tokens.count(unit.text, encoding)
            before_total += before
            after_total += before
            reports.append(UnitReport(unit.location, unit.tool_name, "text", "none", before, before,
                                      (time.perf_counter() - t0) * 1000, "retrieval output"))
            continue
        ctx = Context(query=unit.query, tool_name=unit.tool_name, encoding=encoding, is_error=unit.is_error,
                      tool_args=unit.tool_args, rest_tokens=rest.get(n_unit, 0))
        viewed = views.viewed_file(ctx)
        if viewed is not None and viewed in folded:
            ctx = replace(ctx, folded_lines=tuple(folded[viewed]))
        digest = _digest(unit.text)
        done = _compress_unit(unit.text, ctx, digest, min_tokens)
        shown = done  # what the model saw of it when it made its next call (before any later question)
        reexpanded = False
        if done.drops and unit.later:
            done, by = _reexpand_cached(unit, ctx, done, digest, min_tokens)
            reexpanded = by is not None
            if by is not None and by == unit.later[-1]:
                reexpansions.append(hashlib.sha256(f"{unit.text}\0{by}".encode("utf-8", "surrogatepass"))
                                    .hexdigest()[:16])
        before, after = done.before, done.after
        value: Any = done.text
        note = ""
        if done.text == unit.text:
            note = "unchanged"
        elif not done.text.strip():
            note = "empty result refused"  # providers reject empty tool content
        elif after >= before:
            note = "no gain"
        elif unit.decode is not None and (value := unit.decode(done.text)) is None:
            note = "result not a valid object"
        if note:
            after = before
        else:
            new_body = _set_path(new_body, unit.path, value, copied)
            drops.update(done.drops)
            if viewed is not None and shown.drops:
                folded.setdefault(viewed, []).extend(views.folded_ranges(shown.text))
        if reexpanded:
            note = f"re-expanded for a later question{', ' + note if note else ''}"
        before_total += before
        after_total += after
        reports.append(UnitReport(unit.location, unit.tool_name, done.content_type, done.compressor,
                                  before, after, (time.perf_counter() - t0) * 1000, note))
    changed = new_body is not body
    return Outcome(
        body=new_body if changed else dict(body),
        changed=changed,
        units=tuple(reports),
        drops=MappingProxyType(drops),
        tokens_before=before_total,
        tokens_after=after_total,
        reexpansions=tuple(reexpansions),
    )
