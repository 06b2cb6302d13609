"""Tables: the header, the first and last rows, the rows the question is about and the odd rows out.

Tables are `|`-separated text (and CSV/TSV that delimited.py's record parser did not take with
confidence), the column-aligned output of commands (`ps`,
`docker ps`, `kubectl get`, `df`: an upper-case header row, then rows) and `env` dumps
(`KEY=value` lines). A row whose shape is rare among the rows (numbers and ids masked, as for logs) is
kept: the one container restarting among 150 up, the one process at 97% CPU, the pod in
CrashLoopBackOff are what the output is read for.
"""
from __future__ import annotations

import math
import re
from collections import Counter

from headroom.core.compressors import facets, select
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary

__all__ = ["compress_table", "looks_like_table"]

HEAD_ROWS = 5  # the header and the first rows show the columns and what a row looks like
TAIL_ROWS = 2
MAX_MATCHED_ROWS = 60
RARE_ROW_COUNT = 2  # a row shape seen at most this often is an odd row out
MAX_RARE_ROWS = 40  # beyond that the shapes are not rare, the table is just varied
# Rows reporting a failure (failed, Error, CrashLoopBackOff) and rows holding a question term that
# singles out few rows are all kept while there are at most this many; beyond that markers count them.
SEVERE_ALL_MAX = 40
QUERY_ALL_MAX = 60

# A command's column header: three or more upper-case column names ("NAME   READY   STATUS", "USER PID %CPU").
_HEADER = re.compile(r"^\s*[A-Z%][A-Z0-9%_()/.-]*(?:\s+[A-Z%][A-Z0-9%_()/.-]*){2,}\s*$")
_GAP = re.compile(r" {2,}|\t")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


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


def looks_like_command_table(lines: list[str]) -> bool:
    """A command's column-aligned table (an upper-case header, then rows with as many fields) or an
    `env`-style dump (`KEY=value` lines): rows, not a log, code or prose."""
    body = [ln for ln in lines if ln.strip()]
    if len(body) < 10:
        return False
    sample = body[:200]
    if sum(1 for ln in sample if _ENV.match(ln)) >= 0.9 * len(sample):
        return True
    if not _HEADER.match(body[0]) or len(_GAP.findall(body[0].strip())) < 1:
        return False
    cols = len(body[0].split())
    # Rows have at least as many fields as the header has names (less a two-word name like "CONTAINER ID"),
    # set apart by runs of spaces: columns, not prose under an upper-case title.
    return sum(1 for ln in sample[1:] if len(ln.split()) >= cols - 2 and len(_GAP.findall(ln.strip())) >= 2) \
        >= 0.9 * (len(sample) - 1)


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
    from headroom.core.compressors.logs import kinds_of, template

    kinds = kinds_of(template(text).split("\n"))
    counts = Counter(k for k, ln in zip(kinds, lines) if ln.strip())
    rare = [i for i in range(n) if lines[i].strip() and counts[kinds[i]] <= RARE_ROW_COUNT]
    if len(rare) <= MAX_RARE_ROWS:
        for i in rare:
            keep[i] = True
    lower = text.lower().split("\n")
    severe = facets.severe_lines(lower)
    severe.discard(0)  # a header naming an ERRORS column is not an error
    if len(severe) > 0.5 * n:
        severe = set()  # a word in most rows is a column's name or value, not an odd row out
    elif len(severe) <= SEVERE_ALL_MAX:
        for i in severe:
            keep[i] = True
    terms = facets.informative_terms(query, lower)
    for where in terms.values():
        if facets.keep_all(where, n, QUERY_ALL_MAX):
            for i in where:
                keep[i] = True
    qtext = ctx.query or ""
    # Rows the question selects by their values ("the 3 processes that use the most memory (RSS)", "over
    # 10 MB", "not Running"): a command table's rows split into its header's columns (select.py).
    sel = select.select(_command_rows(lines), query) if query else select.Selection()
    for rows in sel.by.values():
        if len(rows) <= QUERY_ALL_MAX:
            for i in rows:
                keep[i] = True
    kept = {i for i, k in enumerate(keep) if k}

    def describe(i: int, j: int) -> str:
        return lines_summary(i, j, ", ".join(["rows", *sel.describe(range(i, j), kept),
                                              *facets.term_counts(terms, range(i, j), severe, qtext)]), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "table", "tables", drops)


def _command_rows(lines: list[str]) -> list[dict[str, str]]:
    """Each line of a command table as {column: value} (the last column takes the rest of the line), one
    per line so indexes match; {} for the header, blank lines, other tables' rows."""
    head = next((k for k, ln in enumerate(lines) if ln.strip()), None)
    if head is None or not _HEADER.match(lines[head]):
        return [{} for _ in lines]
    names = lines[head].split()
    out: list[dict[str, str]] = []
    for k, ln in enumerate(lines):
        vals = ln.split(None, len(names) - 1)
        out.append(dict(zip(names, vals)) if k > head and len(vals) == len(names) else {})
    return out
