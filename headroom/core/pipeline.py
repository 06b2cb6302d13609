"""The one entry point the proxy calls per request: compress the tool outputs of a parsed body.

Pure and sans-IO: a dict in, a new dict out (the input is never mutated; unchanged parts are shared).
Each tool output (a "unit", found by the provider module) goes through core.compressors.compress_text
with the user's text that preceded it as the query, so the result depends only on the conversation up
to that point (invariant 3). A result is kept only if it is non-empty and has fewer tokens.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from headroom.core import tokens
from headroom.core.compressors import Context, compress_text
from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.providers import Unit, get_provider

__all__ = ["DeadlineExceeded", "Outcome", "UnitReport", "compress_body", "find_units"]


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
        before = tokens.count(unit.text, encoding)
        before_total += before
        if unit.tool_name == RETRIEVE_TOOL_NAME:
            # What headroom_retrieve returned is the original the model asked for: never shrink it again.
            reports.append(UnitReport(unit.location, unit.tool_name, "text", "none", before, before,
                                      (time.perf_counter() - t0) * 1000, "retrieval output"))
            after_total += before
            continue
        ctx = Context(query=unit.query, tool_name=unit.tool_name, encoding=encoding, is_error=unit.is_error)
        result = compress_text(unit.text, ctx)
        after = tokens.count(result.text, encoding) if result.text != unit.text else before
        value: Any = result.text
        note = ""
        if result.text == unit.text:
            note = "unchanged"
        elif not result.text.strip():
            note = "empty result refused"  # providers reject empty tool content
        elif after >= before:
            note = "no gain"
        elif unit.decode is not None and (value := unit.decode(result.text)) is None:
            note = "result not a valid object"
        if note:
            after = before
        else:
            new_body = _set_path(new_body, unit.path, value, copied)
            drops.update(result.drops)
        after_total += after
        reports.append(UnitReport(unit.location, unit.tool_name, result.content_type, result.compressor,
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
