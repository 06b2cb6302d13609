"""Diffs: changes kept, far context trimmed; a diff of many files too big to read whole is an outline outside
the files the question names. On real diffs: tabulate 0.8.10 -> 0.9.0 (one file, from the real-world suite)
and click's 8.1.8 release as `git log -p` printed it to Codex (many files, from the agent corpus)."""
from __future__ import annotations

import re

from headroom.core import tokens
from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.diff import DIFF_WHOLE_MAX_TOKENS, compress_diff
from headroom.core.markers import find_markers
from headroom.evals.workloads import realworld_cases

from .helpers import check_line_markers, expand_lines, line_span

DIFF = next(c for c in realworld_cases() if c.id == "diff_tabulate_imports").tool_output
CHANGED = [ln for ln in DIFF.split("\n") if ln[:1] in "+-" and not ln.startswith(("+++ ", "--- "))]


def test_the_real_diffs_are_too_big_to_read_whole():
    assert detect(DIFF) == "diff"
    for diff in (DIFF, _click_release_patch()):
        changed = [ln for ln in diff.split("\n") if ln[:1] in "+-" and not ln.startswith(("+++ ", "--- "))]
        assert tokens.count("\n".join(changed)) > DIFF_WHOLE_MAX_TOKENS


def test_a_big_diff_of_one_file_keeps_every_change():
    r = compress_diff(DIFF, Context(query="Which new keyword arguments default to None?"))
    kept = r.text.split("\n")
    assert all(ln in kept for ln in CHANGED)


def test_an_outline_keeps_headers_definitions_and_imports_and_counts_what_it_folds():
    patch = _click_release_patch()
    r = compress_diff(patch, Context(query="What changed in this release?"))
    kept = r.text.split("\n")
    lines = patch.split("\n")
    for k, ln in enumerate(lines):
        if ln.startswith("diff --git ") or re.match(r"^[+-](?:def|class|import|from \S+ import) ", ln):
            assert ln in kept, ln
    # A file's ---/+++ lines stay with the changes it keeps; a file that keeps none is its diff --git line.
    dropped = set()
    for mk in find_markers(r.text):
        first, last = line_span(mk.summary)
        dropped.update(range(first - 1, last))
    starts = [k for k, ln in enumerate(lines) if ln.startswith("diff --git ")]
    for a, b in zip(starts, starts[1:] + [len(lines)]):
        keeps = any(k not in dropped for k in range(a, b) if lines[k][:1] in "+-" and lines[k][:4] not in ("+++ ", "--- "))
        for k in range(a, b):
            if lines[k].startswith(("+++ ", "--- ")):
                assert (k not in dropped) == keeps, lines[k]
    # A hunk header stays with the changes its hunk keeps; a hunk that keeps none folds whole, and the marker
    # holding it counts its hunks.
    heads = [k for k, ln in enumerate(lines) if ln.startswith("@@ ")]
    assert any(lines[k] in kept for k in heads) and any(lines[k] not in kept for k in heads)
    for mk in find_markers(r.text):
        hunks = sum(1 for ln in r.drops[mk.key].split("\n") if ln.startswith("@@ "))
        if hunks:
            assert f"{hunks} hunk{'s' if hunks > 1 else ''}, changed lines " in mk.summary, mk.summary
    assert len(r.text) < 0.5 * len(patch)
    assert expand_lines(r.text, dict(r.drops)) == patch
    check_line_markers(patch, r.text, dict(r.drops))
    # Each marker counts the lines it adds and removes, exactly.
    counted = 0
    for mk in find_markers(r.text):
        dropped = r.drops[mk.key].split("\n")
        m = re.search(r"changed lines \+(\d+) -(\d+) in ", mk.summary)
        if m and mk.summary.count(" in ") == 1:
            counted += 1
            assert int(m.group(1)) == sum(1 for ln in dropped if ln.startswith("+") and not ln.startswith("+++ "))
            assert int(m.group(2)) == sum(1 for ln in dropped if ln.startswith("-") and not ln.startswith("--- "))
    assert counted >= 5


def _click_release_patch() -> str:
    """The head of `git log -p` on click's release history, as Codex printed it (a real capture)."""
    from headroom.core.compressors.views import _result_object
    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cx-exec-truncated-click-log")
    unit = max(find_units(case.provider, case.body), key=lambda u: len(u.text))
    line = next(ln for ln in unit.text.split("\n") if ln.startswith("{"))
    return _result_object(line)[1]


def test_a_file_the_question_names_keeps_every_change_and_the_others_are_outlines():
    patch = _click_release_patch()
    files = re.findall(r"^diff --git a/\S+ b/(\S+)", patch, re.M)
    assert len(files) >= 5
    for target in (files[0], files[len(files) // 2]):
        r = compress_diff(patch, Context(query=f"What changed in {target}?"))
        kept = r.text.split("\n")
        sections = re.split(r"(?m)^(?=diff --git )", patch)
        mine = next(s for s in sections if s.startswith(f"diff --git a/") and f" b/{target}\n" in s)
        for ln in mine.split("\n"):
            if ln[:1] in "+-":
                assert ln in kept, (target, ln)
        assert any(" in " + f in m.summary for m in find_markers(r.text) for f in files if f != target)
        assert expand_lines(r.text, dict(r.drops)) == patch


def test_a_small_diff_keeps_every_change():
    small = "\n".join(DIFF.split("\n")[:120])
    r = compress_diff(small, Context(query="What changed?"))
    for ln in small.split("\n"):
        if ln[:1] in "+-":
            assert ln in r.text.split("\n")


def _codex_cut(diff: str, head_end: int, tail_start: int, tail_end: int | None = None) -> tuple[str, list[str]]:
    """`diff` as Codex sends an output over its budget: its header, the head, its note inside the line where
    it cut, the tail (Codex 0.169's format). Also the tail's own lines, as they appear after the note."""
    lines = diff.split("\n")
    a, b = head_end, tail_start
    # The tail must start inside a hunk, past its file's header: the case this is about.
    while not lines[b].startswith(("+", "-")) or lines[b].startswith(("+++ ", "--- ")):
        b += 1
    cut = lines[a][: len(lines[a]) // 2] + "…23456 tokens truncated…" + lines[b - 1][len(lines[b - 1]) // 2 :]
    header = ["Chunk ID: 5a1c3e", "Wall time: 0.2104 seconds", "Process exited with code 0",
              "Original token count: 40000", "Output:"]
    tail = lines[b:tail_end]
    return "\n".join(header + lines[:a] + [cut] + tail), tail


def test_the_tail_codex_kept_of_a_diff_of_many_files_is_outlined_like_its_head():
    # The tail begins inside a hunk of a file whose header the cut removed, and holds no header of its own:
    # it is the rest of the diff, not a text of its own, and its changes fold as the head's do, each marker
    # counting what it holds.
    patch = _click_release_patch()
    lines = patch.split("\n")
    last = max(i for i, ln in enumerate(lines) if ln.startswith("diff --git "))
    before = max(i for i, ln in enumerate(lines[:last]) if ln.startswith("diff --git "))
    text, tail = _codex_cut(patch, (before + last) // 2 - 40, (before + last) // 2, last)
    assert not any(ln.startswith(("diff --git ", "+++ ")) for ln in tail)
    r = compress_text(text, Context(query="What changed in this release?"))
    after = r.text.split("…23456 tokens truncated…", 1)[1]
    tail_markers = find_markers(after)
    assert tail_markers and len(after) < 0.6 * len("\n".join(tail))
    for m in tail_markers:
        assert m.summary.split(": ", 1)[1].startswith(("changed lines +", "unchanged context")), m.summary
        dropped = r.drops[m.key].split("\n")
        if "changed lines" in m.summary:
            plus = sum(1 for ln in dropped if ln.startswith("+"))
            minus = sum(1 for ln in dropped if ln.startswith("-"))
            assert f"+{plus} -{minus}" in m.summary
    assert expand_lines(r.text, dict(r.drops)) == text


def test_the_tail_codex_kept_of_a_diff_of_one_file_keeps_every_change():
    n = DIFF.count("\n")
    text, tail = _codex_cut(DIFF, n * 2 // 5, n * 3 // 5)
    r = compress_text(text, Context(query="Which new keyword arguments default to None?"))
    kept = r.text.split("\n")
    assert all(ln in kept for ln in tail if ln[:1] in "+-")


def test_an_outline_keeps_markdown_headings_not_the_comments_of_other_files():
    """sqlparse's first commit, a cut `git log -p` under Codex (agents-4): the outline of a new
    `.github/workflows/codeql-analysis.yml` kept its forty `# ...` comment lines as if they were headings;
    `#` starts a heading only at the start of a Markdown file's line, as in CODE_OF_CONDUCT.md."""
    import json

    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases

    (case,) = [c for c in agent_cases() if c.id == "cx-exec-truncated-sqlparse-log"]
    out = compress_body(case.provider, case.body, path=case.path)
    sent = max((u.text for u in find_units(case.provider, out.body)), key=len)
    text = json.loads(sent.split("\n", 3)[3])["output"] if sent.startswith("Warning") else sent
    workflow = text.split("diff --git a/.github/workflows/codeql-analysis.yml", 1)[1].split("\ndiff --git", 1)[0]
    assert not any(ln.startswith("+") and ln.lstrip("+ ").startswith("#") for ln in workflow.split("\n"))
    conduct = text.split("diff --git a/.github/CODE_OF_CONDUCT.md", 1)[1].split("\ndiff --git", 1)[0]
    assert "+# Be nice to each other" in conduct
