"""THE marker grammar and retrieval key: one of each, used by every compressor, the store and the proxy.

A marker stands where a compressor dropped a run of content. It says what was dropped and carries the
key under which the dropped content is kept in the local store, so the model can ask for it back with
the injected `headroom_retrieve` tool:

    [headroom: 1180 lines omitted (lines 12-1191: 1180 INFO); headroom_retrieve key=3fa9c0e1d2b4a6f8]

In JSON a dropped run of array items becomes one item: the marker string itself in an array of scalars,
or `{"_headroom": "<marker>"}` in an array of objects, so the document stays valid JSON.

The key is derived from the dropped text alone, so the same drop always yields the same marker (prefix
stability), and the store holds exactly what the marker's key names.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = [
    "KEY_HEX_CHARS",
    "JSON_MARKER_FIELD",
    "MARKER_RE",
    "RETRIEVE_TOOL_NAME",
    "Marker",
    "find_markers",
    "has_marker",
    "key_for",
    "make_marker",
]

RETRIEVE_TOOL_NAME = "headroom_retrieve"
# 64 bits: collisions are irrelevant at the scale of one user's store, and each hex char costs tokens.
KEY_HEX_CHARS = 16
JSON_MARKER_FIELD = "_headroom"
_KEY_DOMAIN = b"headroom-drop-v1\0"  # versioned, so a future grammar never collides with old keys

MARKER_RE = re.compile(
    r"\[headroom: (?P<summary>[^\[\]\n]{1,400}); " + RETRIEVE_TOOL_NAME + r" key=(?P<key>[0-9a-f]{16})\]"
)
_UNSAFE_SUMMARY = re.compile(r"[\[\]\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


@dataclass(frozen=True)
class Marker:
    key: str
    summary: str
    start: int  # offset of the marker in the text it was found in
    end: int


def key_for(dropped: str) -> str:
    """The retrieval key of a run of dropped text: a truncated SHA-256 of the text alone."""
    return hashlib.sha256(_KEY_DOMAIN + dropped.encode("utf-8", "surrogatepass")).hexdigest()[:KEY_HEX_CHARS]


def make_marker(summary: str, dropped: str) -> tuple[str, str]:
    """(marker text, key) for `dropped`, described by `summary` (e.g. "1180 lines omitted (lines 12-1191)").

    Brackets and newlines in the summary become parentheses and spaces, so a marker is always one line
    and always parses back.
    """
    key = key_for(dropped)
    clean = _UNSAFE_SUMMARY.sub(lambda m: {"[": "(", "]": ")"}.get(m.group(), " "), summary).strip()[:400]
    clean = clean.replace(RETRIEVE_TOOL_NAME, "retrieve") or "content omitted"
    return f"[headroom: {clean}; {RETRIEVE_TOOL_NAME} key={key}]", key


def find_markers(text: str) -> list[Marker]:
    """Every marker in `text`, in order."""
    return [Marker(m.group("key"), m.group("summary"), m.start(), m.end()) for m in MARKER_RE.finditer(text)]


def has_marker(text: str) -> bool:
    return MARKER_RE.search(text) is not None
