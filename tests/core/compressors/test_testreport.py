"""pytest failure reports: every verdict stays, each frame's source folds away from its failing line.

On real reports: tabulate 0.10.0's own tests run against tabulate 0.9.0 (the real-world suite's
traceback_pytest_long, --tb=long) and h11's tests failing under Claude Code (a captured Bash result with
Claude Code's own middle cut, from the agent corpus)."""
from __future__ import annotations

import re

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.testreport import compress_test_report, looks_like_test_report
from headroom.core.markers import find_markers
from headroom.evals.workloads import realworld_cases

from .helpers import check_line_markers, expand_lines

REPORT = next(c for c in realworld_cases() if c.id == "traceback_pytest_long").tool_output

VERDICT = re.compile(r"^(?:E(?: |$)|>|=+ .* =+$|_{3,} .+ _{3,}$|(?:_ ){5,}|FAILED |ERROR |[^\s:][^:]*:\d+: ?\w*$)")


def _h11_failures() -> str:
    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-bash-failing-h11")
    return max(find_units(case.provider, case.body), key=lambda u: len(u.text)).text


def test_a_report_is_recognised_and_plain_logs_and_tracebacks_are_not():
    assert looks_like_test_report(REPORT.split("\n")) and detect(REPORT) == "pytest"
    plain = next(c for c in realworld_cases() if c.id == "traceback_yaml_single_doc").tool_output
    assert not looks_like_test_report(plain.split("\n"))


def test_every_verdict_line_stays_and_frames_fold_their_source_with_its_location():
    r = compress_test_report(REPORT, Context(query="What exceptions do the failing tests raise?"))
    kept = r.text.split("\n")
    for ln in REPORT.split("\n"):
        if VERDICT.match(ln):
            assert ln in kept, ln
    assert len(r.text) < 0.5 * len(REPORT)
    sources = [m for m in find_markers(r.text) if m.summary.split(": ", 1)[-1].startswith("source of ")]
    assert sources and all(re.search(r"before \S+:\d+", m.summary) for m in sources)
    assert expand_lines(r.text, dict(r.drops)) == REPORT
    check_line_markers(REPORT, r.text, dict(r.drops))


def test_the_lines_above_the_failing_one_stay():
    r = compress_test_report(REPORT, Context())
    lines = REPORT.split("\n")
    kept = r.text.split("\n")
    for k, ln in enumerate(lines):
        if ln.startswith(">"):
            for above in lines[max(0, k - 3):k]:
                assert above in kept


def test_an_error_report_is_compressed_under_the_size_error_outputs_are_otherwise_read_whole():
    text = _h11_failures()  # is_error, ~2 300 tokens, with Claude Code's `[N characters truncated]` cut
    r = compress_text(text, Context(query="Which tests fail, and why?", tool_name="Bash", is_error=True))
    assert find_markers(r.text) and len(r.text) < 0.7 * len(text)
    for ln in text.split("\n"):
        if VERDICT.match(ln) or ln.startswith(("Exit code", "... [")):
            assert ln in r.text.split("\n"), ln
    # The piece after the cut starts inside the report and is read as one too.
    tail = text.split("characters truncated] ...", 1)[1]
    assert any(m.start > r.text.index("characters truncated] ...") for m in find_markers(r.text))
    assert "def next_event" in tail
