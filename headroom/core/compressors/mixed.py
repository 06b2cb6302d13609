"""Mixed content: one tool output made of sections of different kinds, each compressed by its own kind.

Two shapes are recognised, both unambiguous: several files printed by `head`/`tail` (`==> path <==`
headers), and standalone JSON documents between blank lines in other text (a command's log followed
by the JSON it printed). Each section is detected and compressed on its own; marker line numbers
stay those of the whole output. Small sections are left as they are.
"""
from __future__ import annotations

import json
from dataclasses import replace

from headroom.core.compressors.base import Compressed, Context

__all__ = ["compress_mixed", "sections"]

MIN_SECTION_CHARS = 2000  # a smaller section is read whole: markers would cost what they save
MIN_JSON_BLOCK_CHARS = 1000
MIN_OTHER_LINES = 5  # a JSON document with a line or two around it is just JSON with a caption
MAX_PARSE_ATTEMPTS = 20  # C-like code has `{`/`}` lines at column 0 too: bound the tries, keep it linear


def _is_file_header(line: str) -> bool:
    return line.startswith("==> ") and line.endswith(" <==")


def _json_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each standalone JSON document: from a `{`/`[` line at column 0 after a blank
    line (or the start) to the `}`/`]` line at column 0 before a blank line (or the end)."""
    blocks: list[tuple[int, int]] = []
    n = len(lines)
    attempts = 0
    i = 0
    while i < n and attempts < MAX_PARSE_ATTEMPTS:
        ln = lines[i]
        if ln[:1] in ("{", "[") and (i == 0 or not lines[i - 1].strip()):
            closer = "}" if ln[0] == "{" else "]"
            for j in range(i, n):
                if lines[j].rstrip() == closer and (j + 1 == n or not lines[j + 1].strip()):
                    chunk = "\n".join(lines[i : j + 1])
                    if len(chunk) >= MIN_JSON_BLOCK_CHARS:
                        attempts += 1
                        if attempts > MAX_PARSE_ATTEMPTS:
                            break
                        try:
                            json.loads(chunk)
                        except (ValueError, RecursionError):
                            continue
                        blocks.append((i, j + 1))
                        i = j
                    break
        i += 1
    return blocks


def sections(lines: list[str]) -> list[tuple[int, int]] | None:
    """Line ranges of the sections of a mixed output, or None if it is not one."""
    n = len(lines)
    heads = [i for i, ln in enumerate(lines) if _is_file_header(ln)]
    if len(heads) >= 2:
        cuts = sorted({0, *heads, *(h + 1 for h in heads), n})
        return [(a, b) for a, b in zip(cuts, cuts[1:]) if a < b]
    if not any(ln[:1] in ("{", "[") for ln in lines):
        return None
    blocks = _json_blocks(lines)
    if not blocks:
        return None
    inside = sum(b - a for a, b in blocks)
    other = sum(1 for ln in lines if ln.strip()) - sum(1 for a, b in blocks for ln in lines[a:b] if ln.strip())
    if other < MIN_OTHER_LINES or inside == n:
        return None
    cuts = sorted({0, n, *(x for blk in blocks for x in blk)})
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if a < b]


def compress_mixed(text: str, ctx: Context) -> Compressed:
    from headroom.core.compressors import detect_single, get

    lines = text.split("\n")
    parts = sections(lines)
    if parts is None:
        raise ValueError("not mixed content")
    out: list[str] = []
    drops: dict[str, str] = {}
    kinds: list[str] = []
    for a, b in parts:
        section = "\n".join(lines[a:b])
        if len(section) < MIN_SECTION_CHARS:
            out.append(section)
            continue
        kind = detect_single(section)
        try:
            result = get(kind)(section, replace(ctx, line_offset=ctx.line_offset + a))
        except (ValueError, RecursionError):
            result = Compressed(section, kind, "none")
        out.append(result.text)
        drops.update(result.drops)
        kinds.append(kind)
    return Compressed("\n".join(out), "mixed", "mixed:" + "+".join(dict.fromkeys(kinds)), drops)
