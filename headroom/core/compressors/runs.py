"""Folding dropped runs of lines into markers: the one place that turns a keep-mask into text + drops."""
from __future__ import annotations

from typing import Callable, Sequence

from headroom.core import tokens
from headroom.core.markers import has_marker, make_marker

__all__ = ["MARKER_TOKENS", "MIN_DROP_CHARS", "OUTLINE_MAX_TOKENS", "fit_names", "fold", "lines_summary", "outline_over",
           "over_tokens"]

# A marker costs about 30 tokens (~110 characters); dropping less than that would make the text longer.
MIN_DROP_CHARS = 160
MARKER_TOKENS = 30
# An outline still this large (a module of hundreds of definitions, a changelog of a hundred releases) is
# itself more than a reader takes in: code and prose fold runs of what the question is not about.
OUTLINE_MAX_TOKENS = 2000


def over_tokens(lines: Sequence[str], limit: int, encoding: str) -> bool:
    """Do `lines`, joined, count more than `limit` tokens? A cheap bound first: a token is at least one
    character in the encodings used here, so text of at most `limit` characters is never counted."""
    if sum(len(ln) + 1 for ln in lines) - 1 <= limit:
        return False
    return tokens.count("\n".join(lines), encoding) > limit


def outline_over(lines: Sequence[str], keep: Sequence[bool], limit: int, encoding: str) -> bool:
    """Would the text `keep` leaves (its lines, and a marker for each run it drops) count more than `limit`
    tokens? Markers count: an outline of a hundred one-line sections and a hundred markers is long too."""
    runs = sum(1 for i, k in enumerate(keep) if not k and (i == 0 or keep[i - 1]))
    budget = limit - MARKER_TOKENS * runs
    return budget < 0 or over_tokens([ln for ln, k in zip(lines, keep) if k], budget, encoding)


def fold(
    lines: Sequence[str],
    keep: Sequence[bool],
    describe: Callable[[int, int], str],
    *,
    indent_of: Callable[[int, int], str] | None = None,
) -> tuple[str, dict[str, str]]:
    """Join `lines` with every maximal run of unkept lines replaced by one marker line.

    `describe(i, j)` says what lines i..j-1 (0-based) were; `indent_of(i, j)` may give the marker an
    indentation so it sits where the dropped block was. Lines that already hold a marker are always
    kept (idempotence), and runs whose marker would cost as many tokens as they do are kept as they are.
    """
    out: list[str] = []
    drops: dict[str, str] = {}
    n = len(lines)
    marked = {k for k, ln in enumerate(lines) if "[headroom: " in ln and has_marker(ln)}
    i = 0
    while i < n:
        if keep[i] or i in marked:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < n and not keep[j] and j not in marked:
            j += 1
        dropped = "\n".join(lines[i:j])
        if len(dropped) < MIN_DROP_CHARS:
            out.extend(lines[i:j])
        else:
            text, key = make_marker(describe(i, j), dropped)
            if len(text) >= len(dropped) or tokens.count(text) >= tokens.count(dropped):
                # A marker that costs as much as the lines it replaces only hides them: keep the lines.
                out.extend(lines[i:j])
            else:
                drops[key] = dropped
                out.append((indent_of(i, j) if indent_of else "") + text)
        i = j
    return "\n".join(out), drops


def fit_names(names: Sequence[str], room: float) -> tuple[list[str], int]:
    """The first of `names` that fit in `room` characters joined by ", ", and how many are left out (a marker
    listing what it holds: "defining a, b and 3 more")."""
    listed: list[str] = []
    for name in names:
        if sum(len(x) + 2 for x in listed) + len(name) > room:
            break
        listed.append(name)
    return listed, len(names) - len(listed)


def lines_summary(i: int, j: int, what: str = "", *, offset: int = 0) -> str:
    """"lines 40-51 omitted: what" with 1-based, inclusive line numbers, `offset` lines after the text's own
    (a compressor passes its Context's `line_offset`). The range says how many lines there are, so the
    marker does not say it twice ("12 lines omitted (lines 40-51" cost four tokens more a marker)."""
    rng = f"line {offset + i + 1}" if j - i == 1 else f"lines {offset + i + 1}-{offset + j}"
    return f"{rng} omitted{': ' + what if what else ''}"
