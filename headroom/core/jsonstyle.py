"""Writing a changed body back in the client's own JSON style, so that everything outside what Headroom
changed leaves byte-identical.

A request body is parsed, its tool outputs changed, and the body written again. What comes out must be
what the client sent except where Headroom changed it: the same separators, the same escaping, the same
numbers. `detect` finds the style that writes the client's own bytes back from its parsed body: Node's
JSON.stringify, Rust's serde_json and httpx (the OpenAI and Anthropic Python SDKs) write compact JSON with
non-ASCII as is; Python's `json.dumps` defaults write ", " and ": " and escape non-ASCII; both pretty-print
alike (`JSON.stringify(body, null, 2)`, `json.dumps(body, indent=2)`). A body that no
style writes back exactly is one the parse changed (duplicate keys collapsed, `1e400` read as infinity,
`1.0E2` as 100.0, a BOM or UTF-16, escapes or layout the style would not write): it is refused, and
the caller forwards the original bytes untouched.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["COMPACT", "PYTHON", "JsonStyle", "detect", "dumps"]

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class JsonStyle:
    item_sep: str
    key_sep: str
    ascii: bool  # non-ASCII written as \\uXXXX escapes
    indent: str | None = None  # pretty-printed: JSON.stringify(body, null, 2) and json.dumps(indent=2) alike
    lead: bytes = b""  # whitespace before the value (rare) and after it (`curl -d @file` keeps a newline)
    trail: bytes = b""


COMPACT = JsonStyle(",", ":", ascii=False)  # JSON.stringify, serde_json, httpx >= 0.28
PYTHON = JsonStyle(", ", ": ", ascii=True)  # json.dumps with its defaults (requests, older httpx)


def _escape_surrogate(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def dumps(body: Any, style: JsonStyle = COMPACT) -> bytes:
    """`body` as UTF-8 JSON in `style`. A lone surrogate (a string cut mid-emoji by a JavaScript client) is
    written as its \\uXXXX escape, as JSON.stringify writes it, never as invalid UTF-8."""
    text = json.dumps(body, ensure_ascii=style.ascii, separators=(style.item_sep, style.key_sep),
                      indent=style.indent)
    if not style.ascii:
        text = _SURROGATE.sub(_escape_surrogate, text)
    return style.lead + text.encode("utf-8") + style.trail


_WS = b" \t\r\n"


def detect(data: bytes, body: Any) -> JsonStyle | None:
    """The style that writes `body` (parsed from `data`) back as exactly `data`, or None when none does.

    One `dumps` and a comparison, two when the separators guessed from the first bytes were wrong: the
    escaping follows from the bytes (any byte over 0x7f: written as is; none: escaped or ASCII only, which
    both escaping styles write alike)."""
    core = data.strip(_WS)
    if not core:
        return None
    start = data.index(core[:1])
    lead, trail = data[:start], data[start + len(core):]
    wide = not core.isascii()
    if core[1:2] == b"\n":  # pretty-printed: the second line's indentation is one level
        line = core[2:core.find(b"\n", 2)] if core.find(b"\n", 2) > 0 else core[2:]
        indent = line[:len(line) - len(line.lstrip(b" \t"))].decode("ascii")
        style = JsonStyle(",", ": ", ascii=not wide, indent=indent, lead=lead, trail=trail)
        return style if indent and dumps(body, style) == data else None
    spaced = b'": ' in core[:4096] or b'", "' in core[:4096]
    for sep in ((", ", ": "), (",", ":")) if spaced else ((",", ":"), (", ", ": ")):
        style = JsonStyle(sep[0], sep[1], ascii=not wide, lead=lead, trail=trail)
        if dumps(body, style) == data:
            return style
    return None
