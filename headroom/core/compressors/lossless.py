"""Lossless compaction: pretty-printed JSON re-serialised compactly, runs of identical lines folded."""
from __future__ import annotations

import json
import re

from headroom.core.compressors.base import Compressed, Context

__all__ = ["compact_json", "fold_repeats", "lossless"]

MIN_FOLD_RUN = 3  # two identical lines cost less than one line plus a count
_FOLD_RE = re.compile(r"^(?P<line>.*) \[repeated (?P<n>\d+)x\]$")


def compact_json(text: str) -> str | None:
    """`text` re-serialised without insignificant whitespace, or None if it is not pretty JSON.

    Only for a document that parses and re-parses to the same value: key order and non-ASCII are kept.
    """
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{" or "\n" not in stripped and ": " not in stripped:
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        return None
    try:
        out = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        return None
    return out if len(out) < len(text) else None


def fold_repeats(text: str) -> str:
    """Every run of MIN_FOLD_RUN or more identical lines as one line with a count."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1] == lines[i]:
            j += 1
        n = j - i + 1
        if n >= MIN_FOLD_RUN and lines[i].strip():
            out.append(f"{lines[i]} [repeated {n}x]")
        else:
            out.extend(lines[i : j + 1])
        i = j + 1
    return "\n".join(out)


def lossless(text: str, ctx: Context) -> Compressed:
    """A function of the text alone (`ctx` is the compressors' common signature): remembered by it."""
    from headroom.core.memo import MEMO

    return MEMO.get(lossless, text, lambda: _lossless(text))


def _lossless(text: str) -> Compressed:
    compact = compact_json(text)
    if compact is not None:
        return Compressed(compact, "json", "lossless")
    folded = fold_repeats(text)
    return Compressed(folded, "text", "lossless")
