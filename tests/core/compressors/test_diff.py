"""Diffs: changes kept, far context trimmed; a diff of many files too big to read whole is an outline outside
the files the question names. On real diffs: tabulate 0.8.10 -> 0.9.0 (one file, from the real-world suite)
and click's 8.1.8 release as `git log -p` printed it to Codex (many files, from the agent corpus)."""
from __future__ import annotations

import re

from headroom.core import tokens
from headroom.core.compressors import Context, detect
from headroom.core.compressors.diff import DIFF_WHOLE_MAX_TOKENS, compress_diff
from headroom.core.markers import find_markers
from headroom.evals.workloads import realworld_cases

from .helpers import check_line_markers, expand_lines

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
    for ln in patch.split("\n"):
        if ln.startswith(("diff --git ", "@@ ", "+++ ", "--- ")) or re.match(r"^[+-](?:def|class|import|from \S+ import) ", ln):
            assert ln in kept, ln
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
            assert int(m.group(1)) == sum(1 for ln in dropped if ln.startswith("+"))
            assert int(m.group(2)) == sum(1 for ln in dropped if ln.startswith("-"))
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
