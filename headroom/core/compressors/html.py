"""HTML: scripts, styles, inline SVG, comments and embedded data dropped line-wise; the text and markup kept."""
from __future__ import annotations

import re

from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.runs import fold, lines_summary

__all__ = ["compress_html", "looks_like_html"]

_OPEN = re.compile(r"<(script|style|svg|noscript)\b|<!--", re.I)
_CLOSE = {"script": "</script", "style": "</style", "svg": "</svg", "noscript": "</noscript", "!--": "-->"}
LONG_LINE = 2000  # a line this long inside HTML is embedded data (base64, JSON state), not text


def looks_like_html(stripped: str) -> bool:
    head = stripped[:2000].lower()
    return head.startswith(("<!doctype html", "<html")) or head.count("</div>") + head.count("</p>") >= 5


def compress_html(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    keep = [True] * len(lines)
    closing: str | None = None
    kinds: list[str] = [""] * len(lines)
    for i, ln in enumerate(lines):
        low = ln.lower()
        if closing is None:
            m = _OPEN.search(low)
            if m and m.start() == len(low) - len(low.lstrip()):
                closing = _CLOSE[(m.group(1) or "!--").lower()]
                kinds[i] = (m.group(1) or "comment").lower()
                # The opening line stays when the block ends on it (a one-line <script src=...>).
                keep[i] = closing in low[m.end():]
                if keep[i]:
                    closing = None
                continue
            if len(ln) > LONG_LINE:
                keep[i] = False
                kinds[i] = "data"
        else:
            keep[i] = False
            if closing in low:
                closing = None

    def describe(i: int, j: int) -> str:
        what = sorted({k for k in kinds[i:j] if k})
        return lines_summary(i, j, "/".join(what))

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "html", "html", drops)
