"""The agents' own output formats: line-numbered file views, and the notes agents put around an output.

Claude Code's Read prefixes each line with its number (`N<tab>`, or right-aligned `N→` in older
versions); `cat -n` and `nl -ba`, Codex's way of viewing a file, print `%6d<tab>`. Agents also wrap outputs
in notes of their own: Claude Code's `<system-reminder>` blocks (which lines of how many a partial view
shows), its `<persisted-output>` wrapper, `Exit code N`, a middle cut `... [N characters truncated] ...`;
Codex's exec_command header (`Chunk ID`, `Wall time`, `Process exited with code N`, `Original token count`,
`Output:`) and its own truncation note. The agent and the model rely on these notes: they are kept byte for
byte, and only the content between them is compressed.

A numbered view is compressed by what it shows: the prefixes are stripped for detection and compression,
every kept line goes out byte-identical (prefix included), the store keeps the dropped lines with their
prefixes, and each marker speaks in the file's line numbers and names the agent's own call that shows the
folded lines again (`Read` with offset/limit, `nl -ba FILE | sed -n A,Bp`), so a model that wants to Edit a
folded body knows exactly which lines to ask for.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, replace
from typing import Callable

from headroom.core import tokens
from headroom.core.compressors.base import Compressed, Context
from headroom.core.markers import MARKER_RE, SUMMARY_MAX_CHARS, make_marker

__all__ = ["NumberedLine", "compress_framed", "fetch_hint", "numbered_lines", "segments", "wants_exact"]

# A numbered run shorter than this is a snippet, not a file view: compressing it would save little.
VIEW_MIN_LINES = 20
# Numbered lines must make up this share of an output's lines to be read as a view (the rest are notes).
VIEW_MIN_SHARE = 0.5
# A path or command longer than this is left out of a marker's hint (a summary holds SUMMARY_MAX_CHARS).
HINT_MAX_CHARS = 160
# Lines the model asked for by number (Read with offset/limit, `sed -n A,Bp`) among lines an earlier
# output of the same file folded are the model following that marker (often to Edit them): kept whole up
# to this size. Any other range is a page the agent turns on its own, compressed as any view.
ASKED_RANGE_WHOLE_MAX_TOKENS = 4000

_NUMBERED = re.compile(r"( *)(\d{1,7})(\t|→)")
_REMINDER_OPEN = re.compile(r"^\s*<(system-reminder|persisted-output)>")
_PERSISTED_NOTE = re.compile(r"^\s*(?:Output too large|Full output saved to|Preview \(|\.\.\.\s*$|…\s*$)")
_CODEX_HEADER = re.compile(
    r"(?:Chunk ID|Wall time|Process running with session ID|Original token count|Total output lines|Exit code): "
    r"|Process exited with code -?\d+$")  # Codex 0.169 writes "Process exited with code 0", no colon
# Lines an agent writes into an output about the output: cuts (Claude Code's `... [N characters truncated]
# ...`, Codex's `…N tokens truncated…`, which may stand mid-line), Codex's truncation warning, Claude Code's
# Grep/Glob pagination and totals. The model reads them to know what it is not seeing.
_NOTE_LINE = re.compile(
    r"…\d[\d,]* (?:tokens|characters|chars|lines|bytes) truncated…"
    r"|^\s*(?:\.\.\.|…)?\s*\[\d[\d,]* (?:characters|chars|tokens|lines|bytes) truncated\]\s*(?:\.\.\.|…)?\s*$"
    r"|^Warning: truncated output \(original token count: \d+\)$|^Total output lines: \d+$"
    r"|^\[Showing results with pagination = [^\]\n]*\]$|^\(Showing \d+ of \d+ [^\n]*\)$"
    r"|^Found \d+ (?:files?|total occurrences across \d+ files?)\.?$"
    r"|^\[Code Mode session output limit reached: [^\n]*\]$")
NOTE_MAX_CHARS = 300  # a cut inside a longer line (a JSON result, say) leaves that line content
_EXIT_NOTE = re.compile(r"^Exit code -?\d+$")


@dataclass(frozen=True)
class NumberedLine:
    prefix: str  # the number and its separator, as printed ("   12\t", "12→")
    body: str  # the file's line
    number: int | None  # None for an unnumbered blank line inside the view (nl's default)


def numbered_lines(lines: list[str]) -> list[NumberedLine] | None:
    """`lines` as a numbered file view (numbers increasing, one prefix style), or None."""
    out: list[NumberedLine] = []
    last = None
    style = None
    for ln in lines:
        m = _NUMBERED.match(ln)
        if m is None:
            if ln.strip() or last is None:
                return None
            out.append(NumberedLine("", ln, None))
            continue
        n = int(m.group(2))
        sep = m.group(3)
        if style is None:
            style = sep
        if sep != style or (last is not None and n != last + 1):
            return None  # a file view numbers its lines one by one (nl leaves blank lines unnumbered)
        last = n
        out.append(NumberedLine(m.group(0), ln[m.end():], n))
    return out if last is not None else None


def segments(lines: list[str], file_read: bool = False) -> list[tuple[str, int, int]] | None:
    """The output cut into ("note" | "view" | "content", start, end) line ranges, or None when it has no
    agent notes and no numbered view (then it is compressed as one piece, as any output).

    `file_read`: the call that made the output reads files (Claude Code's Read, `nl`, `cat -n`). Without it,
    only the padded (`%6d<tab>`) and arrow styles are views: a bare `N<tab>` is also a TSV's id column."""
    n = len(lines)
    kinds = [""] * n
    i = 0
    if i < n and _EXIT_NOTE.match(lines[0]):
        kinds[0] = "note"
        i = 1
    # Codex's exec_command header: its fields, then `Output:`.
    j = i
    while j < n and j - i < 8 and _CODEX_HEADER.match(lines[j]):
        j += 1
    if j > i and j < n and lines[j] == "Output:":
        for k in range(i, j + 1):
            kinds[k] = "note"
    k = 0
    while k < n:
        m = _REMINDER_OPEN.match(lines[k])
        if m:
            close = f"</{m.group(1)}>"
            end = next((e for e in range(k, n) if close in lines[e]), None)
            if end is not None:
                for e in range(k, end + 1):
                    # A persisted output's preview is content like any other (its errors are kept or counted);
                    # the wrapper and what it says of the full output (its size, its file) are notes.
                    if m.group(1) != "persisted-output" or e in (k, end) or _PERSISTED_NOTE.match(lines[e]):
                        kinds[e] = "note"
                k = end + 1
                continue
        if not kinds[k] and len(lines[k]) <= NOTE_MAX_CHARS and _NOTE_LINE.search(lines[k]):
            kinds[k] = "note"
        k += 1
    # Blank lines that set a note apart belong to it (`...\n\n[Showing results ...]`).
    for k in [k for k in range(n) if kinds[k] == "note"]:
        for step in (-1, 1):
            j = k + step
            while 0 <= j < n and not kinds[j] and not lines[j].strip():
                kinds[j] = "note"
                j += step
    # Numbered runs among what is left.
    runs: list[tuple[int, int]] = []
    k = 0
    while k < n:
        if kinds[k] or not _NUMBERED.match(lines[k]):
            k += 1
            continue
        e = k
        while e < n and not kinds[e] and (_NUMBERED.match(lines[e]) or not lines[e].strip()):
            e += 1
        while e > k and not lines[e - 1].strip():
            e -= 1
        view = numbered_lines(lines[k:e])
        if view is not None and e - k >= VIEW_MIN_LINES and (file_read or _printed_by_a_viewer(view)):
            runs.append((k, e))
            for x in range(k, e):
                kinds[x] = "view"
        k = max(e, k + 1)
    viewed = sum(e - s for s, e in runs)
    if viewed and viewed < VIEW_MIN_SHARE * sum(1 for ln in lines if ln.strip()):
        for s, e in runs:  # a few numbered lines in a larger output: content like any other
            for x in range(s, e):
                kinds[x] = ""
        runs = []
    if not runs and "note" not in kinds:
        return None
    run_end = dict(runs)
    out: list[tuple[str, int, int]] = []
    idx = 0
    while idx < n:
        kind = kinds[idx] or "content"
        end = idx + 1
        if kind == "view":
            end = run_end[idx]
        else:
            while end < n and (kinds[end] or "content") == kind:
                end += 1
        out.append((kind, idx, end))
        idx = end
    return out


def _printed_by_a_viewer(view: list[NumberedLine]) -> bool:
    """Numbers right-aligned in a fixed width (cat -n, nl: six columns) or followed by an arrow (Read)."""
    prefixes = [r.prefix for r in view if r.number is not None]
    if prefixes[0].endswith("→"):
        return True
    return all(len(p) == 7 for p in prefixes if len(p.strip()) < 6) and prefixes[0].startswith(" ")


Inner = Callable[[str, Context], Compressed]


def compress_framed(text: str, ctx: Context, inner: Inner) -> Compressed | None:
    """Compress an output that carries agent notes or numbered views, keeping the notes byte for byte;
    None when it has neither (the caller compresses it as one piece)."""
    from headroom.core.memo import MEMO

    one_file = searched_file(ctx)
    if one_file is None and not MEMO.get(_worth_a_look, text, lambda: _worth_a_look(text)):
        return None
    lines = text.split("\n")
    printed = printed_file(ctx)
    numbers = _printed_numbers(lines, printed[1]) if printed is not None and len(lines) >= VIEW_MIN_LINES else None
    segs = segments(lines, file_read=_reads_files(ctx))
    if segs is None and numbers is not None:
        segs = [("content", 0, len(lines))]  # one file's lines as they are, no notes: a view by position
    if segs is None:
        # No notes and no view: the whole output may still be a script's result object or one file's
        # matches (each parsed once, here).
        if len(lines) == 1 and (found := _result_object(text)) is not None:
            got = _compress_result_object(*found, ctx, inner)
        elif one_file is not None and _matches_of_one_file(lines):
            got = _compress_matches(lines, one_file, ctx, inner)
        else:
            return None
        if got is None:
            return Compressed(text, "text", "none")
        return Compressed("\n".join(got[0]), got[2], "framed", got[1])
    out: list[str] = []
    drops: dict[str, str] = {}
    kinds: list[str] = []
    # Each part's tokens, when notes split the content (a cut's head and tail): a part's "read whole" size is
    # judged with the others (Context.rest_tokens).
    contents = [(s, e) for kind, s, e in segs if kind == "content"]
    tokens_of = ({s: tokens.count("\n".join(lines[s:e]), ctx.encoding) for s, e in contents} if len(contents) > 1
                 else {s: 0 for s, _ in contents})
    content_tokens = sum(tokens_of.values())
    # A diff's tail after a cut starts inside a hunk of a file whose header is gone: it continues the diff.
    head_diff: tuple[int, int] | None = None
    if len(contents) > 1:
        from headroom.core.compressors import detect, diff

        first = contents[0]
        if detect("\n".join(lines[first[0]:first[1]])) == "diff":
            head_diff = first[0], len(set().union(*(diff.files_named(lines[a:b]) for a, b in contents)))
    for kind, s, e in segs:
        part = lines[s:e]
        if kind == "note":
            out.extend(part)
            continue
        if kind == "view":
            rows = numbered_lines(part)
            got = None if _asked_range(ctx, [r.number for r in rows or ()], part) else _compress_view(part, ctx, inner)
        elif one_file is not None and _matches_of_one_file(part):
            got = _compress_matches(part, one_file, ctx, inner)
        elif numbers is not None and any(x is not None for x in numbers[s:e]):
            nums = numbers[s:e]
            got = None if _asked_range(ctx, nums, part) else _compress_mapped(part, part, nums, ctx, inner, 0)
        elif len(solid := [ln for ln in part if ln.strip()]) == 1 and (found := _result_object(solid[0])) is not None:
            got = _compress_result_object(*found, ctx, inner)
            if got is not None:
                got = ([got[0][0] if ln == solid[0] else ln for ln in part], got[1], got[2])
        else:
            sub = replace(ctx, tokens=None, line_offset=ctx.line_offset + s,
                          rest_tokens=ctx.rest_tokens + content_tokens - tokens_of[s])
            if head_diff is not None:
                from headroom.core.compressors import diff

                sub = replace(sub, diff_files=head_diff[1],
                              continues="diff" if s != head_diff[0] and diff.continues_diff(part) else "")
            r = inner("\n".join(part), sub)
            got = (r.text.split("\n"), dict(r.drops), r.content_type) if r.drops else None
        if got is None:
            out.extend(part)
            continue
        new_lines, new_drops, content_type = got
        out.extend(new_lines)
        drops.update(new_drops)
        kinds.append(content_type)
    if not drops:
        return Compressed(text, "text", "none")
    content_type = max(sorted(set(kinds)), key=kinds.count) if kinds else "text"
    return Compressed("\n".join(out), content_type, "view" if any(k == "view" for k, _, _ in segs) else "framed",
                      drops)


# What a view or a note starts with. Literal tests run in C at memory speed; only the numbered-line
# test is a regex, anchored at line starts (one alternation of many literals would be tried at every
# character of a large output).
_NUMBERED_LINE = re.compile(r"(?m)^ *\d{1,7}[\t→]")
_NOTE_MARKS = ("<system-reminder>", "<persisted-output>", "truncated", "\n[Showing ", "\n(Showing ",
               "[Code Mode session output limit")
_NOTE_STARTS = ("Exit code", "Chunk ID: ", "Found ", "{\"")


def _worth_a_look(text: str) -> bool:
    """A cheap test that an output may hold notes, a numbered view or a result object's tail (most
    outputs hold none of them)."""
    return (text.startswith(_NOTE_STARTS) or any(mark in text for mark in _NOTE_MARKS)
            or _NUMBERED_LINE.search(text) is not None or text.endswith("}") and "\n" not in text)


# A script's result object (Codex's `text(r)` prints exec_command's whole result as one line of JSON): when
# one string field holds this share of it, that field is the output, and is compressed as one.
RESULT_FIELD_MIN_SHARE = 0.8
_QUOTE = re.compile(r'(?<!\\)"')  # a quote not escaped (an escaped backslash before it only joins pieces)


def _result_object(line: str) -> tuple[str, str, str] | None:
    """(text before, the field's text, text after) when `line` is a JSON object that one multi-line string
    field dominates, and that field's encoding stands in it exactly once (so only that field's text
    changes); also when Codex cut the line inside that field (`..."output":"...…N tokens truncated…`)."""
    if len(line) < 2000:
        return None
    if not line.startswith("{"):
        return _tail_result_object(line)
    # One string holding most of the line has no unescaped quote in it: a cheap test before parsing a
    # JSON document that is not such an object (an API's compact answer).
    if max(map(len, _QUOTE.split(line))) < RESULT_FIELD_MIN_SHARE * len(line):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return _cut_result_object(line)
    if not isinstance(obj, dict):
        return None
    field = max((k for k, v in obj.items() if isinstance(v, str)), key=lambda k: len(obj[k]), default=None)
    if field is None or len(obj[field]) < RESULT_FIELD_MIN_SHARE * len(line) or "\n" not in obj[field]:
        return None
    encoded = json.dumps(obj[field], ensure_ascii=False)
    if line.count(encoded) != 1:
        return None  # escaped another way than Python's (e.g. non-ASCII as \\u escapes): left as it is
    start = line.index(encoded)
    return line[: start + 1], obj[field], line[start + len(encoded) - 1 :]


_CUT_AT_END = re.compile(r"…\d[\d,]* tokens truncated…$")
_STRING_FIELD = re.compile(r'"[A-Za-z_]\w*":"')
ESCAPE_MAX_CHARS = 6  # `\\uXXXX`: an escape the cut halved is left as it is, after the text


def _cut_result_object(line: str) -> tuple[str, str, str] | None:
    """A result object Codex cut at its budget inside the output field: the field's text up to the cut."""
    cut = _CUT_AT_END.search(line)
    fields = list(_STRING_FIELD.finditer(line, 0, cut.start())) if cut else []
    if not fields or cut.start() - fields[-1].end() < RESULT_FIELD_MIN_SHARE * len(line):
        return None
    start = fields[-1].end()
    escaped = line[start : cut.start()]
    for trim in range(ESCAPE_MAX_CHARS + 1):
        kept = escaped[: len(escaped) - trim]
        try:
            text = json.loads(f'"{kept}"')
        except ValueError:
            continue
        if "\n" in text and json.dumps(text, ensure_ascii=False)[1:-1] == kept:
            return line[:start], text, line[start + len(kept) :]
        return None
    return None


# The end of a result object whose beginning Codex cut away (its Code Mode output budget keeps the head and
# the tail of a long `text(r)`): the output field's last characters, then the object's close.
_TAIL_END = re.compile(r'"(?:,"[A-Za-z_]\w*":(?:-?\d[\d.eE+-]*|true|false|null|"[^"\\\n]{0,200}"))*\}$')


def _tail_result_object(line: str) -> tuple[str, str, str] | None:
    """A result object's tail, cut at its start (maybe inside an escape): the output field's text."""
    end = _TAIL_END.search(line, max(0, len(line) - 2000))
    if end is None or "\n" in line:
        return None
    escaped = line[: end.start()]
    if _QUOTE.search(escaped) and max(map(len, _QUOTE.split(escaped))) < RESULT_FIELD_MIN_SHARE * len(line):
        return None  # not one string: a JSON document's last field
    for trim in range(ESCAPE_MAX_CHARS + 1):
        kept = escaped[trim:]
        if _QUOTE.search(kept):
            return None
        try:
            text = json.loads(f'"{kept}"')
        except ValueError:
            continue
        if "\n" in text and json.dumps(text, ensure_ascii=False)[1:-1] == kept:
            return line[:trim], text, line[end.start():]
        return None
    return None


def _compress_result_object(before: str, value: str, after: str, ctx: Context,
                            inner: Inner) -> tuple[list[str], dict[str, str], str] | None:
    sub = replace(ctx, tokens=None)
    # The field is an output like any other: it may itself be a numbered view or carry notes.
    r = compress_framed(value, sub, inner) or inner(value, sub)
    if not r.drops:
        return None
    return [before + json.dumps(r.text, ensure_ascii=False)[1:-1] + after], dict(r.drops), r.content_type


def _compress_view(part: list[str], ctx: Context, inner: Inner) -> tuple[list[str], dict[str, str], str] | None:
    rows = numbered_lines(part)
    if rows is None:
        return None
    first = next(r.number for r in rows if r.number is not None)
    return _compress_mapped(part, [r.body for r in rows], [r.number for r in rows], ctx, inner, first - 1)


def _compress_matches(part: list[str], path: str, ctx: Context,
                      inner: Inner) -> tuple[list[str], dict[str, str], str] | None:
    """grep -n / rg -n over one file prints `N:text` (context lines `N-text`): compressed as the search
    results they are, with the file's path put in front for the search compressor only."""
    from headroom.core.compressors import get

    rows = [_MATCH_LINE.match(ln) for ln in part]
    shown = [f"{path}{m.group(2)}{ln}" if m else ln for m, ln in zip(rows, part)]
    numbers = [int(m.group(1)) if m else None for m in rows]
    # The search compressor names the file and its line range ("3 more matches in PATH (its lines 40-52)");
    # in a search of one file the agent named the file itself and the marker states the range in the file's
    # numbers ("file lines 40-52"), so both are said once.
    where = re.compile(rf"(more match(?:es)?) in {re.escape(path)}(?: \(its lines? \d+(?:-\d+)?\))?")
    return _compress_mapped(part, shown, numbers, ctx, lambda text, c: get("search")(text, c), 0,
                            tidy=lambda summary: where.sub(r"\1", summary, count=1))


def _compress_mapped(part: list[str], shown: list[str], numbers: list[int | None], ctx: Context, compress: Inner,
                     offset: int, tidy: Callable[[str], str] | None = None
                     ) -> tuple[list[str], dict[str, str], str] | None:
    """Compress `shown` (the lines of `part` as the compressor should read them) and give back `part`'s own
    lines: every kept line as it was, each dropped run under a marker in the file's line numbers, stored as
    it was. None when the compressor rewrote a line (then the output is kept whole)."""
    # The compressor's own line numbers are the file's.
    r = compress("\n".join(shown), replace(ctx, tokens=None, line_offset=offset))
    if not r.drops:
        return None
    hint = fetch_hint(ctx)
    out: list[str] = []
    drops: dict[str, str] = {}
    p = 0
    for line in r.text.split("\n"):
        m = MARKER_RE.search(line)
        if m is not None and line.strip() == m.group(0) and m.group("key") in r.drops:
            dropped = r.drops[m.group("key")]
            n = dropped.count("\n") + 1
            if "\n".join(shown[p : p + n]) != dropped:
                return None
            inner_summary = tidy(m.group("summary")) if tidy is not None else m.group("summary")
            summary = _file_summary(inner_summary, [x for x in numbers[p : p + n] if x is not None], n, hint)
            marker, key = make_marker(summary, "\n".join(part[p : p + n]))
            drops[key] = "\n".join(part[p : p + n])
            out.append(marker)
            p += n
        elif p < len(shown) and line == shown[p]:
            out.append(part[p])
            p += 1
        else:
            return None  # the compressor rewrote a line (JSON, folded repeats): keep the lines whole
    if p != len(shown):
        return None
    return out, drops, r.content_type


_MATCH_LINE = re.compile(r"^(\d{1,7})([:-])")


def _matches_of_one_file(lines: list[str]) -> bool:
    """grep -n of one file: nearly every line `N:text` or `N-text` (or `--` between context blocks), the
    numbers going up."""
    last = 0
    numbered = 0
    for ln in lines:
        m = _MATCH_LINE.match(ln)
        if m is None:
            if ln.strip() not in ("", "--"):
                return False
            continue
        n = int(m.group(1))
        if n < last:
            return False
        last = n
        numbered += 1
    return numbered >= VIEW_MIN_LINES


_SEARCH_COMMAND = re.compile(r"""\b(?:rg|grep|egrep|git\s+grep)\b[^|;&\n]*?\s(?P<path>[^\s|;&'"`*?]+\.\w+)["']?\s*(?:$|[|;&)])""")


def searched_file(ctx: Context) -> str | None:
    """The one file a search call looked in (Claude Code's Grep with a file `path`, `rg -n X FILE`)."""
    args = ctx.tool_args
    if not args:
        return None
    parsed = parsed_args(args)
    if isinstance(parsed, dict) and ctx.tool_name == "Grep":
        path = parsed.get("path")
        base = path.rsplit("/", 1)[-1] if isinstance(path, str) else ""
        return path if "." in base.strip(".") and len(path) <= HINT_MAX_CHARS else None
    command = parsed.get("command", parsed.get("cmd")) if isinstance(parsed, dict) else args
    m = _SEARCH_COMMAND.search(command) if isinstance(command, str) else None
    return m.group("path") if m and len(m.group("path")) <= HINT_MAX_CHARS else None


@functools.lru_cache(maxsize=512)
def parsed_args(args: str) -> object:
    """A call's arguments as JSON (a dict, or a string such as Codex's exec JavaScript), None if not JSON."""
    if not args:
        return None
    try:
        return json.loads(args)
    except ValueError:
        return None


def _asked_range(ctx: Context, file_numbers: list[int | None], part: list[str]) -> bool:
    """The view (its lines' numbers in the file) shows lines an earlier output of this file folded (the
    model is following a marker's hint), and they are few enough to read whole."""
    if not ctx.folded_lines:
        return False
    numbers = [x for x in file_numbers if x is not None]
    if not numbers:
        return False
    first, last = numbers[0], numbers[-1]
    if not any(a <= last and first <= b for a, b in ctx.folded_lines):
        return False
    from headroom.core import tokens

    return tokens.count("\n".join(part), ctx.encoding) <= ASKED_RANGE_WHOLE_MAX_TOKENS


_FOLDED = re.compile(r"\bfile lines? (\d+)(?:-(\d+))?")
# The agent's call a view's marker names, which states the file lines it folds.
_READ_HINT = re.compile(r"(?:^|; )Read offset=(\d+) limit=(\d+)(?=;|$)")
_SED_HINT = re.compile(r"(?:^|; )(?:nl -ba \S+ \| )?sed -n (\d+),(\d+)p(?: \S+)?(?=;|$)")


def hint_range(summary: str) -> tuple[int, int, str] | None:
    """(first, last, the call) of the agent's call a view's marker names for its lines ("Read offset=A
    limit=N", "sed -n A,Bp F", "nl -ba F | sed -n A,Bp"); None if it names none."""
    if (m := _READ_HINT.search(summary)) is not None:
        return int(m.group(1)), int(m.group(1)) + int(m.group(2)) - 1, m.group(0).removeprefix("; ")
    if (m := _SED_HINT.search(summary)) is not None:
        return int(m.group(1)), int(m.group(2)), m.group(0).removeprefix("; ")
    return None


def file_range(summary: str) -> tuple[int, int] | None:
    """The file lines (first, last) a view's marker folds: its "file lines A-B", or the range of the call it
    names; None for a marker of another output."""
    if (m := _FOLDED.search(summary)) is not None:
        return int(m.group(1)), int(m.group(2) or m.group(1))
    hint = hint_range(summary)
    return hint[:2] if hint is not None else None


def folded_ranges(compressed: str) -> list[tuple[int, int]]:
    """The file line ranges the markers of a compressed view fold."""
    from headroom.core.markers import find_markers

    return [r for mk in find_markers(compressed) if (r := file_range(mk.summary)) is not None]


_SED_FILE = re.compile(r"""\bsed\s+-n\s+['"]?\d+(?:,\d+)?p['"]?\s+(?P<path>[^\s|;&'"`<>()]+)""")


# A command that prints one file's lines as they are: `cat F`, `sed -n A,Bp F` (Codex's shell, Bash).
_PRINT_COMMAND = re.compile(
    r"""^\s*(?:cat\s+(?P<cat>[^\s|;&<>'"`()*?$\\]+)|sed\s+-n\s+(?P<q>['"]?)(?P<a>\d+)(?:,\d+)?p(?P=q)\s+"""
    r"""(?P<sed>[^\s|;&<>'"`()*?$\\]+))\s*$""")
_CODEX_CUT = re.compile(r"…\d[\d,]* tokens truncated…")
_CODEX_WARNING = re.compile(r"^Warning: truncated output \(original token count: \d+\)$")
_TOTAL_LINES = re.compile(r"^Total output lines: (\d+)$")


def _command(ctx: Context) -> str | None:
    """The shell command of the call that made the output (Bash's `command`, Codex's `cmd`), if any."""
    parsed = parsed_args(ctx.tool_args)
    command = parsed.get("command", parsed.get("cmd")) if isinstance(parsed, dict) else None
    if isinstance(command, list):  # Codex's shell tool: ["bash", "-lc", "cat x.py"]
        command = command[-1] if command and all(isinstance(c, str) for c in command) else None
    return command if isinstance(command, str) else None


def printed_file(ctx: Context) -> tuple[str, int] | None:
    """(path, the file's number of the output's first line) when the call printed one file's lines as they
    are (`cat F`: 1; `sed -n A,Bp F`: A); None otherwise."""
    command = _command(ctx)
    m = _PRINT_COMMAND.match(command) if command else None
    if m is None or len(m.group("cat") or m.group("sed")) > HINT_MAX_CHARS:
        return None
    return m.group("cat") or m.group("sed"), int(m.group("a") or 1)


def _printed_numbers(lines: list[str], first: int) -> list[int | None] | None:
    """The file's number of each line of a printed file's output (None for the agent's notes around it),
    from the output's own structure: Codex's header, its truncation warning whose total counts the lines
    of the whole output, and its cut, after which the lines are the last ones of that total. None when
    the structure is any other (a persisted-output preview, a cut without a total): never a guess."""
    n = len(lines)
    start = 0
    while start < n and start < 8 and _CODEX_HEADER.match(lines[start]):
        start += 1
    if start:
        if start >= n or lines[start] != "Output:":
            return None
        start += 1
    total = None
    if start + 2 < n and _CODEX_WARNING.match(lines[start]) and _TOTAL_LINES.match(lines[start + 1]) \
            and lines[start + 2] == "":
        total = int(_TOTAL_LINES.match(lines[start + 1]).group(1))
        start += 3
    end = n - 1 if n > start and lines[-1] == "" else n  # the output's final newline ends a line, it is not one
    cuts = [k for k in range(start, end) if _CODEX_CUT.search(lines[k])]
    if any(_NOTE_LINE.search(lines[k]) or _REMINDER_OPEN.match(lines[k]) for k in range(start, end) if k not in cuts) \
            or (start == 0 and end and _EXIT_NOTE.match(lines[0])):
        return None  # another agent's note inside: its lines are not the file's from `first` on
    numbers: list[int | None] = [None] * n
    if not cuts:
        if total is not None and total != end - start:
            return None
        for k in range(start, end):
            numbers[k] = first + k - start
        return numbers
    if len(cuts) != 1 or total is None:
        return None
    cut = cuts[0]  # the head's last line and the tail's first, both partial: a note of the agent's
    last = first + total - 1
    for k in range(start, cut):
        numbers[k] = first + k - start
    for k in range(cut + 1, end):
        numbers[k] = last - (end - 1 - k)
    if cut > start and cut + 1 < end and numbers[cut + 1] <= numbers[cut - 1] + 1:
        return None  # the tail would overlap the head: the total does not count these lines
    return numbers


def viewed_file(ctx: Context) -> str | None:
    """The file a view shows, from the call that made it (a Read's file_path, `nl -ba F`, `sed -n A,Bp F`)."""
    args = ctx.tool_args
    if not args:
        return None
    parsed = parsed_args(args)
    if isinstance(parsed, dict) and isinstance(parsed.get("file_path"), str):
        return parsed["file_path"]
    m = _NL_COMMAND.search(args) or _SED_FILE.search(args)
    if m:
        return m.group("path")
    printed = printed_file(ctx)
    return printed[0] if printed else None


_RANGE = re.compile(r"\blines? \d+(?:-\d+)?")
_SPAN = re.compile(r"^lines? \d+(?:-\d+)? omitted")  # runs.lines_summary's "lines 40-51 omitted"



def _file_summary(summary: str, numbers: list[int], n: int, hint: Callable[[int, int], str] | None) -> str:
    """The inner marker's summary of its `n` dropped lines in the file's line numbers, with the agent's way
    to show those lines. Where the file's numbers of those lines are not consecutive (a search of one file),
    the range no longer counts them, so the count is said: "14 lines omitted (file lines 270-348: ...)"."""
    if not numbers:
        return summary
    a, b = numbers[0], numbers[-1]
    rng = f"file line {a}" if a == b else f"file lines {a}-{b}"
    span = _SPAN.match(summary)
    if span is not None and b - a + 1 == n and hint is not None:
        # The call that shows the lines again states their range in the file ("Read offset=40 limit=20",
        # "nl -ba F | sed -n 40,59p"): the marker says what they are and that call, not the range twice.
        text = summary[span.end():].removeprefix(": ") or "omitted"
    elif span is not None:
        rest = summary[span.end():]  # ": what", or nothing
        text = f"{rng} omitted{rest}" if b - a + 1 == n else f"{n} lines omitted ({rng}{rest})"
    elif _RANGE.search(summary):
        text = _RANGE.sub(rng, summary, count=1)
    else:
        text = f"{summary} ({rng})"
    if hint is None:
        return text
    tail = f"; {hint(a, b)}"  # the call itself: "Read offset=40 limit=20", "nl -ba F | sed -n 40,59p"
    if len(text) + len(tail) > SUMMARY_MAX_CHARS:
        text = text[: SUMMARY_MAX_CHARS - len(tail) - 4].rstrip() + " ..."
    return text + tail


_NL_COMMAND = re.compile(r"""(?:\bnl\s+(?:-[a-z]+\s+)*|\bcat\s+-n\s+)(?P<path>[^\s|;&'"`<>()\[\]]+)""")


def _reads_files(ctx: Context) -> bool:
    return ctx.tool_name == "Read" or '"file_path"' in ctx.tool_args or _NL_COMMAND.search(ctx.tool_args) is not None


def fetch_hint(ctx: Context) -> Callable[[int, int], str] | None:
    """How the agent itself shows file lines a..b again, from the call that made the view; None if unknown."""
    args = ctx.tool_args
    if not args:
        return None
    parsed = parsed_args(args)
    if isinstance(parsed, dict) and isinstance(parsed.get("file_path"), str):
        # The file is the one this Read showed; Claude Code's own partial-view note names no path either
        # ("Call Read with offset=2016 limit=2015"), and a path in every marker would cost ~15 tokens each.
        return lambda a, b: f"Read offset={a} limit={b - a + 1}"
    m = _NL_COMMAND.search(args)
    if m is not None and len(m.group("path")) <= HINT_MAX_CHARS:
        path = m.group("path")
        return lambda a, b: f"nl -ba {path} | sed -n {a},{b}p"
    printed = printed_file(ctx)
    if printed is not None:
        return lambda a, b: f"sed -n {a},{b}p {printed[0]}"
    return None


# Tools whose result the agent relies on exactly: what it just wrote, and how the file looks around it.
EXACT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit", "apply_patch", "str_replace_based_edit_tool"})
# Commands whose every line is the answer: `git status`, `ls` of one directory (not -R), `wc`, `pwd`.
_EXACT_COMMAND = re.compile(r"^\s*(?:cd\s+\S+\s*&&\s*)?(?:git\s+status\b|wc\b|pwd\b|ls\b(?![^|;&\n]*\s-\w*R))")


def wants_exact(ctx: Context) -> bool:
    """The call that made the output is one whose output the agent needs exactly."""
    if ctx.tool_name in EXACT_TOOLS:
        return True
    command = _command(ctx)
    return command is not None and "|" not in command and _EXACT_COMMAND.match(command) is not None
