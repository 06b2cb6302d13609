"""HTML: scripts, styles, inline SVG, comments and embedded data dropped line-wise; a documentation page
keeps its headings and the sections the question is about.

A page with headings (`<h1>`..`<h6>` starting lines) is cut into sections at them: every heading line is
kept (the outline), as are the lead (what precedes the second heading), the sections holding the
question's terms (the rarest terms weigh most) and each section's first line of text; the rest of a
section is dropped under a marker that names the section and counts the lines holding the question's
terms. A page without headings keeps all its text and markup.
"""
from __future__ import annotations

import re

import math

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.claims import counted_terms
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary

__all__ = ["compress_html", "looks_like_html"]

_OPEN = re.compile(r"<(script|style|svg|noscript)\b|<!--", re.I)
_CLOSE = {"script": "</script", "style": "</style", "svg": "</svg", "noscript": "</noscript", "!--": "-->"}
LONG_LINE = 2000  # a line this long inside HTML is embedded data (base64, JSON state), not text
MIN_HEADINGS = 3  # fewer headings are not an outline to cut along
MAX_ASKED_SECTIONS = 4  # sections kept whole for the question, best first
RELATIVE_SCORE = 0.4  # ... scoring at least this share of the best
NAME_CHARS = 60
_H = re.compile(r"^\s*(?:<(?!h[1-6]\b)[^>]*>\s*)*<h([1-6])\b", re.I)  # a heading, maybe after an anchor tag
_TAGS = re.compile(r"<[^>]*>")


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

    sections = [i for i, ln in enumerate(lines) if _H.match(ln)]
    names: dict[int, str] = {}
    terms: dict[str, set[int]] = {}
    if len(sections) >= MIN_HEADINGS:
        terms = _keep_sections(lines, keep, sections, names, ctx)
    counted = counted_terms(parse_query(ctx.query), lines) if terms else {}
    owner = [-1] * len(lines)
    cur = -1
    for i in range(len(lines)):
        if i in names:
            cur = i
        owner[i] = cur
    qtext = ctx.query or ""

    def describe(i: int, j: int) -> str:
        what = sorted({k for k in kinds[i:j] if k})
        parts = ["/".join(what)] if what else []
        inside = [names[k] for k in range(i, j) if k in names]
        if inside:
            parts.append("sections " + ", ".join(inside[:6]) + (f" and {len(inside) - 6} more" if len(inside) > 6 else ""))
        elif owner[i] >= 0 and not what:
            parts.append(f"rest of section {names[owner[i]]}")
        parts += facets.term_counts(counted, range(i, j), None, qtext)
        return lines_summary(i, j, ", ".join(parts), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "html", "html", drops)


def _text(line: str) -> str:
    return " ".join(_TAGS.sub(" ", line).replace("&nbsp;", " ").replace("¶", " ").split())


def _keep_sections(lines: list[str], keep: list[bool], sections: list[int], names: dict[int, str],
                   ctx: Context) -> dict[str, set[int]]:
    """Drop the bodies of the sections the question is not about (see the module docstring); returns
    the question's informative terms with the lines holding them."""
    for h in sections:
        names[h] = _text(lines[h])[:NAME_CHARS] or f"line {h + 1}"
    bounds = sections + [len(lines)]
    query = parse_query(ctx.query)
    plain = [_text(ln) for ln in lines]
    terms = facets.informative_terms(query, plain) if query else {}
    n = len(sections)
    scores = []
    for k in range(n):
        a, b = bounds[k], bounds[k + 1]
        found = {t for t, where in terms.items() if any(a <= i < b for i in where)}
        scores.append(sum(math.log(1 + len(lines) / len(terms[t])) for t in found))
    best = max(scores, default=0.0)
    asked = set(sorted((k for k in range(n) if best > 0 and scores[k] >= RELATIVE_SCORE * best),
                       key=lambda k: (-scores[k], k))[:MAX_ASKED_SECTIONS])
    for k in range(1, n):  # the lead (before the second heading) stays whole
        if k in asked:
            continue
        a, b = bounds[k], bounds[k + 1]
        first = next((i for i in range(a + 1, b) if plain[i]), b)
        for i in range(first + 1, b):
            if not _H.match(lines[i]):
                keep[i] = False
    return terms
