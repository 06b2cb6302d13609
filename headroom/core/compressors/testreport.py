"""pytest's failure report: every verdict stays; the source of each traceback frame folds away from its failing line.

A run with failures prints, per failed test, its frames: the function's arguments (`runner = <...>`), its
source up to the line that raised (`>` marks it, carets under it), the error (`E   ...` lines) and the
frame's location (`h11/_connection.py:469: RemoteProtocolError`). The source is a copy of files the model
can read by that location; what the model needs of it is where it failed. So every line that is a verdict
stays but a verbose run's PASSED lines after the first of each run (counted by their markers; a test's bare id
line, printed before its verdict when the test wrote output, goes with the verdict): the session header, the progress lines, section rules, each test's header, frame separators, the
arguments, each frame's signature, the CONTEXT_BEFORE lines before `>`, `>` and what follows it through
the error, the location, captured-output headers and their lines with error words, the short summary and
the totals. The rest of a frame's source folds, the marker naming the function and its location.

Applies at any size over the floor, errors included: it is a compressor of error reports that keeps the
errors (the rule that short error outputs are read whole is for compressors that do not know them).
"""
from __future__ import annotations

import re

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fit_names, fold, lines_summary
from headroom.core.markers import SUMMARY_MAX_CHARS

__all__ = ["compress_test_report", "looks_like_test_report"]

CONTEXT_BEFORE = 3  # source lines kept above the failing line: the statement it is part of
CAPTURED_WHOLE_MAX = 12  # a captured-output block this short is kept whole
HELD_MAX = 40  # lines holding one question term kept, up to this many (as in logs)
REPEAT_MIN_LINES = 3  # a frame this short is kept even when it repeats: its marker would cost as much
REPEAT_RUN_MIN = 4  # a run of report lines repeating an earlier one folds from this many lines

_RULE = re.compile(r"^=+ .* =+$")
_REPORT = re.compile(r"^=+ (?:FAILURES|ERRORS) =+$")
_TEST_HEADER = re.compile(r"^_{3,} .+ _{3,}$")
_FRAME_SEP = re.compile(r"^(?:_ ){5,}_?\s*$")
_LOCATION = re.compile(r"^[^\s:][^:]*:\d+: ?(?:\w[\w.]*)?(?: .*)?$")
_SHORT_FRAME = re.compile(r"^[^\s:][^:]*:\d+: in \S+$")
_PASSING_FRAME = re.compile(r"^[^\s:][^:]*:\d+: ?$")  # a frame's location that names no error: the call went on
_ERROR = re.compile(r"^E(?: |\t|$)")
_ARG = re.compile(r"^[A-Za-z_]\w* = ")
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(?P<name>\w+)")
_CAPTURED = re.compile(r"^-{3,} (?:Captured|Captured stdout|Captured stderr|Captured log)\b.*-{3,}$")
_SESSION = re.compile(r"^=+ test session starts =+$")
VERBOSE_MIN_PASSED = 20  # fewer PASSED lines are read as they are
_EVERY = re.compile(r"\b(?:every|each)\b", re.I)
# A marker over passing tests names them ("test_move_items_urllib_request with urlopen, build_opener, ..."), as
# a search marker names the definitions it folds: at least this many characters, at most this share of the
# lines' own, within what a summary holds.
NAMED_TESTS_CHARS = 200
NAMED_TESTS_SHARE = 0.3
_TEST_ID = re.compile(r"::(?P<name>\w+)(?:\[(?P<param>[\w.\-]+)\])?\s+PASSED\b")
_PASSED = re.compile(r"^\S+::\S.*? PASSED(?:\s+\[\s*\d+%\])?\s*$")
_SUMMARY = re.compile(r"^=+ (?:\d+ (?:failed|passed|error|errors|skipped|xfailed|xpassed|deselected|warnings?)"
                      r"[, ]*)+.* =+$")


def looks_like_test_report(lines: list[str]) -> bool:
    """A pytest run's output with a FAILURES or ERRORS section (as pytest prints it by default), or a piece
    of one (an agent's middle cut leaves the part after it without the section's rule)."""
    if any(_REPORT.match(ln) for ln in lines):
        return any(_SUMMARY.match(ln) or ln.startswith("=") and "short test summary info" in ln
                   or _TEST_HEADER.match(ln) for ln in lines)
    if any(_SESSION.match(ln) for ln in lines[:50]):
        # A verbose run without failures: its PASSED lines are what there is to count.
        return sum(1 for ln in lines if _PASSED.match(ln)) >= VERBOSE_MIN_PASSED
    return (any(_TEST_HEADER.match(ln) or _FRAME_SEP.match(ln) for ln in lines)
            and any(_ERROR.match(ln) for ln in lines) and any(_LOCATION.match(ln) for ln in lines))


def compress_test_report(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    n = len(lines)
    keep = [True] * n
    where: list[str] = [""] * n  # for a folded source line: "next_event, before h11/_connection.py:469"
    query = parse_query(ctx.query)
    terms = facets.informative_terms(query, lines) if query else {}
    # A test's name holds the question's words ('pipe' in test_pipe_headerless); a frame's source line is
    # kept for an identifier of the question only (a plain word such as 'event' is all over source code).
    # "Which codec tests ran?" lists them: every test line naming a word of the question stays (up to
    # HELD_MAX per word), however large a share of the run they are.
    named = {k for w in terms.values() if len(w) <= HELD_MAX for k in w}
    # "Does every moved name resolve?": a question about each of a run's tests, when they are few, is answered
    # by the tests themselves, each by name.
    if _EVERY.search(ctx.query or ""):
        passing = [k for k, ln in enumerate(lines) if _PASSED.match(ln)]
        if len(passing) <= HELD_MAX:
            named.update(passing)
    held = {k for t, w in terms.items() if t in query.strong and facets.keep_all(w, n, HELD_MAX) for k in w}

    # A piece that starts inside the report (after an agent's cut) is in it from its first line.
    first = next((k for k, ln in enumerate(lines) if _RULE.match(ln) or _TEST_HEADER.match(ln) or _FRAME_SEP.match(ln)), n)
    section = "report" if first == n or not _RULE.match(lines[first]) else ""
    seen: dict[tuple[str, ...], int] = {}
    i = _frame(lines, 0, keep, where, held, seen, ctx.line_offset) if section == "report" else 0
    while i < n:
        ln = lines[i]
        if _RULE.match(ln):
            section = "report" if _REPORT.match(ln) else ln
            i += 1
            continue
        if section != "report":
            # A verbose run's passing tests are counted by their marker; every other verdict stays.
            # The first of a run of them stays: where the run starts (which test ran first) reads in place.
            # A test whose run printed something has its id on a line of its own before its verdict line
            # (`tests/t.py::test_x ` then `tests/t.py::test_x PASSED [ 7%]`): the two are one test.
            start = i - 1 if i > 0 and _started(lines[i - 1], ln) else i
            if (_PASSED.match(ln) and i not in named and start not in named and start > 0
                    and _PASSED.match(lines[start - 1])):
                keep[i] = False
                where[i] = "passed"
                if start < i:
                    keep[start] = False
                    where[start] = "started"
            i += 1
            continue
        if _TEST_HEADER.match(ln) or _FRAME_SEP.match(ln):
            i = _frame(lines, i + 1, keep, where, held, seen, ctx.line_offset)
            continue
        i += 1
    _repeats(lines, keep, where, held, report_from=0 if first == n or not _RULE.match(lines[first]) else None,
             offset=ctx.line_offset)
    # Markers over source count identifiers of the question only, as code's do: a plain word's stem
    # ('textwr') would count a line's `TextWrap` as a mention of 'textwrapper'. Over test names, every term.
    return _folded(lines, keep, where, {t: w for t, w in terms.items() if t in query.strong}, terms, ctx)


def _started(line: str, verdict: str) -> bool:
    """Is `line` a verbose run's bare test id (`tests/t.py::test_x `), the start of `verdict`'s test?"""
    bare = line.rstrip()
    return "::" in bare and " " not in bare and verdict.startswith(bare + " ")


def _repeats(lines: list[str], keep: list[bool], where: list[str], held: set[int], report_from: int | None,
             offset: int) -> None:
    """Fold each run of REPEAT_RUN_MIN+ lines of the report that repeats an earlier run exactly (the same
    call chain under several failing tests). Verdicts never fold: error lines, test headers, an error's
    location (`idna/core.py:128: IDNAError`), rules; the location of a frame the call went on from
    (`tests/__init__.py:11: `, naming no error) is part of the chain and folds with it."""
    n = len(lines)
    in_report = [False] * n
    on = report_from is not None
    for k, ln in enumerate(lines):
        if _RULE.match(ln):
            on = bool(_REPORT.match(ln))
        in_report[k] = on and not _RULE.match(ln)

    def foldable(k: int) -> bool:
        # A line holding a question's term folds too: a run that folds here repeats an earlier run exactly,
        # and the earlier copy of a held line is kept (neither this nor a frame's folding drops it).
        ln = lines[k]
        return (in_report[k] and not _ERROR.match(ln) and not _TEST_HEADER.match(ln)
                and not (_LOCATION.match(ln) and not _SHORT_FRAME.match(ln) and not _PASSING_FRAME.match(ln)))

    first_at: dict[tuple[str, ...], int] = {}
    k = 0
    while k + REPEAT_RUN_MIN <= n:
        window = tuple(lines[k:k + REPEAT_RUN_MIN])
        if not all(foldable(x) for x in range(k, k + REPEAT_RUN_MIN)) or sum(1 for ln in window if ln.strip()) < 2:
            k += 1
            continue
        j = first_at.get(window)
        if j is None or j + REPEAT_RUN_MIN > k:
            first_at.setdefault(window, k)
            k += 1
            continue
        length = REPEAT_RUN_MIN
        while k + length < n and j + length < k and lines[k + length] == lines[j + length] and foldable(k + length):
            length += 1
        off = offset
        for x in range(k, k + length):
            keep[x] = False
            where[x] = f"same:{j + 1 + off}-{j + length + off}"
        k += length


def _frame(lines: list[str], start: int, keep: list[bool], where: list[str], held: set[int],
           seen: dict[tuple[str, ...], int] | None = None, offset: int = 0) -> int:
    """Mark one frame's source (from `start` up to its location line, or the next frame) and return where
    the next header or separator is. A frame whose source and location are those of an earlier frame
    (the same library call failing under several tests) folds whole but its location and error lines;
    `seen` maps each frame met so far to the 1-based line of its location."""
    n = len(lines)
    end = start
    while end < n and not (_TEST_HEADER.match(lines[end]) or _FRAME_SEP.match(lines[end]) or _RULE.match(lines[end])):
        end += 1
    k = start
    while k < end:
        if _CAPTURED.match(lines[k]):
            k = _captured(lines, k + 1, end, keep, held)
            continue
        if _SHORT_FRAME.match(lines[k]):
            k += 1  # `path:N: in func` and its source line (--tb=auto's middle frames): kept as they are
            while k < end and not _LOCATION.match(lines[k]) and not _CAPTURED.match(lines[k]):
                k += 1
            continue
        # The source runs up to its location line; after it come captured blocks or the next frame.
        loc = next((j for j in range(k, end) if _LOCATION.match(lines[j]) and not lines[j].startswith((" ", "E", ">"))),
                   None)
        stop = loc if loc is not None else end
        caret = next((j for j in range(k, stop) if lines[j].startswith(">")), None)
        name = next((m.group("name") for j in range(k, stop) if (m := _DEF.match(lines[j]))), "")
        label = ", ".join(x for x in (name, f"before {lines[loc].split(': ', 1)[0].rstrip(':')}" if loc is not None else "") if x)
        signature_seen = False
        # The frame's identity: its source lines and location (argument lines hold addresses that differ).
        ident = tuple(lines[j] for j in range(k, stop + (loc is not None)) if not _ARG.match(lines[j]))
        earlier = seen.get(ident) if seen is not None and len(ident) > REPEAT_MIN_LINES else None
        if seen is not None and earlier is None and loc is not None and len(ident) > REPEAT_MIN_LINES:
            seen[ident] = loc + 1 + offset
        if earlier is not None:
            # The earlier frame has the same lines (but its arguments), question terms included and kept.
            for j in range(k, stop):
                if not _ERROR.match(lines[j]) and not (j in held and _ARG.match(lines[j])):
                    keep[j] = False
                    where[j] = f"{label}, as in the frame at line {earlier}"
            k = (loc + 1) if loc is not None else end
            continue
        for j in range(k, stop):
            ln = lines[j]
            if not signature_seen and _DEF.match(ln):
                signature_seen = True
                continue
            if (_ERROR.match(ln) or _ARG.match(ln) or ln.startswith(">") or j in held
                    or caret is not None and caret - CONTEXT_BEFORE <= j):
                continue
            if caret is None and any(_ERROR.match(lines[x]) for x in range(j, min(stop, j + CONTEXT_BEFORE + 1))):
                continue  # no `>`: the lines just above the error are where it was raised
            keep[j] = False
            where[j] = label
        k = (loc + 1) if loc is not None else end
    return end


def _captured(lines: list[str], start: int, end: int, keep: list[bool], held: set[int]) -> int:
    """A captured-output block: whole when short, else its lines with error words (and the question's)."""
    stop = start
    while stop < end and not _CAPTURED.match(lines[stop]) and not _LOCATION.match(lines[stop]):
        stop += 1
    if stop - start > CAPTURED_WHOLE_MAX:
        for j in range(start, stop):
            if not facets.is_severe(lines[j].lower()) and j not in held:
                keep[j] = False
    return stop


def _named_tests(lines: list[str], i: int, j: int, where: list[str]) -> str:
    """The passing tests of lines i..j-1 by name, a parametrized one once with its parameters, as many as fit
    (then "and N more"); "" when their ids are not plain names."""
    by_name: dict[str, list[str]] = {}
    size = 0
    for k in range(i, j):
        if where[k] != "passed":
            continue
        size += len(lines[k]) + 1
        m = _TEST_ID.search(lines[k])
        if m is None:
            return ""
        params = by_name.setdefault(m.group("name"), [])
        if m.group("param"):
            params.append(m.group("param"))
    room = min(max(NAMED_TESTS_CHARS, NAMED_TESTS_SHARE * size), SUMMARY_MAX_CHARS // 2)
    items = [p for name, params in by_name.items() for p in ([f"{name} with {params[0]}", *params[1:]] if params
                                                                else [name])]
    shown, left = fit_names(items, room)
    return ", ".join(shown) + (f" and {left} more" if left else "") if shown else ""


def _folded(lines: list[str], keep: list[bool], where: list[str], terms: dict[str, set[int]],
            name_terms: dict[str, set[int]], ctx: Context) -> Compressed:
    def describe(i: int, j: int) -> str:
        passed = sum(1 for k in range(i, j) if where[k] == "passed")
        tests = passed + sum(1 for k in range(i, j) if where[k] == "started")
        same = [where[k] for k in range(i, j) if where[k].startswith("same:")]
        labels = list(dict.fromkeys(where[k] for k in range(i, j) if where[k] and where[k] not in ("passed", "started")
                                    and not where[k].startswith("same:")))
        counted = terms
        if passed:
            what = f"{passed} tests PASSED" if tests == j - i else f"{passed} tests PASSED and other lines"
            counted = name_terms  # test names: every word of the question counts
            named = _named_tests(lines, i, j, where)
            if named:
                what += ": " + named
        elif same and len(same) == j - i and len(set(same)) == 1:
            what = f"the same lines as lines {same[0][5:]}"
        elif same:
            what = f"{len(same)} lines repeating earlier ones" + (f", source of {labels[0]}" if len(labels) == 1 else "")
        elif len(labels) == 1:
            what = f"source of {labels[0]}"
        else:
            what = "captured output" if not labels else f"source of {len(labels)} frames"
        return lines_summary(i, j, ", ".join([what, *facets.term_counts(counted, range(i, j), None, ctx.query or "")]), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "pytest", "testreport", drops)
