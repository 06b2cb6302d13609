"""CSV and TSV: the header, the first rows, the rows the question selects by their field values, and the
odd rows out; every dropped run says how many rows it holds and, per column, the range of its numbers and
dates or its few distinct values.

Detection parses the text as delimited records (quoted fields, quoted newlines included) and is confident
only when nearly every record has the header's field count, so a CSV whose rows start with a date is a
table, not a log, and prose with commas is neither. Rows are items with fields: a question term that names
a column (`precipitation`) selects the column, not rows; a term found in a few cells selects those rows; a
column the question names keeps its extreme rows (its largest and smallest values), and a value rare among
a column's few distinct values (one `DOWN` among `up`) keeps its row.
"""
from __future__ import annotations

import csv
import functools
import io
import re
from collections import Counter
from dataclasses import dataclass

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.claims import counted_terms
from headroom.core.compressors.query import Quantity, Query, parse_query, split_identifier, stem
from headroom.core.compressors.runs import fold, lines_summary

__all__ = ["compress_delimited", "looks_like_delimited", "parse_records"]

MIN_RECORDS = 8  # fewer rows are read whole; and too few to be sure the shape is a table
PREAMBLE_MAX = 200  # leading comment lines looked past; a longer run of them is a document, not a preamble
PREAMBLE_HEAD = 3  # a long preamble keeps its first lines (what the file is) and the column names
SAMPLE_LINES = 400  # detection looks at this many lines: enough for the shape, cheap on a 10 MB export
SHAPE_SHARE = 0.9  # at least this share of the records have the header's field count
MAX_HEADER_FIELD_CHARS = 64  # a header cell longer than this is a value (a sentence), not a column name
HEAD_ROWS = 5  # the header and the first rows show the columns and what a row looks like
TAIL_ROWS = 1
MAX_MATCHED_ROWS = 60  # rows kept for holding the question's terms, most informative first
EXTREME_ROWS = 3  # a column the question names keeps the rows of its largest and of its smallest values
FEW_VALUES = 6  # a column with at most this many distinct values in a dropped run lists them with counts
RARE_MAX = 2  # a value held by at most this many rows of a column with few values is an odd row out
RARE_SHARE = 0.05
MAX_RARE_ROWS = 40  # beyond that the column is varied, not rare
SEVERE_ALL_MAX = 40
COLUMNS_IN_MARKER = 4  # per-column summaries in one marker, the question's columns first
VALUE_CHARS = 24
# Whole claims are added only while they fit this budget (a cut range would be a false one), leaving room
# for the line range; a marker's summary is cut at markers.SUMMARY_MAX_CHARS.
SUMMARY_CHARS = 300  # longer distinct values are not listed (they are text, not categories)

_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass(frozen=True)
class Records:
    delimiter: str
    rows: list[list[str]]  # every record, the header first
    starts: list[int]  # the 0-based line each record starts on
    ends: list[int]  # one past the line each record ends on


def parse_records(text: str, delimiter: str, limit: int | None = None) -> Records | None:
    """The text's records and the lines each spans, or None when the quoting does not parse."""
    lines = text.split("\n")
    if limit is not None:
        lines = lines[:limit]
    rows: list[list[str]] = []
    starts: list[int] = []
    ends: list[int] = []
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""), delimiter=delimiter, strict=True)
    pos = 0
    try:
        for row in reader:
            end = reader.line_num
            if row:
                rows.append(row)
                starts.append(pos)
                ends.append(end)
            pos = end
    except csv.Error:
        return None
    return Records(delimiter, rows, starts, ends)


@dataclass(frozen=True)
class Shape:
    delimiter: str
    skip: int  # leading comment/blank lines (a preamble, `#` lines of a .tab file)
    header_in_comment: bool  # the preamble's last line names the columns ("#country-\tcoordinates\tTZ")
    headerless: bool = False  # the first record is data (`dpkg-query -W -f ...` prints no header)


def _preamble(lines: list[str]) -> int:
    p = 0
    while p < min(len(lines), PREAMBLE_MAX) and (not lines[p].strip() or lines[p].startswith("#")):
        p += 1
    return p if p < min(len(lines), PREAMBLE_MAX) else 0


def _fits(width: int, r: list[str], delimiter: str) -> bool:
    # A tab-separated file may leave its last column off ("comments; present if and only if ...").
    return len(r) == width or (delimiter == "\t" and len(r) == width - 1 and width > 2)


def _shape(text: str) -> Shape | None:
    """How a text is a table of records, judged on its first SAMPLE_LINES lines, or None."""
    sample = text.split("\n", SAMPLE_LINES + PREAMBLE_MAX)[:SAMPLE_LINES + PREAMBLE_MAX]
    skip = _preamble(sample)
    sample = sample[skip:skip + SAMPLE_LINES]
    body = [ln for ln in sample if ln.strip()]
    if len(body) < MIN_RECORDS + 1:
        return None
    if sum(1 for ln in body if ln.lstrip()[:1] in "{[") > (1 - SHAPE_SHARE) * len(body):
        return None  # JSON lines: a comma between every field too, but each line is an object
    for d in ("\t", ",", ";"):
        if sum(1 for ln in body if d in ln) < SHAPE_SHARE * len(body):
            continue
        recs = parse_records("\n".join(sample), d)
        if recs is None or len(recs.rows) < MIN_RECORDS + 1:
            continue
        header = recs.rows[0]
        in_comment = False
        if skip:
            last = text.split("\n", skip)[skip - 1].lstrip("#").strip()
            named = next(csv.reader([last], delimiter=d), []) if last else []
            if len(named) >= 2 and sum(1 for r in recs.rows if _fits(len(named), r, d)) >= SHAPE_SHARE * len(recs.rows):
                header, in_comment = named, True
        width = len(header)
        # Three fields, or two set apart by a tab: a comma or a semicolon in every line of prose is not rare.
        if width < (2 if d == "\t" else 3):
            continue
        cells = [c.strip() for c in header]
        if not all(cells) or len(set(cells)) < width or any(len(c) > MAX_HEADER_FIELD_CHARS for c in cells):
            # Not a header: a table without one still needs its shape, but names make it certain.
            if not _all_rows_typed(recs.rows[:MIN_RECORDS + 1]):
                continue
        rest = recs.rows if in_comment else recs.rows[1:]
        if sum(1 for r in rest if _fits(width, r, d)) >= SHAPE_SHARE * len(rest):
            return Shape(d, skip, in_comment, not in_comment and _first_row_is_data(recs.rows))
    return None


def _first_row_is_data(rows: list[list[str]]) -> bool:
    """A column name is never a number: a first record with a number where the rows below have numbers is
    a row like them, and the table has no header."""
    first, below = rows[0], rows[1:]
    for k, cell in enumerate(first):
        column = [r[k].strip() for r in below if k < len(r) and r[k].strip()]
        if (_NUMBER.match(cell.strip()) and column
                and sum(1 for v in column if _NUMBER.match(v)) >= SHAPE_SHARE * len(column)):
            return True
    return False


def _all_rows_typed(rows: list[list[str]]) -> bool:
    """A headerless table: every row's first or some column is a number or a date in every row."""
    width = len(rows[0])
    return any(all(k < len(r) and (_NUMBER.match(r[k].strip()) or _DATE.match(r[k].strip())) for r in rows)
               for k in range(width))


def looks_like_delimited(text: str) -> bool:
    return _shape(text) is not None


@dataclass
class _Column:
    name: str
    numbers: list[float | None]
    dates: list[str | None]
    values: list[str]

    @functools.cached_property
    def numeric(self) -> bool:
        present = [v for v in self.values if v]
        return bool(present) and sum(1 for x in self.numbers if x is not None) >= SHAPE_SHARE * len(present)

    @functools.cached_property
    def temporal(self) -> bool:
        present = [v for v in self.values if v]
        return bool(present) and sum(1 for x in self.dates if x is not None) >= SHAPE_SHARE * len(present)


def _columns(header: list[str], rows: list[list[str]]) -> list[_Column]:
    cols = []
    for k, name in enumerate(header):
        values = [r[k].strip() if k < len(r) else "" for r in rows]
        numbers = [float(v) if _NUMBER.match(v) else None for v in values]
        dates = [v if _DATE.match(v) else None for v in values]
        cols.append(_Column(name.strip() or f"column {k + 1}", numbers, dates, values))
    return cols


def _named_columns(query: Query, cols: list[_Column]) -> tuple[list[int], set[str]]:
    """Columns the question names, and the question's terms that are column names (not cell values)."""
    named: list[int] = []
    terms: set[str] = set()
    for k, c in enumerate(cols):
        hits = query.strong_hits(c.name) | query.word_hits(c.name)
        if hits:
            named.append(k)
            terms |= hits
    return named, terms


def _quantities(c: _Column) -> list:
    from headroom.core.compressors.query import parse_quantity, unit_of_name

    hint = unit_of_name(c.name)
    return [parse_quantity(v, hint) if v else None for v in c.values]


_LIST_CELL = re.compile(r"^[^,\s]+(?:,[^,\s]+)+$")
LIST_CELLS_MIN = 3  # a column with this many comma-separated cells is a column of lists
_MEASURES = frozenset({"bytes", "seconds", "percent", "length"})  # a condition on these is never a count


def _select_by_fields(query: Query, cols: list[_Column], named: list[int], n: int,
                      subsets: dict[str, set[int]]) -> dict[str, set[int]]:
    """Rows the question selects by their field values, by what selects them ("section 'golang'",
    "price > 120", "the 3 largest price"): a question term (or a token written exactly as a cell: "PR")
    that is the value of a column, a numeric condition on a column it names (or whose unit it states, or
    the only numeric column), an extreme of a named column, and the complement of a negated value
    ("not Running"). Conditions and extremes are also taken within the rows a term selects ("IBM above
    120", "AMZN's highest price"), where the answer to such a question is."""
    out: dict[str, set[int]] = {}
    tokens = set(re.findall(r"[A-Za-z0-9][\w.\-/]*", query.text))
    for k, c in enumerate(cols):
        if c.numeric or c.temporal:
            continue
        # A cell may list several values ("JP,AU" in tzdata's country column): each is a value of the row.
        parts = [set(v.split(",")) if _LIST_CELL.match(v) else {v} for v in c.values]
        values = set().union(*parts) if parts else set()
        for t in sorted(tokens & values):
            # A value written exactly as in the column (case included): "state PR", "status DOWN".
            where = {r for r in range(n) if t in parts[r]}
            if len(where) < n:
                out[f"{c.name} {t!r}"] = where
        if k not in named:
            continue
        for t in query.terms:
            where = {r for r in range(n) if c.values[r] and query.contains(t, c.values[r])}
            if where and len(where) < n:
                out.setdefault(f"{c.name} {facets.display(t, query.text)!r}", where)
    numeric = [k for k, c in enumerate(cols) if c.numeric]
    for cond in query.conditions:
        for k in numeric:
            c = cols[k]
            parts = {stem(p) for p in split_identifier(c.name)}
            qs = _quantities(c)
            dims = {q.dim for q in qs if q is not None}
            if not (k in named or parts & set(cond.words) or (cond.dim and cond.dim in dims)
                    or len(numeric) == 1):
                continue
            where = {r for r in range(n) if cond.accepts(qs[r])}
            if where:
                out[f"{c.name} {cond.describe()}"] = where
                for t, rows in subsets.items():
                    if where & rows:
                        out[f"{facets.display(t, query.text)!r} and {c.name} {cond.describe()}"] = where & rows
    # "Zones shared by more than 5 countries": a count of things, on no numeric column, is of the values a
    # list cell holds ("DE,DK,NO,SE,SJ" holds 5). Only for a count of something (not a size, a duration...).
    lists = [k for k, c in enumerate(cols) if query.conditions and not c.numeric
             and sum(1 for v in c.values if _LIST_CELL.match(v)) >= LIST_CELLS_MIN]
    for cond in query.conditions:
        if cond.dim in _MEASURES or any(key.endswith(cond.describe()) for key in out):
            continue
        for k in lists:
            c = cols[k]
            held = [len(v.split(",")) if _LIST_CELL.match(v) else int(bool(v)) for v in c.values]
            where = {r for r in range(n) if cond.accepts(Quantity(float(held[r]), ""))}
            if where and len(where) < n:
                out[f"{c.name} listing {cond.describe()}"] = where
    extremes = list(query.extremes)
    for k in named:
        c = cols[k]
        if not (c.numeric or c.temporal):
            continue
        # A column the question names keeps the rows of its extremes ("the wettest day" is one of them);
        # the direction and how many, when the question says; among all rows and among a term's rows.
        order = [r for r in range(n) if (c.numbers[r] if c.numeric else c.dates[r]) is not None]
        order.sort(key=lambda r: (c.numbers[r] if c.numeric else c.dates[r], r))
        ask = [e for e in extremes if not e.words or any(w in c.name.lower() for w in e.words)] or extremes
        count = max([EXTREME_ROWS, *(e.count for e in ask)])
        dirs = {e.direction for e in ask} or {"max", "min"}
        scopes = [("", None)] + [(f" of {facets.display(t, query.text)!r}", rows) for t, rows in subsets.items()
                                 if len(rows) > count]
        for label, rows in scopes:
            sub = order if rows is None else [r for r in order if r in rows]
            if "max" in dirs:
                out[f"the {count} largest {c.name}{label}"] = set(sub[-count:])
            if "min" in dirs:
                out[f"the {count} smallest {c.name}{label}"] = set(sub[:count])
    for t in query.negated:
        for c in cols:
            counts = Counter(c.values)
            if not 2 <= len(counts) <= FEW_VALUES * 2:
                continue
            if any(query.contains(t, v) for v in counts):
                where = {r for r in range(n) if c.values[r] and not query.contains(t, c.values[r])}
                if where:
                    out[f"{c.name} not {t!r}"] = where
    return out


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else f"{x:g}"


def _column_summary(c: _Column, idx: list[int]) -> str | None:
    """What the rows `idx` hold in column `c`: a range of numbers or dates, or its few values with counts."""
    vals = [c.values[i] for i in idx]
    present = [v for v in vals if v]
    if not present:
        return f"{c.name}: empty"
    if c.temporal:
        ds = sorted(d for d in (c.dates[i] for i in idx) if d is not None)
        if ds and len(ds) == len(present):
            return f"{c.name} {ds[0]}..{ds[-1]}" if ds[0] != ds[-1] else f"{c.name} {ds[0]}"
    if c.numeric:
        xs = [x for x in (c.numbers[i] for i in idx) if x is not None]
        if xs and len(xs) == len(present):
            lo, hi = min(xs), max(xs)
            return f"{c.name} {_fmt(lo)}..{_fmt(hi)}" if lo != hi else f"{c.name} {_fmt(lo)}"
    counts = Counter(vals)
    if len(counts) <= FEW_VALUES and all(len(v) <= VALUE_CHARS for v in counts):
        if len(counts) == 1:
            return f"{c.name} all {next(iter(counts))!r}"
        listed = ", ".join(f"{v!r} x{n}" for v, n in sorted(counts.items(), key=lambda vn: (-vn[1], vn[0])))
        return f"{c.name}: {listed}"
    return None


def compress_delimited(text: str, ctx: Context) -> Compressed:
    shape = _shape(text)
    if shape is None:
        raise ValueError("not a delimited table")
    delimiter, skip = shape.delimiter, shape.skip
    lines = text.split("\n")
    recs = parse_records("\n".join(lines[skip:]), delimiter)
    if recs is None or len(recs.rows) < MIN_RECORDS + 1:
        raise ValueError("the quoting does not parse")
    if shape.header_in_comment:
        header = next(csv.reader([lines[skip - 1].lstrip("#").strip()], delimiter=delimiter))
        first = 0
    elif shape.headerless:
        header, first = [f"column {k + 1}" for k in range(len(recs.rows[0]))], 0
    else:
        header, first = recs.rows[0], 1
    # Comment lines among the rows ("# Mention RU and UA alphabetically") are not rows.
    data = [k for k in range(first, len(recs.rows)) if not recs.rows[k][0].startswith("#")]
    rows = [recs.rows[k] for k in data]
    n = len(rows)
    cols = _columns(header, rows)
    query = parse_query(ctx.query)
    keep_row = [r < HEAD_ROWS or r >= n - TAIL_ROWS for r in range(n)]
    named, column_terms = _named_columns(query, cols) if query else ([], set())
    if shape.headerless and query.extremes and not named:
        # No names to go by: an extreme is of the one numeric column, when there is one ("the 5 largest").
        numeric = [k for k, c in enumerate(cols) if c.numeric]
        named = numeric if len(numeric) == 1 else []
    lower = [delimiter.join(r).lower() for r in rows]

    # The question's terms that are values in a few cells select those rows (all of them while few).
    texts = [delimiter.join(r) for r in rows]
    terms = {t: w for t, w in facets.informative_terms(query, texts, header).items() if t not in column_terms}
    counted = {t: w for t, w in counted_terms(query, texts, header).items() if t not in column_terms}
    # Rows holding the rarest terms first (a term in 2 rows tells more than one in 200).
    score = Counter()
    for where in terms.values():
        for r in where:
            score[r] += 1.0 / len(where)
    for r, _ in sorted(score.items(), key=lambda rs: (-rs[1], rs[0]))[:MAX_MATCHED_ROWS]:
        keep_row[r] = True
    for where in terms.values():
        if facets.keep_all(where, n, MAX_MATCHED_ROWS):
            for r in where:
                keep_row[r] = True
    selected = _select_by_fields(query, cols, named, n, terms) if query else {}
    for where in selected.values():
        for r in sorted(where)[:MAX_MATCHED_ROWS]:
            keep_row[r] = True
    # A rare value among a column's few values is the odd row out.
    rare: set[int] = set()
    for c in cols:
        if c.numeric or c.temporal:
            continue
        counts = Counter(c.values)
        if 2 <= len(counts) <= FEW_VALUES * 2:
            rare |= {r for r in range(n) if counts[c.values[r]] <= min(RARE_MAX, RARE_SHARE * n)}
    if len(rare) <= MAX_RARE_ROWS:
        for r in rare:
            keep_row[r] = True
    severe = facets.severe_lines(lower)
    if len(severe) > 0.5 * n:
        severe = set()  # a word in most rows is a column's value, not an odd row out
    elif len(severe) <= SEVERE_ALL_MAX:
        for r in severe:
            keep_row[r] = True

    keep = [True] * len(lines)
    # A long preamble keeps its first lines and the line naming the columns.
    for i in range(PREAMBLE_HEAD, skip - 1):
        keep[i] = False
    line_row: dict[int, int] = {}
    for k in range(first, len(recs.rows)):
        for i in range(skip + recs.starts[k], skip + recs.ends[k]):
            keep[i] = False  # a comment line among the rows goes with the rows around it
    for r, k in enumerate(data):
        for i in range(skip + recs.starts[k], skip + recs.ends[k]):
            keep[i] = keep_row[r]
            line_row[i] = r
    # Columns in markers: those the question names, then dates, then columns of few values, then numbers.
    order = named + [k for k in range(len(cols)) if k not in named and cols[k].temporal] + \
        [k for k in range(len(cols)) if k not in named and not cols[k].temporal and not cols[k].numeric] + \
        [k for k in range(len(cols)) if k not in named and cols[k].numeric and not cols[k].temporal]
    qtext = ctx.query or ""

    def describe(i: int, j: int) -> str:
        idx = sorted({line_row[x] for x in range(i, j) if x in line_row})
        comments = sum(1 for x in range(i, j) if x not in line_row and lines[x].startswith("#"))
        if not idx:
            first_line = next((ln.strip() for ln in lines[i:j] if ln.strip("# ")), "")
            return lines_summary(i, j, f"comment lines, from {first_line[:60]!r}", offset=ctx.line_offset)
        parts = [f"{len(idx)} row{'s' if len(idx) != 1 else ''} of {n}" + (f" and {comments} comment lines" if comments else "")]
        parts += [f"{len(set(idx) & where)} with {what}" for what, where in selected.items()]
        parts += facets.term_counts(counted, idx, severe, qtext)
        shown = 0
        for k in order:
            if shown >= COLUMNS_IN_MARKER:
                break
            s = _column_summary(cols[k], idx)
            if s is not None and len("; ".join(parts)) + len(s) < SUMMARY_CHARS:
                parts.append(s)
                shown += 1
        return lines_summary(i, j, "; ".join(parts), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "csv", "delimited", drops)
