"""`git log` on this repository's real history: every commit keeps its hash, header fields and subject;
the commits a question names are kept whole; markers name the files and +/- counts they fold.

Samples made here (in /work/main, history up to 415e355) with:
  git log -p -n 8 415e355        > tests/golden/inputs/gitlog_p.txt
  git log --stat -n 30 415e355   > tests/golden/inputs/gitlog_stat.txt
  git log -n 60 415e355          > tests/golden/inputs/gitlog_plain.txt
  git log --oneline 415e355      > tests/golden/inputs/gitlog_oneline.txt
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.gitlog import compress_gitlog, looks_like_gitlog, parse_commits
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines, kept_lines_are_input_lines

INPUTS = Path(__file__).parents[2] / "golden" / "inputs"
SAMPLES = ["gitlog_p.txt", "gitlog_stat.txt", "gitlog_plain.txt", "gitlog_oneline.txt"]
QUESTIONS = ["", "what changed in test_holdout.py?", "what did commit 984c135 do?", "why was the ledger changed?"]


def _read(name: str) -> str:
    return (INPUTS / name).read_text()


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("q", QUESTIONS)
def test_detected_reversible_markers_exact(name, q):
    text = _read(name)
    assert detect(text) == "gitlog"
    r = compress_gitlog(text, Context(query=q))
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


@pytest.mark.parametrize("name", SAMPLES[:3])
@pytest.mark.parametrize("q", QUESTIONS)
def test_every_commit_keeps_its_header_and_subject(name, q):
    text = _read(name)
    lines = text.split("\n")
    out = compress_gitlog(text, Context(query=q)).text.split("\n")
    for c in parse_commits(lines):
        for k in range(c.start, c.head_end):
            assert lines[k] in out
        assert lines[c.subject] in out


def test_patch_markers_name_files_and_true_counts():
    text = _read("gitlog_p.txt")
    r = compress_gitlog(text, Context())
    assert r.drops
    seen = 0
    for mk in find_markers(r.text):
        dropped = r.drops[mk.key].split("\n")
        for path, plus, minus in re.findall(r"(\S+) \+(\d+) -(\d+)", mk.summary):
            # The counts are those of that file's patch lines inside the dropped run.
            start = next(k for k, ln in enumerate(dropped)
                         if ln.startswith("diff --git a/") and ln.endswith(f" b/{path}"))
            end = next((k for k in range(start + 1, len(dropped)) if dropped[k].startswith("diff --git ")), len(dropped))
            body = [ln for ln in dropped[start:end] if not ln.startswith(("+++ ", "--- "))]
            assert int(plus) == sum(1 for ln in body if ln.startswith("+"))
            assert int(minus) == sum(1 for ln in body if ln.startswith("-"))
            seen += 1
    assert seen >= 5


def test_question_naming_a_file_keeps_those_commits_whole():
    text = _read("gitlog_stat.txt")
    lines = text.split("\n")
    r = compress_gitlog(text, Context(query="what changed in test_holdout.py?"))
    out = r.text.split("\n")
    for c in parse_commits(lines):
        if any("test_holdout.py" in lines[k] for k in range(*c.stat)):
            assert all(lines[k] in out for k in range(c.start, c.end) if lines[k].strip())


def test_question_naming_a_hash_keeps_that_commit_whole():
    text = _read("gitlog_plain.txt")
    lines = text.split("\n")
    c = next(c for c in parse_commits(lines) if c.hash.startswith("984c135"))
    r = compress_gitlog(text, Context(query="what did commit 984c135 do?"))
    assert "\n".join(lines[c.start:c.end]) in r.text


def test_stat_summary_lines_stay():
    text = _read("gitlog_stat.txt")
    r = compress_gitlog(text, Context())
    for ln in text.split("\n"):
        if re.match(r"^ \d+ files? changed", ln):
            assert ln in r.text.split("\n")


def test_router_compresses_patches():
    text = _read("gitlog_p.txt")
    r = compress_text(text, Context(query="what changed in the holdout e2e test?"))
    assert r.content_type == "gitlog" and len(r.text) < 0.6 * len(text)


def test_not_a_git_log():
    assert not looks_like_gitlog(_read("tabulate.diff").split("\n"))
    assert not looks_like_gitlog([f"{i:08d} items processed" for i in range(40)])


def test_a_path_every_commit_shares_picks_none_and_the_release_named_picks_its_commit():
    # A real capture: Claude Code ran `git log -p -- h11/_state.py` on h11's release history.
    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-bash-git-log-p-h11")
    log = max(find_units(case.provider, case.body), key=lambda u: len(u.text)).text
    r = compress_gitlog(log, Context(query="What changed in h11/_state.py in the 0.14.0 release?"))
    assert "    h11 0.14.0" in r.text and "    h11 0.13.0" in r.text  # every subject stays
    assert "+STATE_TRIGGERED_TRANSITIONS: StateTransitionType = {" in r.text  # 0.14.0's change
    assert "+class ConnectionState:" not in r.text  # 0.13.0 added the whole file: folded
    assert len(r.text) < 0.3 * len(log)


def test_which_file_changed_the_most_keeps_the_largest_stat_lines_and_says_the_most_the_rest_changed():
    from headroom.core.compressors.query import parse_query
    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases

    question = "Which file under src/click changed the most between 8.1.7 and 8.1.8?"
    assert parse_query(question).extremes[0].words == ("chang",)  # "changed the most": the verb is ranked
    case = next(c for c in agent_cases() if c.id == "cc-bash-git-log-stat-click")  # a real capture
    log = max(find_units(case.provider, case.body), key=lambda u: len(u.text)).text
    r = compress_gitlog(log, Context(query=question))
    assert " src/click/core.py                               | 3042 +++++++++++++++++++++++" in r.text
    said = 0
    for m in find_markers(r.text):
        mo = re.search(r"stat of (\d+) files, each with at most (\d+) changes", m.summary)
        if mo:
            from headroom.core.compressors.gitlog import _STAT

            counts = [int(st.group("n") or 0) for ln in r.drops[m.key].split("\n") if (st := _STAT.match(ln))]
            assert len(counts) == int(mo.group(1)) and max(counts) == int(mo.group(2))
            said += 1
    assert said and len(r.text) < 0.6 * len(log)
