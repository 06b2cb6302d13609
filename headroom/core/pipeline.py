"""The one entry point the proxy calls per request: compress the tool outputs of a parsed body.

Pure and sans-IO: a dict in, a new dict out (the input is never mutated; unchanged parts are shared).
Each tool output (a "unit", found by the provider module) goes through core.compressors.compress_text
with the user's text that preceded it as the query, so the result depends only on the conversation up
to that point (invariant 3). A result is kept only if it is non-empty and has fewer tokens. Results are
cached, so the tool outputs an agent resends every turn are compressed once.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping

from headroom.core import tokens
from headroom.core.compressors import Context, compress_text
from headroom.core.markers import RETRIEVE_TOOL_NAME
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
    body: dict  # a new dict; shares unchanged parts with the input
    changed: bool
    units: tuple[UnitReport, ...] = ()
    drops: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tokens_before: int = 0  # tokens of tool outputs only
    tokens_after: int = 0


def find_units(provider: str, body: dict) -> list[Unit]:
    return get_provider(provider).find_units(body)


def _set_path(root: dict, path: tuple, value: Any, copied: set[int]) -> dict:
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
        self._items: OrderedDict[tuple, tuple[_Done, int]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> _Done | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: tuple, done: _Done) -> None:
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


def _compress_unit(text: str, ctx: Context) -> _Done:
    # The compressor itself is part of the key: a different compressor must never get another's result.
    key = (compress_text, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), ctx)
    done = _CACHE.get(key)
    if done is None:
        before = tokens.count(text, ctx.encoding)
        result = compress_text(text, replace(ctx, tokens=before))  # counted once, not again inside
        after = tokens.count(result.text, ctx.encoding) if result.text != text else before
        done = _Done(result.text, result.content_type, result.compressor, MappingProxyType(dict(result.drops)),
                     before, after)
        _CACHE.put(key, done)
    return done


def compress_body(provider: str, body: dict, *, model: str | None = None, deadline: float | None = None,
                  path: str = "") -> Outcome:
    """Compress every tool output of `body` (a parsed request of `provider`).

    `deadline` is a time.monotonic() value: past it, DeadlineExceeded is raised between units.
    `path` is the request path (Gemini names the model there).
    """
    mod = get_provider(provider)
    encoding = tokens.encoding_for_model(model or mod.model_of(body, path))
    units = mod.find_units(body)
    reports: list[UnitReport] = []
    drops: dict[str, str] = {}
    new_body = body
    copied: set[int] = set()
    before_total = after_total = 0
    for unit in units:
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
                      tool_args=unit.tool_args)
        done = _compress_unit(unit.text, ctx)
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
    )
