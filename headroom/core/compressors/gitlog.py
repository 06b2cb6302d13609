"""`git log` (plain, --stat, -p, --oneline): one commit is one unit; headers and subjects always stay.

A commit is its `commit <hash>` line, its header fields (Merge, Author, Date), its message, and a stat
block or a patch. Every commit keeps its hash line, its header fields and its subject line, so the
history still reads in full. The commits the question is about (it names their hash, an author, a
file they changed, or a word of their message or patch that few commits share) are kept whole, their
patches trimmed of far context as a plain diff is. Every other commit folds its message body, its stat
lines (the `N files changed` summary stays) and its patch, each marker naming the files and the
+/- counts it holds. `--oneline` logs keep every line up to ONELINE_ALL_MAX commits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from headroom.core.compressors import claims, facets
from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.diff import _GENERATED, CONTEXT_LINES
from headroom.core.compressors.query import parse_query
from headroom.core.compressors.runs import fold, lines_summary
from headroom.core.compressors.tooloutput import fit

__all__ = ["Commit", "compress_gitlog", "looks_like_gitlog", "parse_commits"]

MIN_COMMITS = 2
QUERY_ALL_MAX = 20  # commits kept whole for a question term that few commits share
BEST_MATCHES = 3  # when every term is common, the commits matching most of the question are kept whole
ONELINE_ALL_MAX = 200  # a one-line-per-commit log this long is read whole: every line is a subject
ONELINE_HEAD = 50
FILES_IN_MARKER = 4

_COMMIT = re.compile(r"^(?:[*|\\/ ]*)commit (?P<hash>[0-9a-f]{7,64})\b")
_FIELD = re.compile(r"^(?:[*|\\/ ]*)(?:Merge|Author|AuthorDate|Commit|CommitDate|Date|Reflog|Signed-off-by):")
_ONELINE = re.compile(r"^(?:[*|\\/ ]+)?(?P<hash>[0-9a-f]{7,40}) (?P<subject>\S.*)$")
_STAT = re.compile(r"^ (?P<path>\S.*?) +\| +(?:(?P<n>\d+) ?(?P<bar>[+-]*)|Bin .*)$")
_STAT_SUMMARY = re.compile(r"^ \d+ files? changed(?:, \d+ insertions?\(\+\))?(?:, \d+ deletions?\(-\))?$")
_DIFF = re.compile(r"^diff --git a/(?P<a>\S+) b/(?P<b>\S+)")


@dataclass(frozen=True)
class Commit:
    start: int
    end: int
    hash: str
    head_end: int  # one past the header fields (hash, Author, Date, ...)
    subject: int | None  # line index of the subject
    body: tuple[int, int]  # the rest of the message
    stat: tuple[int, int]  # stat file lines
    stat_summary: int | None
    patch: tuple[int, int]


def parse_commits(lines: list[str]) -> list[Commit]:
    starts = [i for i, ln in enumerate(lines) if _COMMIT.match(ln)
              and any(_FIELD.match(lines[k]) for k in range(i + 1, min(i + 4, len(lines))))]
    commits = []
    for s, e in zip(starts, [*starts[1:], len(lines)]):
        k = s + 1
        while k < e and _FIELD.match(lines[k]):
            k += 1
        head_end = k
        while k < e and not lines[k].strip():
            k += 1
        subject = k if k < e and lines[k].startswith("    ") else None
        msg_end = k
        while msg_end < e and (lines[msg_end].startswith("    ") or not lines[msg_end].strip()) \
                and not _DIFF.match(lines[msg_end]):
            msg_end += 1
        # Trailing blank lines of the message belong to it; the stat block or the patch follows.
        body = (subject + 1, msg_end) if subject is not None else (k, k)
        k = msg_end
        stat_start = k
        while k < e and _STAT.match(lines[k]):
            k += 1
        stat = (stat_start, k)
        summary = k if k < e and _STAT_SUMMARY.match(lines[k]) else None
        if summary is not None:
            k += 1
        while k < e and not lines[k].strip():
            k += 1
        patch = (k, e) if k < e and _DIFF.match(lines[k]) else (e, e)
        commits.append(Commit(s, e, _COMMIT.match(lines[s]).group("hash"), head_end, subject, body, stat,
                              summary, patch))
    return commits


def looks_like_gitlog(lines: list[str]) -> bool:
    """`git log` output: at least MIN_COMMITS `commit <hash>` lines each followed by its Author/Date
    fields, covering the whole output (from the first line); or a --oneline log, every line a hash and
    a subject."""
    head = next((ln for ln in lines if ln.strip()), "")
    if _COMMIT.match(head):
        return len(parse_commits(lines)) >= MIN_COMMITS
    first = [ln for ln in lines[:30] if ln.strip()]
    if len(first) < 10 or sum(1 for ln in first if _ONELINE.match(ln)) < 0.9 * len(first):
        return False  # a one-line log is one from its first lines
    body = [ln for ln in lines if ln.strip()]
    sample = body[:: max(1, len(body) // 400)]
    hits = [m for ln in sample if (m := _ONELINE.match(ln))]
    # A hash has letters and digits both (a number or a word alone is not one).
    return len(hits) >= 0.95 * len(sample) and sum(
        1 for m in hits if re.search(r"[a-f]", m.group("hash")) and re.search(r"\d", m.group("hash"))) >= 0.8 * len(hits)


def _patch_keep(lines: list[str], a: int, b: int, keep: list[bool]) -> None:
    """A kept commit's patch, trimmed as diff.py trims a diff: every header and +/- line, context next
    to a change, generated files (lock files) folded."""
    in_hunk = generated = False
    changed: set[int] = set()
    context: list[int] = []
    for i in range(a, b):
        ln = lines[i]
        m = _DIFF.match(ln)
        if m:
            in_hunk = False
            generated = bool(_GENERATED.search(m.group("b")))
            keep[i] = True
            continue
        if ln.startswith("@@ "):
            in_hunk = True
            keep[i] = True
            continue
        if not in_hunk:
            keep[i] = True
        elif generated:
            keep[i] = False
        elif ln.startswith("+") or ln.startswith("-"):
            changed.add(i)
            keep[i] = True
        elif ln.startswith("\\"):
            keep[i] = True
        else:
            context.append(i)
    for i in context:
        keep[i] = any(k in changed for k in range(i - CONTEXT_LINES, i + CONTEXT_LINES + 1))


def _patch_files(lines: list[str], i: int, j: int) -> list[tuple[str, int, int]]:
    """(file, lines added, lines removed) for each file whose patch lines are in i..j-1."""
    files: dict[str, list[int]] = {}
    cur = None
    # The file a run starts in may have its `diff --git` line before the run.
    for k in range(i, -1, -1):
        m = _DIFF.match(lines[k]) if k < len(lines) else None
        if m:
            cur = m.group("b")
            break
        if _COMMIT.match(lines[k]):
            break
    for k in range(i, j):
        ln = lines[k]
        m = _DIFF.match(ln)
        if m:
            cur = m.group("b")
            files.setdefault(cur, [0, 0])
            continue
        if cur is None or ln.startswith(("+++ ", "--- ")):
            continue
        if ln.startswith("+"):
            files.setdefault(cur, [0, 0])[0] += 1
        elif ln.startswith("-"):
            files.setdefault(cur, [0, 0])[1] += 1
    return [(f, a, r) for f, (a, r) in files.items()]


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:FILES_IN_MARKER])
    return shown + (f" and {len(paths) - FILES_IN_MARKER} more" if len(paths) > FILES_IN_MARKER else "")


STAT_WHOLE_MAX = 20  # a kept commit's stat of more files than this is ranked when the question asks for extremes
STAT_TOP_MIN = 5  # the largest (or smallest) stat lines kept then, at least this many, ties at the cut included


def _rank_stat(lines: list[str], c: Commit, query, line_terms: dict[str, set[int]], keep: list[bool]) -> None:
    """'Which file changed the most': of a kept commit's long stat, the largest (smallest) lines stay, with
    those naming the question's terms; the rest fold, their marker saying the most any of them changed."""
    exts = [e for e in query.extremes if e.direction in ("max", "min")] if query else []
    rows = [(k, int(m.group("n") or 0)) for k in range(*c.stat) if (m := _STAT.match(lines[k]))]
    if not exts or len(rows) <= STAT_WHOLE_MAX:
        return
    ext = exts[0]
    want = max(ext.count, STAT_TOP_MIN)
    ranked = sorted(rows, key=lambda r: (-r[1] if ext.direction == "max" else r[1], r[0]))
    cut = ranked[min(want, len(ranked)) - 1][1]
    kept = {k for k, n in ranked[:want]} | {k for k, n in rows if n == cut}
    # The question's identifiers ("under src/click") name stat lines; its plain words do not.
    named = {k for t, w in line_terms.items() if t in query.strong for k in w}
    for k, _ in rows:
        if k not in kept and k not in named:
            keep[k] = False


def compress_gitlog(text: str, ctx: Context) -> Compressed:
    lines = text.split("\n")
    n = len(lines)
    commits = parse_commits(lines)
    if len(commits) < MIN_COMMITS:
        return _compress_oneline(lines, ctx)
    query = parse_query(ctx.query)
    qtext = ctx.query or ""
    texts = []
    for c in commits:
        files = [m.group("path").strip() for k in range(*c.stat) if (m := _STAT.match(lines[k]))]
        files += [m.group("b") for k in range(*c.patch) if (m := _DIFF.match(lines[k]))]
        changed = [lines[k] for k in range(*c.patch) if lines[k][:1] in "+-"]
        texts.append("\n".join([*lines[c.start:c.stat[0]], *files, *(f.rsplit("/", 1)[-1] for f in files),
                                *changed]))
    terms = facets.informative_terms(query, texts) if query else {}
    whole: set[int] = set()
    for term, where in terms.items():
        # An identifier (a hash, a path, a file name, an email) names its commits, however many; a plain
        # word only when few commits share it.
        if term in query.strong and len(where) <= QUERY_ALL_MAX or facets.keep_all(where, len(commits), QUERY_ALL_MAX):
            whole.update(where)
    if query and not whole:
        scores = [query.score(t) for t in texts]
        best = sorted((u for u in range(len(commits)) if scores[u] > 0), key=lambda u: (-scores[u], u))
        whole.update(best[:BEST_MATCHES])

    # Markers count the question's terms in lines, as printed (a commit is too coarse to count by).
    line_terms = facets.informative_terms(query, lines) if query else {}
    # ... each counted only where the line holds the question's word as written ('behavior' is no mention
    # of 'behaviour' to a reader, though its stem finds it).
    counted = claims.counted_terms(query, lines) if query else {}
    keep = [True] * n
    unit_of = [-1] * n
    for u, c in enumerate(commits):
        for k in range(c.start, c.end):
            unit_of[k] = u
        if u in whole:
            if c.patch[0] < c.patch[1]:
                _patch_keep(lines, c.patch[0], c.patch[1], keep)
            _rank_stat(lines, c, query, line_terms, keep)
            continue
        for k in range(*c.body):
            keep[k] = False
        for k in range(*c.stat):
            keep[k] = False
        for k in range(*c.patch):
            keep[k] = False
        # The blank line after the message stays as the separator before the stat summary or the next commit.
        if c.body[1] > c.body[0] and not lines[c.body[1] - 1].strip():
            keep[c.body[1] - 1] = True

    def describe(i: int, j: int) -> str:
        us = sorted({unit_of[k] for k in range(i, j) if unit_of[k] >= 0})
        parts = []
        for u in us:
            c = commits[u]
            what = []
            body = sum(1 for k in range(max(i, c.body[0]), min(j, c.body[1])) if lines[k].strip())
            if body:
                what.append(f"{body} message lines")
            stat_lines = [m for k in range(max(i, c.stat[0]), min(j, c.stat[1])) if (m := _STAT.match(lines[k]))]
            stat = [m.group("path").strip() for m in stat_lines]
            if stat and u in whole:
                # A ranked stat's run between the lines kept for the question: how much, not which (the
                # names would cost more than the lines).
                most = max((int(m.group("n") or 0) for m in stat_lines), default=0)
                what.append(f"stat of {len(stat)} files, each with at most {most} changes")
            elif stat:
                what.append(f"stat of {len(stat)} files: {_names(stat)}")
            if c.patch[0] < j and i < c.patch[1]:
                files = _patch_files(lines, max(i, c.patch[0]), min(j, c.patch[1]))
                if files:
                    shown = ", ".join(f"{f} +{a} -{r}" for f, a, r in files[:FILES_IN_MARKER])
                    more = f" and {len(files) - FILES_IN_MARKER} more files" if len(files) > FILES_IN_MARKER else ""
                    what.append(f"patch of {shown}{more}")
            if what:
                parts.append(f"commit {c.hash[:10]}: " + ", ".join(what))
        parts.extend(facets.term_counts(counted, range(i, j), None, qtext))
        return lines_summary(i, j, fit(parts), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "gitlog", "gitlog", drops)


def _compress_oneline(lines: list[str], ctx: Context) -> Compressed:
    """One line per commit: read whole up to ONELINE_ALL_MAX commits; beyond that the newest
    ONELINE_HEAD, the last line and the commits the question names, the rest counted by marker."""
    text = "\n".join(lines)
    body = [i for i, ln in enumerate(lines) if _ONELINE.match(ln)]
    if len(body) <= ONELINE_ALL_MAX:
        return Compressed(text, "gitlog", "none")
    keep = [not _ONELINE.match(ln) for ln in lines]
    for i in body[:ONELINE_HEAD] + body[-1:]:
        keep[i] = True
    query = parse_query(ctx.query)
    terms = facets.informative_terms(query, lines) if query else {}
    counted = claims.counted_terms(query, lines) if query else {}
    for where in terms.values():
        if facets.keep_all(where, len(body), ONELINE_ALL_MAX):
            for i in where:
                keep[i] = True

    def describe(i: int, j: int) -> str:
        hs = [m for k in range(i, j) if (m := _ONELINE.match(lines[k]))]
        parts = [f"{len(hs)} commits from {hs[0].group('hash')} to {hs[-1].group('hash')}"] if hs else []
        parts.extend(facets.term_counts(counted, range(i, j), None, ctx.query or ""))
        return lines_summary(i, j, fit(parts), offset=ctx.line_offset)

    out, drops = fold(lines, keep, describe)
    return Compressed(out, "gitlog", "gitlog", drops)
