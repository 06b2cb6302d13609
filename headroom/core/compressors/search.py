"""grep / ripgrep / search results: matches grouped by file, each file reduced to what the question needs.

A line is `path:line:text` (or `path-line-text` for context, or `path:text`). Matches are grouped by
file. Files the question names (`argparse.py`, `src/app/models.py`) are kept whole, and so are matches
holding an identifier from the question that is not in most matches (the searched-for pattern itself,
present in every match, tells nothing), and so are the matches of a definition the question names (its
`def NAME` match and the matches after it deeper than its indentation: the lines of its body the pattern
found). Every other file keeps its first match (so every file that matched is still listed) and then:

- when the question names files, nothing more: the other files are context for the named ones;
- otherwise, a per-file budget that grows with the square root of the file's match count, filled with
  the matches that say most about the question (identifiers containing its words that few matches
  share, then texts not yet shown), in file order.

The rest of each file becomes one marker saying how many matches of which file (and which of its
line numbers) it holds, retrievable like every drop.
"""
from __future__ import annotations

import math
import re

from headroom.core.compressors import claims, facets, select
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.code import LISTS_DEFINITIONS
from headroom.core.compressors.query import asks_for_all, parse_query, split_identifier
from headroom.core.compressors.runs import fit_names, fold, lines_summary
from headroom.core.markers import SUMMARY_MAX_CHARS

__all__ = ["compress_search", "looks_like_search"]

# A path has no spaces and at least one letter (so "20171223-22:15:29" is not path-line-text), and it
# is not a date or a time: "2026-03-01T21:28:29.667Z ..." is a log line, not "2026-03-01T21", line 28.
# A match that defines something: `def name(`, `class Name`, `function name(`, `fn name(`, `func name(`.
_DEFINES = re.compile(r"(?:^|[:\s])(?:async\s+)?(?:def|class|function\*?|fn|func)\s+(?P<name>[A-Za-z_$][\w$]*)")
DEFINED_CHARS = 200  # names a marker lists at least, then "and N more"
DEFINED_SHARE = 0.3  # ... and at most this share of the dropped lines' characters
PATH_WORD_SHARE = 0.5  # a question word in this share of the matches' paths names the place searched
DEFINED_RESERVE = 80  # of a summary's characters, for the line range and the hint a view adds

_NOT_DATE = r"(?!\[?\d{2,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[T\s_]|$))(?!\d{1,2}:\d\d)"
_MATCH = re.compile(
    r"^(?P<path>" + _NOT_DATE + r"(?=[^\s:]*[A-Za-z])[^\s:]+?)(?P<sep>[:-])(?P<line>\d+)(?P=sep)(?P<text>.*)$"
)
_PATH_ONLY = re.compile(r"^(?P<path>" + _NOT_DATE + r"[\w./\\-]+\.[\w]+):(?P<text>.*)$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")

# Matches kept per unnamed file, when the question names no file: 1 + ceil(sqrt(matches)), at most this.
PER_FILE_MAX = 12
# Matches kept anywhere for a rare identifier of the question (beyond that it is not rare).
STRONG_MAX = 40
# A query term in more than this share of the matches is (part of) the searched-for pattern, not an
# anchor; one of two alternatives of a pattern, in about half of them, still is one.
COMMON_SHARE = 0.6
# Matches reporting an error/failure, and matches holding a question term that singles out few of them,
# are all kept while there are at most this many (and they are not most matches: then they are the
# searched-for pattern); beyond that each marker counts how many of its matches hold them.
SEVERE_ALL_MAX = 40
QUERY_ALL_MAX = 40
# grep over many files with a match or two each (a one-line import in 300 modules): grouped by
# directory instead of by file, so a directory's files fold into one marker instead of each file
# keeping its only match.
DIR_GROUP_MIN_FILES = 40
DIR_GROUP_SINGLE_SHARE = 0.7


def _parse(line: str) -> tuple[str, str, str] | None:
    m = _MATCH.match(line)
    if m:
        return m.group("path"), m.group("line"), m.group("text")
    m = _PATH_ONLY.match(line)
    return (m.group("path"), "", m.group("text")) if m else None


def looks_like_search(lines: list[str]) -> bool:
    body = [ln for ln in lines if ln.strip() and ln.strip() != "--"]
    if len(body) < 5:
        return False
    head = body[:50]
    if sum(1 for ln in head if _MATCH.match(ln)) < 0.7 * len(head):
        return False  # most texts are decided by their first lines
    return sum(1 for ln in body[:400] if _MATCH.match(ln)) >= 0.7 * min(len(body), 400)


def _named(path: str, qtext: str, qtokens: set[str]) -> bool:
    """Does the question name this file: its path, a path suffix, or its file name with extension?"""
    p = path.replace("\\", "/").lower().lstrip("./")
    if not p:
        return False
    if p in qtokens or any(t.endswith("/" + p) or p.endswith("/" + t) for t in qtokens if "/" in t or "/" in p):
        return True
    base = p.rsplit("/", 1)[-1]
    return "." in base and base in qtokens


def compress_search(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    out, drops = _reduce_grouped(lines, [_parse(ln) for ln in lines], ctx, "match", "matches")
    return Compressed(out, "search", "search", drops)


# A path list (`find`, `git ls-files`, `fd`): one path per line, at least one directory separator.
# No spaces: "api-7f9c  1/1  Running" is a table row; a path with a space in it is rare enough for the
# 90% rule to absorb.
_PATH_LINE = re.compile(r"^(?:\.{0,2}/)?(?:[\w.@+~-]+/)+[\w.@+~-]*$")
PATH_LIST_MIN_LINES = 20


def looks_like_path_list(lines: list[str]) -> bool:
    body = [ln for ln in lines if ln.strip()]
    if len(body) < PATH_LIST_MIN_LINES:
        return False
    sample = body[:: max(1, len(body) // 400)]
    return sum(1 for ln in sample if _PATH_LINE.match(ln)) >= 0.9 * len(sample)


def compress_paths(text: str, ctx: Context) -> Compressed:
    """A path list, grouped by directory the way grep output is grouped by file: directories the
    question names whole, every other directory its first entries and the ones the question is about."""
    lines = text.split("\n")
    # Grouped by directory; a path's text (what the question's words are found and counted in) is the
    # whole path, as a reader counts it: every path under tornado/ mentions 'tornado'.
    parsed: list[tuple[str, str, str] | None] = []
    names: list[str | None] = []
    for ln in lines:
        if _PATH_LINE.match(ln):
            d, _, name = ln.rstrip("/").rpartition("/")
            parsed.append((d + "/", "", ln))
            names.append(name)
        else:
            parsed.append(None)
            names.append(None)
    # A file of a rare type among many of one type (py.typed, a .so, the data files among 300 modules) is
    # what a listing holds besides the obvious: kept, as a rare value among siblings is.
    types = [_file_type(name) if name is not None else None for name in names]
    counts: dict[str, int] = {}
    for t in types:
        if t is not None:
            counts[t] = counts.get(t, 0) + 1
    total = sum(counts.values())
    rare: set[int] = set()
    if counts and max(counts.values()) >= DOMINANT_TYPE_SHARE * total:
        # Rare: no more files than a directory's budget would show of a listing this size (its square root).
        limit = max(2, math.isqrt(total))
        # The rarest types first, whole types only, up to QUERY_ALL_MAX paths.
        chosen: set[str] = set()
        room = QUERY_ALL_MAX
        for t, c in sorted(counts.items(), key=lambda tc: (tc[1], tc[0])):
            if c > limit or c > room:
                break
            chosen.add(t)
            room -= c
        rare = {k for k, t in enumerate(types) if t in chosen}
    rare |= _asked_files(ctx.query or "", types)
    out, drops = _reduce_grouped(lines, parsed, ctx, "path", "paths", rare_lines=rare,
                                 type_of=lambda k: types[k])
    return Compressed(out, "paths", "search", drops)


DOMINANT_TYPE_SHARE = 0.5  # one file type this common makes the others stand out
# "Which files does the sdist carry?", "list all the files", "what files are there": the listing is the answer.
LISTS_FILES = asks_for_all("files|paths", r"carry|carries|contain|contains|ship|ships|include|includes|hold|holds|"
                                          r"have|has|are there|exist|is there")
LISTS_MATCHES = asks_for_all("messages|errors|exceptions|warnings|calls|callers|usages|uses|places|occurrences",
                             r"can|could|does|do|are|raise|raises|throw|throws|emit|emits|give|gives|say|says|"
                             r"there|exist|made|happen")
LISTED_ALL_MAX = 200  # paths kept for such a question (as a one-line log this long is read whole)
# The file types a language's name stands for, so that "besides the Python modules" leaves out the .py files.
LANGUAGE_TYPES = {
    "python": (".py", ".pyi", ".pyw", ".pyx", ".pxd"), "javascript": (".js", ".mjs", ".cjs", ".jsx"),
    "typescript": (".ts", ".tsx", ".mts", ".cts"), "rust": (".rs",), "go": (".go",), "golang": (".go",),
    "ruby": (".rb",), "java": (".java",), "kotlin": (".kt", ".kts"), "scala": (".scala",), "swift": (".swift",),
    "c": (".c", ".h"), "c++": (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".h"), "cpp": (".cc", ".cpp", ".cxx", ".hpp"),
    "php": (".php",), "perl": (".pl", ".pm"), "shell": (".sh", ".bash"), "bash": (".sh", ".bash"),
    "markdown": (".md", ".markdown"), "yaml": (".yml", ".yaml"), "json": (".json",), "html": (".html", ".htm"),
    "css": (".css",), "sql": (".sql",), "lua": (".lua",), "haskell": (".hs",), "elixir": (".ex", ".exs"),
}


def _asked_files(question: str, types: list[str | None]) -> set[int]:
    """The paths a question that asks what files a listing holds wants: all of them, but those of a type it
    leaves out ("besides the Python modules", "other than .txt files"), while at most LISTED_ALL_MAX."""
    if not LISTS_FILES.search(question):
        return set()
    excluded: set[str] = set()
    for term in parse_query(question).negated:
        excluded.update(LANGUAGE_TYPES.get(term, ()))
        ext = "." + term.lstrip(".")
        if any(t == ext for t in types):
            excluded.add(ext)
    asked = {k for k, t in enumerate(types) if t is not None and t not in excluded}
    return asked if len(asked) <= LISTED_ALL_MAX else set()


def _file_type(name: str) -> str:
    """`core.py` -> `.py`; `libz.so.1.2.13` -> `.so` (a version is not a type); `Makefile`, `.gitignore`:
    the name itself; a directory entry (`x/`) -> `/`."""
    if not name:
        return "/"
    parts = name.split(".")
    exts = [e for e in parts[1:] if e and not e.isdigit()]
    return "." + exts[-1] if parts[0] and exts else name


def _reduce_grouped(lines: list[str], parsed: list[tuple[str, str, str] | None], ctx: Context,
                    noun: str, nouns: str, *, rare_lines: set[int] = frozenset(),
                    type_of=None) -> tuple[str, dict[str, str]]:
    """Lines grouped by their "file" (parsed[i][0]), reduced per group; one marker per dropped run.
    `rare_lines` are kept whatever the question; `type_of(line)`, when given, names each line's kind for
    the markers (a path's file type)."""
    n = len(lines)
    query = parse_query(ctx.query)
    qtext = (ctx.query or "").lower()
    qtokens = {t.strip(".,;:!?()`'\"").lower() for t in qtext.split()}

    # Units: a match with its context lines (grep -C blocks end at "--" or where the file changes).
    units: list[tuple[str, int, int]] = []  # (path, first line, end line)
    i = 0
    while i < n:
        p = parsed[i]
        if p is None:
            i += 1
            continue
        j = i + 1
        with_context = _is_context(lines[i], p)
        while j < n and parsed[j] is not None and parsed[j][0] == p[0] and (
            with_context or _is_context(lines[j], parsed[j])
        ):
            if not with_context and _is_context(lines[j], parsed[j]):
                with_context = True
            j += 1
        # Plain grep: every line is its own unit; grep -C: the block up to the next separator.
        if not with_context:
            units.append((p[0], i, i + 1))
            i += 1
        else:
            units.append((p[0], i, j))
            i = j

    bodies = ["\n".join(parsed[k][2] for k in range(a, b) if parsed[k] is not None) for _, a, b in units]
    nu = max(1, len(units))
    # Query terms in fewer than COMMON_SHARE of the matches are anchors; the rest is the pattern itself.
    hits = [query.strong_hits(b) | query.word_hits(b) for b in bodies] if query else [set()] * len(units)
    df: dict[str, int] = {}
    for h in hits:
        for t in h:
            df[t] = df.get(t, 0) + 1
    # A word of the question that is in the searched paths themselves ('tornado' for tornado/web.py) says
    # where the search looked, not what to look for in its matches.
    path_words: set[str] = set()
    if query:
        in_path: dict[str, set[str]] = {}  # a path's question words, found once per path
        for p, _, _ in units:
            if p not in in_path:
                in_path[p] = query.word_hits(p) | query.strong_hits(p)
        path_words = {t for t in df if sum(1 for p, _, _ in units if t in in_path[p]) >= PATH_WORD_SHARE * len(units)}
    weight = {t: math.log(nu / c) for t, c in df.items() if c <= COMMON_SHARE * nu and t not in path_words}
    strong = set(query.strong) if query else set()
    # Identifiers that contain a word of the question (`_raise_timeout`, `DEFAULT_TIMEOUT_CONFIG` for
    # "timeouts"): rare ones are where a thing is defined or configured, common ones are the pattern.
    idents = [set() for _ in units]
    if query and query.words:
        for u, b in enumerate(bodies):
            for ident in set(_IDENT.findall(b)):
                low = ident.lower()
                if any(w in low for w in query.words if w not in path_words) and low not in query.words:
                    idents[u].add(ident)
    idf: dict[str, int] = {}
    for s in idents:
        for ident in s:
            idf[ident] = idf.get(ident, 0) + 1

    per_file: dict[str, int] = {}
    for path, _, _ in units:
        per_file[path] = per_file.get(path, 0) + 1
    named_files = {p for p in per_file if _named(p, qtext, qtokens)}
    by_dir = len(per_file) >= DIR_GROUP_MIN_FILES and \
        sum(1 for c in per_file.values() if c == 1) >= DIR_GROUP_SINGLE_SHARE * len(per_file)

    def group_of(path: str) -> str:
        if not by_dir:
            return path
        d, sep, _ = path.replace("\\", "/").rpartition("/")
        return d + sep if sep else "./"

    by_file: dict[str, list[int]] = {}  # group (a file, or a directory) -> its units
    for u, (path, _, _) in enumerate(units):
        by_file.setdefault(group_of(path), []).append(u)
    # A group is named when the question names it or (grouped by directory) one of its files: a named
    # file's matches are then kept whole, the directory's other files are handled like any group.
    named = {g for g in by_file if g in named_files}

    keep_unit = [False] * len(units)
    # A match (not its context lines) with an upper-case level word or a traceback reports an error.
    severe = {u for u, (_, a, b) in enumerate(units)
              if any(parsed[k] is not None and not _is_context(lines[k], parsed[k]) and facets.is_loud(parsed[k][2])
                     for k in range(a, b))}
    if len(severe) > 0.5 * nu:
        severe = set()  # the searched-for pattern is an error word: every match has it
    elif len(severe) <= SEVERE_ALL_MAX:
        for u in severe:
            keep_unit[u] = True
    # Terms are counted in the matches themselves: a word in a context line is not what was found.
    match_texts = ["\n".join(parsed[k][2] for k in range(a, b)
                             if parsed[k] is not None and not _is_context(lines[k], parsed[k]))
                   for _, a, b in units]
    # A grep -C block may hold several matches; markers count matches, as a reader does, not blocks.
    match_at = [k for k in range(n) if parsed[k] is not None and not _is_context(lines[k], parsed[k])]
    unit_of = [-1] * n  # the unit each line is in (-1: a separator or a line of no unit)
    for u, (_, a, b) in enumerate(units):
        for k in range(a, b):
            unit_of[k] = u
    match_terms = facets.informative_terms(query, [parsed[k][2] for k in match_at]) if query else {}
    terms = {t: {unit_of[match_at[m]] for m in where} for t, where in match_terms.items()}
    # A marker counts a term only where each counted match holds the question's word as written (a stem
    # match, `arg-type` for 'args', is kept by the selection above but is not a mention a reader counts).
    counted = claims.counted_terms(query, [parsed[k][2] for k in match_at]) if query else {}
    severe_matches = {m for m, k in enumerate(match_at) if unit_of[k] in severe and facets.is_loud(parsed[k][2])}
    # Matches the question selects by value (a number meeting its condition, the other states of a
    # negated word, an identifier): all kept while few, counted by the markers.
    sel = select.select_lines(match_texts, query) if query else select.Selection()
    for rows in sel.by.values():
        if len(rows) <= QUERY_ALL_MAX:
            for u in rows:
                keep_unit[u] = True
    for term, where in terms.items():
        # Identifiers, numbers and status classes only: a plain word of the question ("configured")
        # is one of many ways a match can be relevant; the per-file budget weighs it, markers count it.
        if (term in query.strong or term in facets.CLASS_TERMS) and facets.keep_all(where, nu, QUERY_ALL_MAX):
            for u in where:
                keep_unit[u] = True
    for u, (_, a, b) in enumerate(units):
        if any(k in rare_lines for k in range(a, b)):
            keep_unit[u] = True
    for u in _named_definitions(query, lines, parsed, match_at, unit_of):
        keep_unit[u] = True
    # "Give me an overview of the methods": a search whose matches are mostly definitions is the index the
    # question asks for; all of them kept while few.
    if LISTS_DEFINITIONS.search(ctx.query or ""):
        defining = {unit_of[k] for k in match_at if _DEFINES.search(parsed[k][2])}
        if 2 * len(defining) >= len(match_at) and len(defining) <= QUERY_ALL_MAX:
            for u in defining:
                keep_unit[u] = True
    # "Which messages can parsing raise?", "where is it called?": every match of a search is what the question
    # asks for; all of them while few.
    if LISTS_MATCHES.search(ctx.query or "") and len(match_at) <= QUERY_ALL_MAX:
        for k in match_at:
            keep_unit[unit_of[k]] = True
    strong_taken = 0
    for u in range(len(units)):
        if units[u][0] in named_files:
            keep_unit[u] = True
        elif strong_taken < STRONG_MAX and any(t in strong and t in weight for t in hits[u]):
            keep_unit[u] = True
            strong_taken += 1
    texts_seen: set[str] = set()
    for path, us in by_file.items():
        if path in named:
            continue
        keep_unit[us[0]] = True
        if named:
            continue
        budget = min(PER_FILE_MAX, 1 + math.ceil(math.sqrt(len(us))))

        def score(u: int) -> float:
            return sum(weight.get(t, 0.0) for t in hits[u]) + sum(
                math.log(nu / idf[x]) for x in idents[u] if idf[x] <= COMMON_SHARE * nu)

        taken = sum(1 for u in us if keep_unit[u])
        ranked = sorted(us, key=lambda u: (-score(u), u))
        picked: list[int] = []
        for u in ranked:
            if taken >= budget:
                break
            if keep_unit[u] or score(u) <= 0:
                continue
            keep_unit[u] = True
            picked.append(u)
            taken += 1
        # The match on the very next or previous line of one picked for the question, holding a word of the
        # question too, is the rest of its statement or block (`self.application = application` then
        # `self.request = request`): it stays with it.
        for u in picked:
            for v in (u - 1, u + 1):
                if 0 <= v < len(units) and not keep_unit[v] and units[v][0] == units[u][0] and \
                        _adjacent(parsed[units[u][1]], parsed[units[v][1]]) and score(v) > 0:
                    keep_unit[v] = True
        for u in us:  # then texts not already shown, in file order
            if taken >= budget:
                break
            norm = " ".join(bodies[u].split())
            if not keep_unit[u] and norm not in texts_seen:
                keep_unit[u] = True
                taken += 1
            texts_seen.add(norm)

    kept_units = {u for u, k in enumerate(keep_unit) if k}
    keep = [bool(ln.strip()) and ln.strip() != "--" and parsed[i] is None for i, ln in enumerate(lines)]
    for u, (_, a, b) in enumerate(units):
        for k in range(a, b):
            keep[k] = keep_unit[u]
    # A "--" separator stays only between two kept blocks.
    for k, ln in enumerate(lines):
        if ln.strip() == "--":
            keep[k] = 0 < k < n - 1 and keep[k - 1] and keep[k + 1]

    def describe(i: int, j: int) -> str:
        us = sorted({unit_of[k] for k in range(i, j) if unit_of[k] >= 0})
        files = list(dict.fromkeys(units[u][0] for u in us))
        groups = list(dict.fromkeys(group_of(f) for f in files))
        ms = [m for m, k in enumerate(match_at) if i <= k < j]  # the matches in this run
        c = len(ms)
        if len(files) == 1:
            nums = [parsed[match_at[m]][1] for m in ms if parsed[match_at[m]][1]]
            where = f" (its lines {nums[0]}-{nums[-1]})" if len(nums) > 1 else f" (its line {nums[0]})" if nums else ""
            what = f"{c} more {noun if c == 1 else nouns} in {files[0]}{where}"
        elif by_dir and len(groups) == 1:
            what = f"{c} more {nouns} in {len(files)} files under {groups[0]}"
        elif by_dir and len(groups) <= 3:
            what = f"{c} {nouns} in {len(files)} files under {', '.join(groups)}"
        elif by_dir:
            what = f"{c} {nouns} in {len(files)} files under {len(groups)} directories ({groups[0]} ... {groups[-1]})"
        elif files:
            what = f"{c} {nouns} in {len(files)} {'files' if noun == 'match' else 'directories'}"
        else:
            what = ""
        extra = sel.describe(us, kept_units) + facets.term_counts(counted, ms, severe_matches if severe else None,
                                                                  ctx.query or "")
        # Matches that are definitions (a search for `def `, `class `, `function `) are named: the marker
        # says which functions it holds.
        found = [m.group("name") for k in ms if (m := _DEFINES.search(lines[match_at[k]]))]
        if found and len(found) * 2 >= c:
            # Every name (once: five classes' `__init__` is one name) while the list is a small part of what
            # it stands for (a name is a fifth of its `def` line) and fits the summary with the rest of it:
            # a search for definitions is an index, and a name the marker leaves out is one the model cannot
            # know is there. A run too long for that says how many more it holds.
            defined = list(dict.fromkeys(found))
            room = max(DEFINED_CHARS, DEFINED_SHARE * sum(len(lines[match_at[k]]) + 1 for k in ms))
            room = min(room, SUMMARY_MAX_CHARS - DEFINED_RESERVE - len(what) - sum(len(x) + 2 for x in extra))
            listed, left = fit_names(defined, room)
            extra.insert(0, "defining " + ", ".join(listed) + (f" and {left} more" if left else ""))
        if type_of is not None:
            kinds: dict[str, int] = {}
            for u in us:
                t = type_of(units[u][1])
                if t is not None:
                    kinds[t] = kinds.get(t, 0) + 1
            if len(kinds) == 1:
                extra.insert(0, f"all {next(iter(kinds))}")
            elif kinds:
                top = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
                extra.insert(0, ", ".join(f"{t} x{c}" for t, c in top[:3]) + (f" and {len(top) - 3} more types" if len(top) > 3 else ""))
        return lines_summary(i, j, ", ".join([what, *extra]) if what else ", ".join(extra), offset=ctx.line_offset)

    return fold(lines, keep, describe)


_NAME = re.compile(r"[A-Za-z_]\w*")
_CLOSING = re.compile(r"[)\]}]")  # a line starting so at a definition's indentation closes it


def _asked_names(query) -> set[str]:
    """The names the question's identifiers give (lower-case): each identifier, and the last part of a
    qualified one (`TypeConversionDict.get` names `get`)."""
    out: set[str] = set()
    for term in query.strong if query else ():
        for part in (term, re.split(r"[.:/#]+", term)[-1]):
            m = _NAME.match(part)
            if m is not None and m.end() == len(part) and len(part) >= 2:
                out.add(part)
    return out


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _named_definitions(query, lines: list[str], parsed, match_at: list[int], unit_of: list[int]) -> list[int]:
    """The units of the definitions the question is about, when the search found them (`def get(`, then the
    matches after it in its file deeper than its indentation: the lines of its body the pattern matched,
    a closing bracket at its own indentation included; a closing brace ends it). About: one the question names
    (an identifier, or every word of one: `_spelled_out`), one whose name is a named one's with underscores
    around it or holds it as its words (`_set_autocommit_gen` for `conn.autocommit`: its implementation),
    and the definitions those call in the
    lines kept of their bodies (one call deep: where the behaviour asked about is decided). At most
    QUERY_ALL_MAX, the first in order."""
    names = _asked_names(query)
    if not names and not query.words:
        return []
    defs: dict[int, str] = {}  # match index -> the name it defines
    for m, k in enumerate(match_at):
        d = _DEFINES.search(parsed[k][2])
        if d is not None:
            defs[m] = d.group("name")
    # `_wait` does the work of the `wait` the question names, as code.py's ranking has it.
    words_of = [w for w in ([p.lower() for p in split_identifier(a)] for a in names) if len("".join(w)) >= 4]
    asked = {m for m, name in defs.items() if name.lower() in names or name.strip("_").lower() in names
             or _spelled_out(query, name) or _holds_name(name, words_of)}
    bodies = {m: _body_matches(m, match_at, parsed) for m in asked}
    # One call deep: the definitions (of this output, in its file) that the asked ones' kept lines call.
    called: set[str] = set()
    for m, body in bodies.items():
        for b in body[1:]:
            called.update(c.group(1) for c in _CALL.finditer(parsed[match_at[b]][2]))
    asked_files = {parsed[match_at[a]][0] for a in asked}
    for m, name in defs.items():
        if m not in bodies and name in called and parsed[match_at[m]][0] in asked_files:
            bodies[m] = _body_matches(m, match_at, parsed)
    out: list[int] = []
    for m in sorted(bodies, key=lambda m: (m not in asked, m)):  # the asked ones first, then their callees
        for b in bodies[m]:
            if len(out) >= QUERY_ALL_MAX:
                return list(dict.fromkeys(out))
            out.append(unit_of[match_at[b]])
    return list(dict.fromkeys(out))


_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def _body_matches(m: int, match_at: list[int], parsed) -> list[int]:
    """The definition at match m and the matches of its body after it (see _named_definitions)."""
    k = match_at[m]
    depth = _indent(parsed[k][2])
    out = [m]
    m += 1
    while m < len(match_at):
        k2 = match_at[m]
        text = parsed[k2][2]
        if parsed[k2][0] != parsed[k][0]:
            break
        at_depth = bool(text.strip()) and _indent(text) <= depth
        if at_depth and not _CLOSING.match(text.lstrip()):
            break
        out.append(m)
        m += 1
        if at_depth and text.lstrip().startswith("}"):
            break  # a brace language's block ends on its closing brace (a signature's `)` goes on)
    return out


def _holds_name(name: str, words_of: list[list[str]]) -> bool:
    """Are a named identifier's words (`words_of`: each named identifier's, lower-case, of 4+ letters together)
    the words of this longer one, in order (`_set_autocommit_gen` holds `autocommit`; `getattr` does not hold
    `get`: a name's words, not its letters)?"""
    parts = [p.lower() for p in split_identifier(name)]
    for words in words_of:
        if not words or len(words) >= len(parts):
            continue
        if any(parts[i:i + len(words)] == words for i in range(len(parts) - len(words) + 1)):
            return True
    return False


def _spelled_out(query, name: str) -> bool:
    """Does the question name a definition in its own words, every word of a compound name in any order
    ("which assignments are unused" names `unused_assignments`, not `unused_annotations`)?"""
    parts = split_identifier(name)
    return len(parts) >= 2 and all(query.word_hits(p) for p in parts)


def _adjacent(a: tuple[str, str, str] | None, b: tuple[str, str, str] | None) -> bool:
    """Are two parsed matches of one file on consecutive lines?"""
    return bool(a and b and a[1].isdigit() and b[1].isdigit() and abs(int(a[1]) - int(b[1])) == 1)


def _is_context(line: str, p: tuple[str, str, str] | None) -> bool:
    """grep -C prints context lines as `path-12-text`, matches as `path:12:text`."""
    return bool(p and p[1]) and line[len(p[0])] == "-"
