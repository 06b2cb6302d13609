"""Unified diffs: every header, hunk header and +/- line kept; unchanged context trimmed to its edges.

The change is the point of a diff: only the context lines far from any change are dropped (a run of
them becomes one marker), and whole hunks of generated files (lock files, minified bundles) fold
into one marker per file, their file header kept.

A diff of several files whose changes alone are more than a reader takes in at once
(DIFF_WHOLE_MAX_TOKENS: a release's worth of changes, a `git show` of a vendored tree) reads as an
outline in the files the question does not name: their headers and the changed lines that give the
change its shape (definitions, imports, document headings, lines holding a question's term) stay, with
their hunks' headers; the other changed lines fold, and a hunk that keeps none folds with its header, each
marker saying how many hunks and lines it adds and removes in which file.
The files the question names keep every change, and so does a diff of one file: it is the subject.
"""
from __future__ import annotations

import re

from headroom.core.compressors import facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary, over_tokens

__all__ = ["compress_diff", "continues_diff", "files_named", "looks_like_diff"]

CONTEXT_LINES = 1  # unchanged lines kept on each side of a change: enough to anchor it
# Changed lines beyond this many tokens are more than a reader takes in at once (the size up to which an
# error output or an exact answer is read whole): the files the question does not name become outlines.
DIFF_WHOLE_MAX_TOKENS = 4000
# The changed lines an outline keeps: a definition, an import, a document heading.
_OUTLINE = re.compile(
    r"^[+-]\s*(?:(?:export\s+|pub(?:\(\w+\))?\s+|public\s+|private\s+|protected\s+|static\s+|async\s+)*"
    r"(?:def|class|function\*?|func|fn|interface|struct|enum|trait|impl|type|module)\s+[A-Za-z_$]"
    r"|import\s|from\s+\S+\s+import\s|#include\b|use\s+\w|require\(|package\s+\w)"
)
# A Markdown heading, at the start of a line of a Markdown file: in YAML, Python or a shell script, `# ...`
# is a comment (a workflow file's forty lines of them are not its outline).
_HEADING = re.compile(r"^[+-]#{1,6}\s+\S")
_MARKDOWN = re.compile(r"\.(?:md|markdown|mdx|mkd)$", re.I)


def _outline_line(line: str, path: str) -> bool:
    return bool(_OUTLINE.match(line) or (_HEADING.match(line) and _MARKDOWN.search(path or "")))
_UNDERLINE = re.compile(r"^[+-](?P<c>[=\-~^*#])(?P=c){2,}\s*$")  # a reStructuredText/Setext heading's rule
_GENERATED = re.compile(
    r"(?:^|/)(?:package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|Cargo\.lock|go\.sum|uv\.lock|"
    r"Gemfile\.lock|composer\.lock)$|\.min\.(?:js|css)$|\.map$"
)
_FILE = re.compile(r"^diff --git a/(?P<a>\S+) b/(?P<b>\S+)")


def looks_like_diff(lines: list[str]) -> bool:
    head = lines[:2000]
    hunks = sum(1 for ln in head if ln.startswith("@@ ") and " @@" in ln[3:])
    files = sum(1 for ln in head if ln.startswith(("diff --git ", "--- ", "+++ ")))
    return hunks >= 1 and files >= 2


def files_named(lines: list[str]) -> set[str]:
    """The files a diff's headers name."""
    return {f for f in _files_of(lines) if f}


def continues_diff(lines: list[str]) -> bool:
    """Do these lines read as the rest of a diff cut before them: a hunk's lines, then maybe more of it?"""
    first = next((ln for ln in lines if ln.strip()), "")
    return first[:1] in ("+", "-", " ", "@") or first.startswith("diff --git ")


def compress_diff(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    n = len(lines)
    keep = [True] * n
    # A diff cut at its start (an agent's own truncation keeps a long output's tail) begins inside a hunk.
    in_hunk = bool(lines) and lines[0][:1] in ("+", "-", " ") and not lines[0].startswith(("+++ ", "--- "))
    generated = False
    changed = [False] * n  # the +/- lines of hunks, generated files' excepted
    delta = [False] * n  # every +/- line of a hunk
    context: list[int] = []
    for i, ln in enumerate(lines):
        m = _FILE.match(ln)
        if m:
            in_hunk = False
            generated = bool(_GENERATED.search(m.group("b")))
            continue
        if ln.startswith("@@ "):
            in_hunk = True
            continue
        if not in_hunk:
            continue
        if generated:
            keep[i] = False
            delta[i] = ln.startswith(("+", "-"))
        elif ln.startswith((" ",)) or ln == "":
            context.append(i)
        elif ln.startswith(("+", "-")):
            changed[i] = delta[i] = True
        elif not ln.startswith("\\"):
            in_hunk = False  # text after a diff (a commit message, the next `git log` entry)
    file_of = _files_of(lines)
    outlined = _outline(lines, changed, file_of, keep, ctx)
    for i in context:
        lo, hi = max(0, i - CONTEXT_LINES), min(n, i + CONTEXT_LINES + 1)
        keep[i] = any(changed[k] and keep[k] for k in range(lo, hi))
    if outlined:
        # In an outline, a hunk none of whose changes stay is nothing but its header: it folds with them, so
        # a file's run of such hunks is one marker (the file's header stays and names the file).
        for a, b in _hunks(lines):
            if not any(keep[k] for k in range(a + 1, b) if changed[k]):
                for k in range(a, b):
                    keep[k] = False
        # A file that keeps no change is its `diff --git` line (and any new/deleted/rename line) and one
        # marker: its index and ---/+++ lines say again what that line says.
        for a, b in _file_spans(lines):
            if not any(keep[k] for k in range(a + 1, b) if changed[k]):
                for k in range(a + 1, b):
                    if lines[k].startswith(("index ", "--- ", "+++ ")):
                        keep[k] = False

    def describe(i: int, j: int) -> str:
        counts: dict[str, list[int]] = {}
        for k in range(i, j):
            if delta[k]:
                c = counts.setdefault(file_of[k] or "?", [0, 0])
                c[0 if lines[k].startswith("+") else 1] += 1
        if not counts:
            return lines_summary(i, j, "unchanged context", offset=ctx.line_offset)
        hunks = sum(1 for k in range(i, j) if lines[k].startswith("@@ "))
        # Lines before the first file header (a diff cut at its start) belong to a file it does not name.
        parts = [f"+{a} -{r}" + (f" in {f}" if f != "?" else "") for f, (a, r) in list(counts.items())[:FILES_IN_MARKER]]
        if len(counts) > FILES_IN_MARKER:
            parts.append(f"and {len(counts) - FILES_IN_MARKER} more files")
        what = (f"{hunks} hunk{'s' if hunks > 1 else ''}, " if hunks else "") + "changed lines " + ", ".join(parts)
        return lines_summary(i, j, what, offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "diff", "diff", drops)


FILES_IN_MARKER = 3


def _file_spans(lines: list[str]) -> list[tuple[int, int]]:
    """Each file's patch, (its `diff --git` line, the next one or the end)."""
    starts = [i for i, ln in enumerate(lines) if _FILE.match(ln)]
    return list(zip(starts, starts[1:] + [len(lines)]))


def _hunks(lines: list[str]) -> list[tuple[int, int]]:
    """Each hunk's lines, (its "@@" header, one past its last line): up to the next hunk or file header, or
    a line that is not a hunk's (the next commit's text in a `git log -p`)."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(lines)
    while i < n:
        if not lines[i].startswith("@@ "):
            i += 1
            continue
        j = i + 1
        while j < n and lines[j][:1] in ("+", "-", " ", "\\", "") and not lines[j].startswith(("+++ ", "--- ")):
            if lines[j] == "" and (j + 1 >= n or lines[j + 1][:1] not in ("+", "-", " ")):
                break  # a blank line that ends the diff, not a context line cut short
            j += 1
        out.append((i, j))
        i = j
    return out


def _files_of(lines: list[str]) -> list[str | None]:
    """The file (its b/ path) each line's patch belongs to, None before the first file header."""
    out: list[str | None] = []
    cur = None
    for ln in lines:
        m = _FILE.match(ln)
        if m:
            cur = m.group("b")
        elif ln.startswith("+++ ") and not ln.startswith("+++ /dev/null"):
            cur = ln[4:].split("\t")[0].removeprefix("b/")
        out.append(cur)
    return out


def _outline(lines: list[str], changed: list[bool], file_of: list[str | None], keep: list[bool],
             ctx: Context) -> bool:
    """Fold the changed lines of the files the question does not name, when there are too many to read
    whole; True when it did."""
    idx = [i for i, c in enumerate(changed) if c and keep[i]]
    # The rest of the output counts too (a cut log's tail): the model reads it at the same time.
    if not over_tokens([lines[i] for i in idx], DIFF_WHOLE_MAX_TOKENS - ctx.rest_tokens, ctx.encoding):
        return False
    files = list(dict.fromkeys(f for f in file_of if f))
    # Changes before the first file header (a diff cut at its start) are of another file, unnamed.
    unnamed = any(changed[i] and file_of[i] is None for i in idx)
    if max(len(files) + unnamed, ctx.diff_files) < 2:
        return False  # one file's diff is the subject itself, whatever the question asks of it
    query = parse_query(ctx.query)
    named: set[str] = set()
    line_terms: dict[str, set[int]] = {}
    if query:
        # A file is named by its path, its file name or an identifier few files' changes share.
        texts = [f + "\n" + f.rsplit("/", 1)[-1] for f in files]
        by_file: dict[str, list[str]] = {f: [] for f in files}
        for i in idx:
            if file_of[i]:
                by_file[file_of[i]].append(lines[i])
        texts = [t + "\n" + "\n".join(by_file[f]) for t, f in zip(texts, files)]
        for term, where in facets.informative_terms(query, texts).items():
            if term in query.strong:
                named.update(files[k] for k in where)
        # Lines holding an identifier of the question that few changed lines hold stay in any file.
        line_terms = {t: w for t, w in facets.informative_terms(query, [lines[i] for i in idx]).items()
                      if t in query.strong}
    held = {idx[k] for where in line_terms.values() for k in where}
    for pos, i in enumerate(idx):
        if file_of[i] in named or i in held or _outline_line(lines[i], file_of[i]):
            continue
        # A heading over its rule ("Version 8.1.8" / "-------------"): both lines stay.
        if _UNDERLINE.match(lines[i]) or (i + 1 < len(lines) and changed[i + 1] and _UNDERLINE.match(lines[i + 1])
                                          and len(lines[i + 1].rstrip()) >= len(lines[i].rstrip()) > 2):
            continue
        keep[i] = False
    return True
