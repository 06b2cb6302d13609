"""Compiler and linter diagnostics: every error kept, warnings grouped by their flag or code.

gcc/clang (`file:line:col: warning: ... [-Wflag]` with its source and caret lines and `note:`s),
rustc/cargo (`error[E0308]: ...` with ` --> file:line:col` and the `|` gutter), tsc (plain
`file(line,col): error TS2339: ...` and `--pretty`), mypy (`file:line: error: ...  [code]`), ruff
(full and concise), flake8/pylint and eslint's stylish format. A diagnostic is one unit: its header and
every line that belongs to it (source, carets, notes, help, the include stack that leads to a note) are
kept or dropped together. Lines outside any diagnostic are the scope (`In function 'f':`, eslint's file
line), kept when one of their diagnostics is, the summaries (`Found 84 errors in 15 files`), always
kept, and progress (`Compiling serde v1.0`), folded.

What is kept: every error (when there are at most ERRORS_ALL_MAX; beyond that the first few of each
kind), the first diagnostic of every warning code, every diagnostic of a code seen at most
RARE_CODE_COUNT times, and the diagnostics the question names (a file, a code or flag, a line number,
an identifier). Each marker says how many diagnostics of which severity and code, in which files, it
holds.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from headroom.core.compressors import claims, facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary
from headroom.core.compressors.tooloutput import fit

__all__ = ["Diagnostic", "compress_diagnostics", "looks_like_diagnostics", "parse"]

# Errors are what a build or a type check is read for: all of them are kept while there are this many.
# Beyond that (one missing crate reported at 54 call sites) the first ERRORS_PER_KIND of each kind
# (code and message shape) are kept and the markers count the rest.
ERRORS_ALL_MAX = 40
ERRORS_PER_KIND = 3
# A warning code seen this few times is an odd one out: every diagnostic of it is kept.
RARE_CODE_COUNT = 2
# Diagnostics holding a question term that singles out few of them are all kept up to this many.
QUERY_ALL_MAX = 60
# A question that names a code, a flag or a file is about all of its diagnostics: kept up to this many.
NAMED_ALL_MAX = 200
# Detection: at least this many diagnostics, and the lines they, their scopes, summaries and progress
# explain make up this share of the output...
MIN_DIAGNOSTICS = 3
EXPLAINED_SHARE = 0.85
# ...and the diagnostics themselves at least this share: a build's progress with a few warnings in it
# is a build log (the log compressor keeps its warning lines), not a compiler's report.
DIAGNOSTIC_SHARE = 0.3
FILES_IN_MARKER = 3
CODES_IN_MARKER = 4

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SEV = r"(?P<sev>fatal error|error|warning|note|remark|info|help)"
# gcc, clang, mypy: path:line[:col]: severity: message  [-Wflag] / [code]
_GCC = re.compile(r"^(?P<file>[^\s:(][^:]*?):(?P<line>\d+):(?:(?P<col>\d+):)?(?:\d+:\d+:)? " + _SEV + r": (?P<msg>.*)$")
_GCC_CODE = re.compile(r"\[(?P<code>-W[\w=+#-]+|-f[\w=+-]+|-Werror[\w=-]*)(?:,[^\]]*)?\]\s*$|\s\s\[(?P<code2>[a-z][a-z0-9-]*)\]\s*$")
# tsc: path(line,col): error TS2339: message / path:line:col - error TS2339: message (--pretty)
_TSC = re.compile(r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),(?P<col>\d+)\): (?P<sev>error|warning|message) (?P<code>TS\d+): (?P<msg>.*)$")
_TSC_PRETTY = re.compile(r"^(?P<file>\S[^:]*):(?P<line>\d+):(?P<col>\d+) - (?P<sev>error|warning|message) (?P<code>TS\d+): (?P<msg>.*)$")
# pyright: "  path:line:col - error: message (reportRule)", under a line naming the file
_PYRIGHT = re.compile(r"^\s+(?P<file>\S[^:]*):(?P<line>\d+):(?P<col>\d+) - (?P<sev>error|warning|information): (?P<msg>.*)$")
_PYRIGHT_RULE = re.compile(r"\((?P<code>report[A-Z]\w+)\)\s*$")
# go build / go vet / go tool compile: path.go:line:col: message (always an error)
_GO = re.compile(r"^(?P<file>[^\s:]+\.go):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")
# ruff concise, flake8, pycodestyle, pylint: path:line:col: CODE message
_LINT = re.compile(r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]{1,4}\d{2,4}):? (?:\[\*\] )?(?P<msg>.*)$")
_PYLINT_ERROR = re.compile(r"[EF]\d{4}")
# rustc / cargo: severity[code]: message, the location on the next line (` --> path:line:col`)
_RUST = re.compile(r"^(?P<sev>error|warning)(?:\[(?P<code>[A-Z]?\d{3,5}|[\w:-]+)\])?: (?P<msg>.*)$")
# ruff's full format: CODE [*] message, the location on the next line
_RUFF = re.compile(r"^(?P<code>[A-Z]{1,4}\d{2,4}) (?:\[\*\] )?(?P<msg>.*)$")
_ARROW = re.compile(r"^\s*-->\s*(?P<file>[^\s:][^:]*?):(?P<line>\d+)(?::(?P<col>\d+))?\s*$")
_RUST_LINT = re.compile(r"#\[(?:warn|deny)\((?P<lint>[\w:]+)\)\]")
# eslint stylish: a file's path alone, then "  12:5  error  message  rule-id" rows
_ESLINT_FILE = re.compile(r"^(?:[A-Za-z]:\\|/|\.{1,2}/)?[^\s:]+\.[A-Za-z0-9]+$")
_ESLINT_ROW = re.compile(r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>error|warning)\s+(?P<msg>.+?)(?:\s{2,}(?P<code>[@\w/-]+))?\s*$")

# Lines that open a scope for the diagnostics after them (pylint's `************* Module h11._util` too).
_SCOPE = re.compile(r"^\*{5,} Module \S+$|^(?:\S[^:]*: )?(?:In (?:member |static )?function|In constructor|In destructor|"
                    r"In lambda function|In instantiation of|At (?:top|global) level|In (?:static )?member function)"
                    r".*:$")
_GO_PACKAGE = re.compile(r"^# [\w./-]+$")
# An include stack leading to the next header (which is often a note of the diagnostic before it).
_PREFIX = re.compile(r"^(?:In file included from |\s+from |In module imported from )")
_SUMMARY = re.compile(
    r"^(?:\d+ (?:warnings?|errors?)(?: and \d+ errors?)? generated\.?"
    r"|Found \d+ errors? in \d+ files?.*|Found \d+ errors?\.?|Found \d+ errors? \(.*|Success: no issues found.*"
    r"|\[\*\] \d+ fixable.*|No fixes available.*|All checks passed!?"
    r"|(?:error|warning): aborting due to .*|(?:error|warning): (?:`[^`]+` \([^)]*\) )?generated \d+ warnings?.*"
    r"|(?:error|warning): \d+ warnings? emitted.*|error: could not compile .*|warning: build failed.*"
    r"|Some errors have detailed explanations.*|For more information about (?:this|an) error.*"
    r"|\u2716 \d+ problems? .*|\s+\d+ errors? and \d+ warnings? potentially fixable.*"
    r"|Errors\s+Files|\s+\d+\s+\S+:\d+|compilation terminated\.|make(?:\[\d+\])?: \*\*\* .*|ninja: build stopped.*"
    r"|cc1\S*: all warnings being treated as errors|\d+ errors?|\d+ warnings?"
    r"|\d+ errors?, \d+ warnings?, \d+ informations?|0 errors, .*|-{10,}|Your code has been rated at .*)\s*$"
)
_PROGRESS = re.compile(r"^\s*(?:Compiling|Checking|Finished|Running|Building|Blocking|Updating|Downloaded|Downloading|"
                       r"Fresh|Locking|Adding|Documenting)\s+\S")
# Any header above, loosely: a fast first test of whether an output holds diagnostics at all.
_QUICK = re.compile(
    r"^[^\s:(][^:\n]*:\d+:(?:\d+:)?(?:\d+:\d+:)? (?:fatal error|error|warning|note|remark|info|help|[A-Z]{1,4}\d{2,4})"
    r"|^[^\s(][^(\n]*\(\d+,\d+\): |^\S[^:\n]*:\d+:\d+ - |^(?:error|warning)(?:\[[^\]\n]*\])?: |^[A-Z]{1,4}\d{2,4} "
    r"|^[ \t]+\d+:\d+[ \t]+(?:error|warning)\s|^[ \t]+\S[^:\n]*:\d+:\d+ - (?:error|warning|information): "
    r"|^[^\s:]+\.go:\d+:\d+: "
)
_HEADER_WORDS = ("error", "warning", "note:", "-->", ".go:", "information")
_LINT_CODE = re.compile(r":\d+:\d+:? [A-Z]{1,4}\d{2,4}\b")
# Diagnostics are dense: this many first lines hold several headers of any real compiler's output.
PROBE_LINES = 200


# Lines a diagnostic's body is made of: gutter, source and caret lines, notes, help, related info.
_CARET = re.compile(r"^\s*\^[~^]*\s*$")
_BODY = re.compile(r"^\s*\d+(?:\s|$)|^\s*(?:\d+\s*)?[|:]|^\s*[=\-+]\s|^\s+\S|^\s*[\^~]+|^\s*\.\.\.\s*$|^(?:help|note|= )|^\s*$")


@dataclass(frozen=True)
class Diagnostic:
    start: int  # first line (0-based) of the unit
    end: int  # one past its last line
    severity: str  # "error", "warning" or "lint" (a linter's finding, grouped like a warning)
    code: str  # the flag, code or rule ("-Wshadow", "E0308", "TS2339", "unused-ignore", "no-undef"), or ""
    file: str
    line: int | None
    message: str


def _clean(line: str) -> str:
    return _ANSI.sub("", line) if "\x1b" in line else line


def _header(lines: list[str], i: int) -> tuple[str, str, str, int | None, str] | None:
    """(severity, code, file, line, message) if line i opens a diagnostic, else None."""
    ln = lines[i]
    if not _QUICK.match(ln):
        return None  # one pattern for all of them: most lines of a diagnostic are its body
    m = _GCC.match(ln)
    if m:
        msg = m.group("msg")
        cm = _GCC_CODE.search(msg)
        code = (cm.group("code") or cm.group("code2")) if cm else ""
        sev = "error" if m.group("sev") in ("error", "fatal error") else m.group("sev")
        return sev, code, m.group("file"), int(m.group("line")), msg
    for rx in (_TSC, _TSC_PRETTY):
        m = rx.match(ln)
        if m:
            return m.group("sev"), m.group("code"), m.group("file"), int(m.group("line")), m.group("msg")
    m = _PYRIGHT.match(ln)
    if m:
        return m.group("sev"), "", m.group("file"), int(m.group("line")), m.group("msg")
    m = _GO.match(ln)
    if m:
        return "error", "", m.group("file"), int(m.group("line")), m.group("msg")
    m = _LINT.match(ln)
    if m:
        # pylint's E and F messages (`E0401: ... (import-error)`) are errors; other codes are findings.
        sev = "error" if _PYLINT_ERROR.fullmatch(m.group("code")) and m.group("msg").endswith(")") else "lint"
        return sev, m.group("code"), m.group("file"), int(m.group("line")), m.group("msg")
    m = _RUST.match(ln)
    ruff = None if m else _RUFF.match(ln)
    if not m and not ruff:
        return None
    nxt = next((lines[k] for k in range(i + 1, min(i + 3, len(lines))) if lines[k].strip()), "")
    arrow = _ARROW.match(nxt)
    if m and not _SUMMARY.match(ln):
        return (m.group("sev"), m.group("code") or "", arrow.group("file") if arrow else "",
                int(arrow.group("line")) if arrow else None, m.group("msg"))
    if ruff and arrow:
        return "lint", ruff.group("code"), arrow.group("file"), int(arrow.group("line")), ruff.group("msg")
    return None


def parse(text: str) -> tuple[list[Diagnostic], list[str]]:
    """The diagnostics of `text` and the role of every line: "unit", "scope", "summary", "progress" or
    "other" (a line no format explains)."""
    lines = [_clean(ln) for ln in text.split("\n")]
    n = len(lines)
    role = ["other"] * n
    units: list[Diagnostic] = []
    cur: dict | None = None
    pending: list[int] = []
    eslint_file = ""

    def close(end: int) -> None:
        nonlocal cur
        if cur is not None:
            code = cur["code"]
            if not code:
                # rustc names a warning's lint in its notes; pyright ends a message's last line with its rule.
                body = "\n".join(lines[cur["start"]:end])
                lint = _RUST_LINT.search(body) if cur["sev"] == "warning" else None
                last = next((ln for ln in reversed(lines[cur["start"]:end]) if ln.strip()), "")
                rule = None if lint else _PYRIGHT_RULE.search(last)
                code = lint.group("lint") if lint else rule.group("code") if rule else ""
            units.append(Diagnostic(cur["start"], end, cur["sev"], code, cur["file"], cur["line"], cur["msg"]))
            cur = None

    for i, ln in enumerate(lines):
        h = _header(lines, i)
        if h is None and eslint_file:
            m = _ESLINT_ROW.match(ln)
            if m:
                h = (m.group("sev"), m.group("code") or "", eslint_file, int(m.group("line")), m.group("msg"))
        if h is not None:
            sev, code, file, line, msg = h
            if sev in ("note", "help", "remark", "info", "message") and cur is not None:
                for k in pending:
                    role[k] = "unit"
                pending = []
                role[i] = "unit"
                continue
            start = pending[0] if pending else i
            close(start)
            for k in range(start, i + 1):
                role[k] = "unit"
            pending = []
            cur = {"start": start, "sev": "error" if sev == "fatal error" else sev, "code": code,
                   "file": file, "line": line, "msg": msg}
            continue
        if _PREFIX.match(ln):
            pending.append(i)
            continue
        if pending:
            # An include stack not followed by a header: ordinary lines after all.
            for k in pending:
                role[k] = "unit" if cur is not None else "other"
            pending = []
        if _SUMMARY.match(ln):
            close(i)
            role[i] = "summary"
            continue
        if _SCOPE.match(ln):
            close(i)
            role[i] = "scope"
            continue
        if _PROGRESS.match(ln):
            close(i)
            role[i] = "progress"
            continue
        if _ESLINT_FILE.match(ln) and i + 1 < n and _ESLINT_ROW.match(lines[i + 1]):
            close(i)
            eslint_file = ln.strip()
            role[i] = "scope"
            continue
        if (_ESLINT_FILE.match(ln) and i + 1 < n and _PYRIGHT.match(lines[i + 1])) or _GO_PACKAGE.match(ln):
            close(i)  # pyright's file line, go vet's "# package" line
            eslint_file = ""
            role[i] = "scope"
            continue
        if cur is not None:
            if eslint_file and cur["file"] == eslint_file and ln.strip():
                close(i)  # eslint rows are one line each: text after them is not theirs
            else:
                role[i] = "unit"  # every line up to the next header, scope or summary is the diagnostic's
    close(n)
    return units, role


def looks_like_diagnostics(lines: list[str]) -> bool:
    """Diagnostics of a compiler or linter: at least MIN_DIAGNOSTICS of them, and together with their
    scopes, summaries and bodies of recognised shape they explain most of the output."""
    probe = [_clean(ln) for ln in lines[:PROBE_LINES]]
    # Cheap tests first: words every header format carries (or a linter's `:3:1: E501`), then one pattern
    # per line; most outputs have no line shaped like a diagnostic's header at all.
    joined = "\n".join(probe)
    if not any(w in joined for w in _HEADER_WORDS) and not _LINT_CODE.search(joined):
        return False
    if sum(1 for ln in probe if _QUICK.match(ln)) < MIN_DIAGNOSTICS:
        return False
    if sum(1 for k in range(len(probe)) if _header(probe, k) or _ESLINT_ROW.match(probe[k])) < MIN_DIAGNOSTICS:
        return False
    body = [ln for ln in lines if ln.strip()]
    clean = [_clean(ln) for ln in lines]
    units, role = parse("\n".join(lines))
    if len(units) < MIN_DIAGNOSTICS:
        return False
    explained = own = 0
    for k, ln in enumerate(clean):
        if not ln.strip():
            continue
        r = role[k]
        if r == "progress":
            explained += 1
        elif r in ("scope", "summary") or r == "unit" and (
                _header(clean, k) or _BODY.match(ln) or _PREFIX.match(ln) or _ESLINT_ROW.match(ln) or _ARROW.match(ln)
                or k + 1 < len(clean) and _CARET.match(clean[k + 1])):  # javac prints the source line unindented
            explained += 1
            own += 1
    return explained >= EXPLAINED_SHARE * len(body) and own >= DIAGNOSTIC_SHARE * len(body)


def _kind(d: Diagnostic) -> str:
    """A diagnostic's kind: its code, or its message with quoted names and numbers masked."""
    return d.code or re.sub(r"[`'\u2018\u2019\"][^`'\u2018\u2019\"]*[`'\u2018\u2019\"]|\d+", "#", d.message)[:80]


def _short(path: str) -> str:
    """A path as a marker names it: whole when short, else its last two components."""
    p = path.replace("\\", "/")
    if len(p) <= 48:
        return p
    parts = p.rsplit("/", 2)
    return ".../" + "/".join(parts[-2:])


def compress_diagnostics(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    n = len(lines)
    units, role = parse(text)
    if not units:
        raise ValueError("no diagnostics")
    query = parse_query(ctx.query)
    qtext = ctx.query or ""
    keep_unit = [False] * len(units)

    errors = [u for u, d in enumerate(units) if d.severity == "error"]
    if len(errors) <= ERRORS_ALL_MAX:
        for u in errors:
            keep_unit[u] = True
    else:
        taken: Counter[str] = Counter()
        for u in errors:
            k = _kind(units[u])
            if taken[k] < ERRORS_PER_KIND:
                taken[k] += 1
                keep_unit[u] = True
    by_kind: dict[str, list[int]] = {}
    for u, d in enumerate(units):
        if d.severity != "error":
            by_kind.setdefault(_kind(d), []).append(u)
    for us in by_kind.values():
        keep_unit[us[0]] = True
        if len(us) <= RARE_CODE_COUNT:
            for u in us:
                keep_unit[u] = True

    # What the question names: a file, a code or flag, a line, an identifier in a message.
    texts = []
    for d in units:
        base = d.file.replace("\\", "/").rsplit("/", 1)[-1]
        texts.append(" ".join((d.file, base, d.code, d.code.lstrip("-"), d.severity,
                               f"{base}:{d.line}" if d.line is not None else "",
                               "\n".join(_clean(ln) for ln in lines[d.start:d.end]))))
    terms = facets.informative_terms(query, texts) if query else {}
    # Markers count lines (as every compressor's "K mention 'x'" does), in the text as sent, colour codes
    # and case included: a term is a whole word or identifier part ('docker' in 'CorruptDockerOverlay').
    line_terms = claims.counted_terms(query, lines) if query else {}
    # "line 869 of dateutil/parser/_parser.py", "gzlog.c:442": the diagnostics at that line (of the named
    # file) are what is asked, not every diagnostic of the file.
    at_line = _at_asked_line(query, units)
    for u in at_line:
        keep_unit[u] = True
    for term, where in terms.items():
        if _names_code_or_file(term, where, units):
            if at_line and _names_file(term, units[next(iter(at_line))]):
                continue
            limit = NAMED_ALL_MAX
        elif facets.keep_all(where, len(units), QUERY_ALL_MAX):
            limit = QUERY_ALL_MAX
        else:
            continue
        for u in sorted(where)[:limit]:
            keep_unit[u] = True

    # "Apart from the -Wtraditional-conversion warnings, which warnings...": the question excludes codes
    # and asks about the rest, so every diagnostic of the other codes is kept (while they are not too many).
    excluded = {u for u, d in enumerate(units) if any(_is_code(t, d.code) for t in query.negated)}
    if excluded:
        rest = [u for u in range(len(units)) if u not in excluded]
        if len(rest) <= NAMED_ALL_MAX:
            for u in rest:
                keep_unit[u] = True
    # "the S rules", "SIM findings": a linter's code family named by its letters.
    for fam in _families(qtext, units):
        for u in [u for u, d in enumerate(units) if _family(d.code) == fam][:NAMED_ALL_MAX]:
            keep_unit[u] = True

    keep = [r in ("summary",) or (r == "other" and bool(lines[i].strip())) for i, r in enumerate(role)]
    unit_of = [-1] * n
    for u, d in enumerate(units):
        for k in range(d.start, d.end):
            unit_of[k] = u
            keep[k] = keep_unit[u]
    # A scope line stays when a diagnostic under it (up to the next scope line) does.
    scope_start = None
    for i in range(n + 1):
        if i == n or role[i] == "scope":
            if scope_start is not None:
                keep[scope_start] = any(keep[k] for k in range(scope_start + 1, i) if unit_of[k] >= 0)
            scope_start = i if i < n else None
    for term in terms:
        for i in range(n):
            if role[i] == "progress" and term in lines[i].lower():
                keep[i] = True

    def describe(i: int, j: int) -> str:
        us = sorted({unit_of[k] for k in range(i, j) if unit_of[k] >= 0})
        parts: list[str] = []
        if us:
            sev = Counter(units[u].severity for u in us)
            noun = {"error": "error", "warning": "warning", "lint": "finding", "note": "note", "information": "information"}
            parts.append(", ".join(f"{c} {noun.get(s, s)}{'s' if c != 1 else ''}" for s, c in
                                   sorted(sev.items(), key=lambda sc: ("error", "warning", "lint").index(sc[0])
                                          if sc[0] in ("error", "warning", "lint") else 3)))
            codes = Counter(units[u].code for u in us if units[u].code)
            if codes:
                top = [f"{c} {code}" for code, c in codes.most_common(CODES_IN_MARKER)]
                rest = len(codes) - CODES_IN_MARKER
                parts.append("codes: " + ", ".join(top) + (f" and {rest} other codes" if rest > 0 else ""))
            files = list(dict.fromkeys(units[u].file for u in us if units[u].file))
            if len(files) == 1:
                nums = [units[u].line for u in us if units[u].line is not None]
                where = (f" (its lines {min(nums)}-{max(nums)})" if len(set(nums)) > 1 else
                         f" (its line {nums[0]})" if nums else "")
                parts.append(f"in {_short(files[0])}{where}")
            elif files:
                # How many each file holds, the files with most first: "which file has the most warnings?"
                per = Counter(units[u].file for u in us if units[u].file)
                top = sorted(per, key=lambda f: (-per[f], files.index(f)))[:FILES_IN_MARKER]
                rest = len(files) - len(top)
                parts.append(f"in {len(files)} files: " + ", ".join(f"{per[f]} in {_short(f)}" for f in top)
                             + (f" and {sum(per.values()) - sum(per[f] for f in top)} in {rest} other files" if rest else ""))
        progress = sum(1 for k in range(i, j) if role[k] == "progress")
        if progress:
            first = lines[next(k for k in range(i, j) if role[k] == "progress")].split()[0]
            parts.append(f"{progress} progress lines ('{first} ...')")
        if excluded and us:
            parts.append(f"{sum(1 for u in us if u in excluded)} of the excluded codes")
        parts.extend(facets.term_counts(line_terms, range(i, j), None, qtext))
        return lines_summary(i, j, fit(parts), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "diagnostics", "diagnostics", drops)


def _names_code_or_file(term: str, where: set[int], units: list[Diagnostic]) -> bool:
    """Does a question term name a code or a file exactly ("-Wshadow", "TS2339", "gzlog.c")? Then every
    diagnostic of it is kept, however many: the question is about them."""
    for u in where:
        d = units[u]
        base = d.file.replace("\\", "/").rsplit("/", 1)[-1].lower()
        if term in (d.code.lower(), d.code.lower().lstrip("-"), base, d.file.lower()):
            return True
    return False


def _is_code(term: str, code: str) -> bool:
    """Does a question's term name this code: "-Wshadow", "Wshadow" or "shadow" for gcc's flag."""
    c = code.lower().lstrip("-")
    return bool(c) and term.lower().lstrip("-") in (c, c[1:] if c.startswith("w") else c)


_FAMILY_TOKEN = re.compile(r"(?<![\w-])([A-Z]{1,4})(?![\w-])")
_FAMILY_NOUN = re.compile(r"^\W{0,3}(?:rules?|codes?|checks?|family|prefix|series|findings?|warnings?|errors?)\b", re.I)


def _family(code: str) -> str:
    m = re.fullmatch(r"([A-Z]{1,4})\d{2,4}", code)
    return m.group(1) if m else ""


def _families(question: str, units: list[Diagnostic]) -> set[str]:
    """Code families (the letters of `S101`, `SIM108`) the question names in capitals: a one-letter family
    only before "rules"/"codes"/"checks" ("the S rules"; a lone "I" or "A" is a word)."""
    present = {_family(d.code) for d in units} - {""}
    out = set()
    for m in _FAMILY_TOKEN.finditer(question):
        fam = m.group(1)
        if fam in present and (len(fam) > 1 or _FAMILY_NOUN.match(question[m.end():])):
            out.add(fam)
    return out


_FILE_LINE = re.compile(r"(?P<file>.+?):(?P<line>\d+)(?::\d+)?")


def _names_file(term: str, d: Diagnostic) -> bool:
    path = d.file.replace("\\", "/").lower()
    return bool(path) and (term == path or path.endswith("/" + term) or term.endswith("/" + path)
                           or term == path.rsplit("/", 1)[-1])


def _at_asked_line(query, units: list[Diagnostic]) -> set[int]:
    """The diagnostics at a line the question names ("line 869", "lines 40-50" starts at 40, "gzlog.c:442"),
    in the file it names when it names one; empty when it names no line or no diagnostic is there."""
    asked: list[tuple[str, int]] = [("", int(num)) for label, num in query.ids if label in ("line", "lines")]
    files = [t for t in query.strong if any(_names_file(t, d) for d in units)]
    for term in query.strong:
        m = _FILE_LINE.fullmatch(term)
        if m and any(_names_file(m.group("file"), d) for d in units):
            asked.append((m.group("file"), int(m.group("line"))))
    out = set()
    for file, line in asked:
        named = [file] if file else files
        out |= {u for u, d in enumerate(units)
                if d.line == line and (not named or any(_names_file(f, d) for f in named))}
    return out
