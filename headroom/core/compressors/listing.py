"""`ls -l` / `ls -la` / `ls -laR` listings: rows are entries with fields (type, size, date, name).

A listing is read for a few entries: the ones the question names, the largest or the newest, the odd
ones out (the one directory among 900 libraries, the file owned by another user, the setuid binary).
Each directory of a listing (a `dir:` header of `-R`, its `total N`, its rows) keeps its header, its
`total`, its first rows (they show what the directory holds), its largest and newest entry, entries
whose type, owner, group or permissions are rare among their siblings, and the entries the question
names or asks for (a name, an extension, "the largest five", "most recent"). Every other run of rows
becomes one marker saying how many files, directories and links it holds, its first and last name,
its size range and its date range, so "is there anything over 1 MB in there?" is answered without a
retrieval.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import Query, parse_query
from headroom.core.compressors.runs import fold, lines_summary
from headroom.core.compressors.tooloutput import fit

__all__ = ["Entry", "compress_listing", "looks_like_listing", "parse_entry"]

HEAD_ROWS = 3  # rows kept at the top of each directory, after `.` and `..`
RARE_FIELD_COUNT = 2  # a type/owner/group/mode seen this few times among a directory's entries is odd
RARE_MIN_ROWS = 12  # ...in a directory of at least this many entries (in a small one nothing is odd)
MAX_RARE_ROWS = 30  # beyond that the values are not rare, the directory is just varied
EXTREME_MAX = 50
QUERY_ALL_MAX = 60
EXTENSIONS_IN_MARKER = 3
MIN_ROWS = 8  # fewer rows than this: not worth a detector's confidence
ROW_SHARE = 0.9  # rows, headers, totals and blank lines make up this share of a listing

_DATE = (
    r"(?:[A-Z][a-z]{2}\s+\d{1,2}\s+(?:\d{4}|\d{1,2}:\d{2})"  # Dec  1 16:05 / Apr 27  2026
    r"|\d{1,2}\s+[A-Z][a-z]{2}\s+(?:\d{4}|\d{1,2}:\d{2})"  # 1 Dec 16:05 (day-first locales)
    r"|\d{4}-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?: ?[+-]\d{4})?)?"  # long-iso, full-iso
    r"|\d\d-\d\d \d\d:\d\d)"  # iso (recent)
)
_ROW = re.compile(
    r"^(?P<type>[-dlcbpsDn?])(?P<mode>[rwxsStTl-]{9})[.+@]?\s+(?P<links>\d+)\s+(?P<owner>\S+)\s+"
    r"(?:(?P<group>\S+)\s+)?(?P<size>\d+,\s*\d+|\d+(?:[.,]\d+)?[KMGTPE]?i?B?)\s+(?P<date>" + _DATE + r")\s(?P<name>.*)$"
)
_TYPES = frozenset("-dlcbpsDn?")
_TOTAL = re.compile(r"^total \d+(?:[.,]\d+)?[KMGTPE]?$")
_DIR_HEADER = re.compile(r"^\S.*:$")
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4, "P": 1024 ** 5, "E": 1024 ** 6}
_MONTHS = {m: k for k, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_TYPE_NOUN = {"-": "file", "d": "dir", "l": "link", "c": "char device", "b": "block device", "p": "pipe",
              "s": "socket"}


@dataclass(frozen=True)
class Entry:
    type: str
    mode: str
    owner: str
    group: str
    size: str  # as printed ("45056", "1.6K", "10, 235")
    bytes: float  # the size in bytes (a device's major/minor: 0)
    date: str  # as printed
    when: tuple  # a sortable key of the date
    name: str  # without a link's " -> target"


_ISO_DATE = re.compile(r"\d{4}-")
_ISO_RECENT = re.compile(r"\d\d-\d\d ")
_DEVICE_SIZE = re.compile(r"\d+,\s*\d+")
_SIZE = re.compile(r"(\d+(?:[.,]\d+)?)([KMGTPE]?)i?B?")


def parse_entry(line: str) -> Entry | None:
    if line[:1] not in _TYPES:
        return None
    m = _ROW.match(line)
    if not m:
        return None
    size = m.group("size")
    if _DEVICE_SIZE.fullmatch(size):
        nbytes = 0.0  # a device's major, minor
    elif size.isdigit():
        nbytes = float(size)
    else:
        sm = _SIZE.fullmatch(size)
        nbytes = float(sm.group(1).replace(",", ".")) * _UNITS[sm.group(2)] if sm else 0.0
    name = m.group("name")
    if m.group("type") == "l" and " -> " in name:
        name = name.split(" -> ", 1)[0]
    return Entry(m.group("type"), m.group("mode"), m.group("owner"), m.group("group") or "", size, nbytes,
                 m.group("date"), _date_key(m.group("date")), name)


def _ext(e: Entry) -> str:
    """A file's extension, lower-case, a version after it skipped: "so" for libz.so and libz.so.1.2.13,
    "py" for a.py, "" for README or .bashrc."""
    parts = e.name.rsplit("/", 1)[-1].split(".")
    if len(parts) < 2 or not parts[0]:
        return ""
    for part in reversed(parts[1:]):
        if not part.isdigit():
            return part.lower() if part.isalnum() and len(part) <= 8 else ""
    return ""


def _date_key(date: str) -> tuple:
    """(year or 9999 for "recent", month, day, time): ls prints the time instead of the year for dates
    within six months, so those are newer than any date printed with a year."""
    d = date.split()
    if _ISO_DATE.match(date):
        return (int(date[:4]), int(date[5:7]), int(date[8:10]), date[11:])
    if _ISO_RECENT.match(date):  # `--time-style=iso`, recent: MM-DD HH:MM
        return (9999, int(date[:2]), int(date[3:5]), date[6:])
    if d[0] in _MONTHS:
        month, day, last = _MONTHS[d[0]], int(d[1]), d[2]
    else:
        month, day, last = _MONTHS.get(d[1], 0), int(d[0]), d[2]
    if ":" in last:
        return (9999, month, day, last.zfill(5))
    return (int(last), month, day, "")


def _order_recent(keys: list[tuple]) -> list[tuple]:
    """Recent dates spanning a new year (Nov and Feb, both within six months) put the later months in
    the year before."""
    months = {k[1] for k in keys if k[0] == 9999}
    if months and max(months) - min(months) > 6:
        return [(9998, *k[1:]) if k[0] == 9999 and k[1] > 6 else k for k in keys]
    return keys


def looks_like_listing(lines: list[str]) -> bool:
    """Most lines are `ls -l` rows; the rest are `total N`, directory headers of -R and blank lines."""
    if sum(1 for ln in lines[:60] if _ROW.match(ln)) < min(MIN_ROWS, 0.3 * len(lines[:60])):
        return False  # a listing's rows start at its first lines
    body = [ln for ln in lines if ln.strip()]
    if len(body) < MIN_ROWS:
        return False
    sample = body[:: max(1, len(body) // 400)]
    rows = sum(1 for ln in sample if _ROW.match(ln))
    if rows < MIN_ROWS and rows < 0.9 * len(sample) or rows < 0.5 * len(sample):
        return False
    other = sum(1 for ln in sample if not _ROW.match(ln) and (_TOTAL.match(ln) or _DIR_HEADER.match(ln)))
    return rows + other >= ROW_SHARE * len(sample)


EXTREME_MIN_KEEP = 3  # "the largest file" also shows the next two: a reader compares


_SIZE_WORDS = ("size", "big", "large", "byte", "space", "heav", "small", "tiny")
_TIME_WORDS = ("recent", "new", "late", "modif", "chang", "updat", "date", "time", "old", "age", "early", "touch")


def _extreme_fields(query: Query) -> list[tuple[str, int, int]]:
    """(field, direction, count) for each extreme the question asks for ("the 3 largest files" -> bytes,
    max, 3): the question model says which; its kind, or the word it names, says by which field."""
    out = []
    for ext in query.extremes:
        words = " ".join(ext.words) + " " + ext.text.lower()
        if ext.kind == "size" or ext.kind == "" and any(w in words for w in _SIZE_WORDS):
            fields = ["bytes"]
        elif ext.kind == "time" or ext.kind == "" and any(w in words for w in _TIME_WORDS):
            fields = ["when"]
        elif ext.kind == "":
            fields = ["bytes", "when"]  # "the top 5": by whichever field is meant, both are cheap
        else:
            continue
        count = min(EXTREME_MAX, max(ext.count, EXTREME_MIN_KEEP))
        out.extend((f, 1 if ext.direction == "min" else -1, count) for f in fields)
    return out


def compress_listing(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    n = len(lines)
    entries = [parse_entry(ln) for ln in lines]
    if sum(1 for e in entries if e) < MIN_ROWS:
        raise ValueError("not an ls -l listing")
    when = _order_recent([e.when if e else (0,) for e in entries])
    keep = [e is None for e in entries]  # headers, totals, the blank lines between directories, other text

    # Directories: the rows between two headers (or blank lines).
    sections: list[list[int]] = []
    cur: list[int] = []
    for i, e in enumerate(entries):
        if e is None:
            if cur:
                sections.append(cur)
            cur = []
        else:
            cur.append(i)
    if cur:
        sections.append(cur)

    for rows in sections:
        body = [i for i in rows if entries[i].name not in (".", "..")]
        for i in rows:
            if entries[i].name in (".", ".."):
                keep[i] = True
        for i in body[:HEAD_ROWS]:
            keep[i] = True
        if body:
            keep[max(body, key=lambda i: (entries[i].bytes, -i))] = True
            keep[max(body, key=lambda i: (when[i], -i))] = True
        if len(body) >= RARE_MIN_ROWS:
            rare: set[int] = set()
            for field in ("type", "owner", "group", "mode"):
                counts = Counter(getattr(entries[i], field) for i in body)
                rare.update(i for i in body if counts[getattr(entries[i], field)] <= RARE_FIELD_COUNT)
            if len(rare) <= MAX_RARE_ROWS:
                for i in rare:
                    keep[i] = True

    all_rows = [i for rows in sections for i in rows if entries[i].name not in (".", "..")]
    question = ctx.query or ""
    query = parse_query(question)
    for field, direction, count in _extreme_fields(query):
        def key(i: int, field: str = field):
            return entries[i].bytes if field == "bytes" else when[i]

        ranked = sorted(all_rows, key=lambda i: (key(i), i) if direction > 0 else (key(i), -i), reverse=direction < 0)
        for i in ranked[:count]:
            keep[i] = True
    # "over 1 MB", "smaller than 10K": every entry whose size meets a condition in bytes.
    sized_conditions = [c for c in query.conditions if c.dim == "bytes"]
    selected_by_size: set[int] = set()
    for c in sized_conditions:
        hits = [i for i in all_rows if entries[i].type not in "cb" and c.holds(entries[i].bytes)]
        if len(hits) <= QUERY_ALL_MAX:
            selected_by_size.update(hits)
    for i in selected_by_size:
        keep[i] = True

    # Terms are looked for in the whole row: a name, a link's target, an owner, a size or a date.
    rows_text = [lines[i] if entries[i] else "" for i in range(n)]
    terms = facets.informative_terms(query, rows_text) if query else {}
    for term, where in terms.items():
        if facets.keep_all(where, len(all_rows), QUERY_ALL_MAX) or any(entries[i].name.lower() == term for i in where):
            for i in sorted(where)[:QUERY_ALL_MAX]:
                keep[i] = True

    def describe(i: int, j: int) -> str:
        rows = [k for k in range(i, j) if entries[k]]
        if not rows:
            return lines_summary(i, j, offset=ctx.line_offset)
        kinds = Counter(entries[k].type for k in rows)
        parts = [", ".join(f"{c} {_TYPE_NOUN.get(t, t)}{'s' if c != 1 else ''}"
                           for t, c in sorted(kinds.items(), key=lambda tc: "-dl".find(tc[0]) % 9))]
        first, last = entries[rows[0]].name, entries[rows[-1]].name
        parts.append(f"first {first!r}, last {last!r}" if len(rows) > 1 else repr(first))
        sized = [k for k in rows if entries[k].type not in "cb"]
        if sized:
            lo = min(sized, key=lambda k: entries[k].bytes)
            hi = max(sized, key=lambda k: entries[k].bytes)
            parts.append(f"sizes {entries[lo].size}-{entries[hi].size}" if lo != hi and entries[lo].bytes != entries[hi].bytes
                         else f"size {entries[lo].size}")
        exts = Counter(_ext(entries[k]) for k in rows if entries[k].type == "-" and _ext(entries[k]))
        if exts and len(exts) <= len(rows) // 2:
            # "how many .py files": the files by extension, when extensions group them.
            parts.append("files " + ", ".join(f"{c} .{e}" for e, c in exts.most_common(EXTENSIONS_IN_MARKER))
                         + (f" and {sum(exts.values()) - sum(c for _, c in exts.most_common(EXTENSIONS_IN_MARKER))} other"
                            if len(exts) > EXTENSIONS_IN_MARKER else ""))
        old = min(rows, key=lambda k: when[k])
        new = max(rows, key=lambda k: when[k])
        parts.append(f"dates {entries[old].date} to {entries[new].date}" if when[old] != when[new]
                     else f"date {entries[old].date}")
        for c in sized_conditions:
            parts.append(f"{sum(1 for k in rows if entries[k].type not in 'cb' and c.holds(entries[k].bytes))} "
                         f"with size {c.describe()}")
        parts.extend(facets.term_counts(terms, rows, None, question))
        noun = "entries" if len(rows) != 1 else "entry"
        head = f"{len(rows)} {noun}: {parts[0]}"
        return lines_summary(i, j, fit([head, *parts[1:]]), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "listing", "listing", drops)
