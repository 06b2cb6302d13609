"""CSV/TSV tables: the header, the first and last rows, and the rows the question is about."""
from __future__ import annotations

import math

from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary

__all__ = ["compress_table", "looks_like_table"]

HEAD_ROWS = 5  # the header and the first rows show the columns and what a row looks like
TAIL_ROWS = 2
MAX_MATCHED_ROWS = 60


def _delimiter(lines: list[str]) -> str | None:
    body = [ln for ln in lines[:200] if ln.strip()]
    if len(body) < 10:
        return None
    for d in ("\t", ",", "|", ";"):
        counts = [ln.count(d) for ln in body]
        top = max(set(counts), key=counts.count)
        if top >= 2 and counts.count(top) >= 0.9 * len(body):
            return d
    return None


def looks_like_table(lines: list[str]) -> bool:
    return _delimiter(lines) is not None


def compress_table(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    n = len(lines)
    keep = [i < HEAD_ROWS or i >= n - TAIL_ROWS for i in range(n)]
    query = parse_query(ctx.query)
    if query:
        hits = [query.strong_hits(ln) | query.word_hits(ln) for ln in lines]
        df: dict[str, int] = {}
        for h in hits:
            for t in h:
                df[t] = df.get(t, 0) + 1
        weight = {t: math.log(1 + n / c) for t, c in df.items() if c <= n // 2}
        scores = [sum(weight.get(t, 0.0) for t in h) for h in hits]
        for i in sorted((i for i in range(n) if scores[i] > 0), key=lambda i: (-scores[i], i))[:MAX_MATCHED_ROWS]:
            keep[i] = True
    out, drops = fold(lines, keep, lambda i, j: lines_summary(i, j, "rows"))
    return Compressed(out, "table", "tables", drops)
