"""THE marker grammar and retrieval key: one of each, used by every compressor, the store and the proxy.

A marker stands where a compressor dropped a run of content. It says what was dropped and carries the
key under which the dropped content is kept in the local store, so the model can ask for it back with
the injected `headroom_retrieve` tool:

    [headroom: lines 12-1191 omitted: 1180 INFO; key=04587734918162531065]

The marker does not repeat the tool's name: wherever a marker reaches the model, the tool is in the request
and its description says what a marker's key is for. The key is 64 bits written in 20 decimal digits: a
tokenizer reads digits three to a token (7 tokens) where 16 hex digits cost 9 on average (up to 15).
64 bits because the store (HEADROOM_CCR_MAX_MB, 512 MB by default) can hold millions of runs: with
N = 2.7 million runs of 200 bytes, two keys collide with probability about N^2 / 2^65 = 2e-7; with 48 bits
it would be 1.3%. A marker of the earlier grammar (`; headroom_retrieve key=<16 hex digits>`, in a
conversation that began before an upgrade) still parses, and its key still names what the store holds.

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
    "KEY_DIGITS",
    "KEY_HEX_CHARS",
    "KEY_RE",
    "JSON_MARKER_FIELD",
    "MARKER_RE",
    "RETRIEVE_TOOL_NAME",
    "Marker",
    "find_markers",
    "format_marker",
    "has_marker",
    "key_for",
    "make_marker",
]

RETRIEVE_TOOL_NAME = "headroom_retrieve"
KEY_DIGITS = 20  # a key: 64 bits in decimal, zero-padded (see the module's comment for the collision bound)
KEY_HEX_CHARS = 16  # a key of the earlier grammar, still read
# A key as it appears in a marker or a call: the 20 digits first, as 16 of them would also read as hex.
KEY_RE = r"(?:[0-9]{%d}|[0-9a-f]{%d})" % (KEY_DIGITS, KEY_HEX_CHARS)
JSON_MARKER_FIELD = "_headroom"
# A summary is cut at this many characters: room for a search marker naming every definition it folds
# (forty names), a bound on what any marker costs (~250 tokens). Earlier markers (400 at most) still read.
SUMMARY_MAX_CHARS = 1000
_KEY_DOMAIN = b"headroom-drop-v1\0"  # versioned, so a future grammar never collides with old keys

MARKER_RE = re.compile(
    r"\[headroom: (?P<summary>[^\[\]\n]{1," + str(SUMMARY_MAX_CHARS) + r"}); (?:" + RETRIEVE_TOOL_NAME
    + r" )?key=(?P<key>" + KEY_RE + r")\]"
)
_UNSAFE_SUMMARY = re.compile(r"[\[\]\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


@dataclass(frozen=True)
class Marker:
    key: str
    summary: str
    start: int  # offset of the marker in the text it was found in
    end: int


def key_for(dropped: str) -> str:
    """The retrieval key of a run of dropped text: the first 64 bits of its SHA-256, in 20 decimal digits."""
    digest = hashlib.sha256(_KEY_DOMAIN + dropped.encode("utf-8", "surrogatepass")).digest()
    return f"{int.from_bytes(digest[:8], 'big'):0{KEY_DIGITS}d}"


def make_marker(summary: str, dropped: str) -> tuple[str, str]:
    """(marker text, key) for `dropped`, described by `summary` (e.g. "lines 12-1191 omitted: 1180 INFO").

    Brackets and newlines in the summary become parentheses and spaces, so a marker is always one line
    and always parses back.
    """
    key = key_for(dropped)
    return format_marker(summary, key), key


def format_marker(summary: str, key: str) -> str:
    """The marker text of `key` with `summary`, cleaned as make_marker does: a new summary for a marker
    whose drop (and so key) stays, e.g. a claim moved from one marker of an output to another."""
    clean = _UNSAFE_SUMMARY.sub(lambda m: {"[": "(", "]": ")"}.get(m.group(), " "), summary).strip()[:SUMMARY_MAX_CHARS]
    clean = clean.replace(RETRIEVE_TOOL_NAME, "retrieve") or "content omitted"
    return f"[headroom: {clean}; key={key}]"


def find_markers(text: str) -> list[Marker]:
    """Every marker in `text`, in order."""
    return [Marker(m.group("key"), m.group("summary"), m.start(), m.end()) for m in MARKER_RE.finditer(text)]


def has_marker(text: str) -> bool:
    return MARKER_RE.search(text) is not None
