"""grep / ripgrep / search results: matches grouped by file, repeats folded, what the question names kept.

A line is `path:line:text` (or `path-line-text` for context, or `path:text`). Kept: the first match of
every file (so every file that matched is still listed), every match whose text has not been seen
before (the same `timeout=timeout,` in thirty places says nothing thirty times), and every match
naming an identifier from the question. Runs of the rest become one marker per run, naming the file.
"""
from __future__ import annotations

import re

from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary

__all__ = ["compress_search", "looks_like_search"]

# A path has no spaces and at least one letter (so "20171223-22:15:29" is not path-line-text).
_MATCH = re.compile(r"^(?P<path>(?=[^\s:]*[A-Za-z])[^\s:]+?)(?P<sep>[:-])(?P<line>\d+)(?P=sep)(?P<text>.*)$")
_PATH_ONLY = re.compile(r"^(?P<path>[\w./\\-]+\.[\w]+):(?P<text>.*)$")


def _parse(line: str) -> tuple[str, str] | None:
    m = _MATCH.match(line) or _PATH_ONLY.match(line)
    return (m.group("path"), m.group("text")) if m else None


def looks_like_search(lines: list[str]) -> bool:
    body = [ln for ln in lines if ln.strip() and ln.strip() != "--"]
    if len(body) < 5:
        return False
    head = body[:50]
    if sum(1 for ln in head if _MATCH.match(ln)) < 0.7 * len(head):
        return False  # most texts are decided by their first lines
    return sum(1 for ln in body[:400] if _MATCH.match(ln)) >= 0.7 * min(len(body), 400)


def compress_search(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    query = parse_query(ctx.query)
    keep = [False] * len(lines)
    files_seen: set[str] = set()
    texts_seen: set[str] = set()
    paths: list[str | None] = []
    for i, ln in enumerate(lines):
        parsed = _parse(ln)
        if parsed is None:
            keep[i] = bool(ln.strip()) and ln.strip() != "--"
            paths.append(None)
            continue
        path, body = parsed
        paths.append(path)
        norm = " ".join(body.split())
        if path not in files_seen or norm not in texts_seen or (query and query.strong_hits(body)):
            keep[i] = True
        files_seen.add(path)
        texts_seen.add(norm)

    def describe(i: int, j: int) -> str:
        names = sorted({p for p in paths[i:j] if p})
        where = names[0] if len(names) == 1 else f"{len(names)} files" if names else ""
        return lines_summary(i, j, f"repeated matches in {where}" if where else "")

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "search", "search", drops)
