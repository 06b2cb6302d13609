"""pytest failure reports: every verdict stays, each frame's source folds away from its failing line.

On real reports: tabulate 0.10.0's own tests run against tabulate 0.9.0 (the real-world suite's
traceback_pytest_long, --tb=long) and h11's tests failing under Claude Code (a captured Bash result with
Claude Code's own middle cut, from the agent corpus)."""
from __future__ import annotations

import json
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


def test_a_repeated_frame_or_call_chain_folds_pointing_at_its_first_time():
    # Real reports where one library frame fails under many tests (tabulate's textwrapper tests; its
    # ValueError tests).
    for case_id in ("traceback_pytest_long", "pytest_value_errors"):
        text = next(c for c in realworld_cases() if c.id == case_id).tool_output
        lines = text.split("\n")
        r = compress_test_report(text, Context(query="Which tests fail?"))
        pointers = 0
        for m in find_markers(r.text):
            same = re.search(r"the same lines as lines (\d+)-(\d+)", m.summary)
            if same:
                a, b = int(same.group(1)), int(same.group(2))
                assert r.drops[m.key].split("\n") == lines[a - 1:b]
                pointers += 1
            frame = re.search(r"as in the frame at line (\d+)", m.summary)
            if frame:
                loc = lines[int(frame.group(1)) - 1]
                assert re.match(r"^\S[^:]*:\d+: ", loc) and loc.split(": ", 1)[0] in m.summary
                pointers += 1
        assert pointers
        for ln in lines:
            if ln.startswith("E ") or re.match(r"^_{3,} .+ _{3,}$", ln):
                assert ln in r.text.split("\n")  # verdicts never fold, repeated or not
        assert expand_lines(r.text, dict(r.drops)) == text


def test_a_repeated_call_chain_folds_even_where_it_holds_the_question_s_identifier():
    # idna's tests failing under Claude Code (the agent corpus): one call chain, ending in check_hyphen_ok,
    # repeats under most failing tests. A question naming that function keeps each of its lines once, the
    # first time; the repeats fold like any other.
    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-bash-failing-idna")
    text = max(find_units(case.provider, case.body), key=lambda u: len(u.text)).text
    r = compress_test_report(text, Context(query="Which tests fail in check_hyphen_ok, and with what error?"))
    held = [ln for ln in text.split("\n") if "check_hyphen_ok" in ln and not ln.startswith("E")]
    kept = r.text.split("\n")
    assert set(held) <= set(kept)  # every line naming it, verbatim, at least once
    assert sum(ln in held for ln in kept) < len(held) / 2  # but not again under every test
    for ln in text.split("\n"):
        if ln.startswith("E ") or re.match(r"^_{3,} .+ _{3,}$", ln):
            assert ln in kept
    assert expand_lines(r.text, dict(r.drops)) == text


def test_a_verbose_run_s_bare_test_id_goes_with_its_verdict():
    """pyparsing's verbose run under Codex: a test that printed something has its id on a line of its own,
    then `id PASSED [ 7%]` on the next. The two are one test: folded together inside a run of passing tests
    (the marker counting tests, not lines), never the verdict folded and its bare id left standing."""
    import json

    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases
    from headroom.evals.honesty import check_markers

    case = next(c for c in agent_cases() if c.id == "cx-exec-pytest-pyparsing")
    unit = max(find_units(case.provider, case.body), key=lambda u: len(u.text))
    text = json.loads(unit.text)["output"]
    lines = text.split("\n")
    pairs = [i for i in range(len(lines) - 1) if lines[i].endswith(" ") and "::" in lines[i]
             and lines[i + 1].startswith(lines[i].rstrip() + " ") and " PASSED" in lines[i + 1]]
    assert len(pairs) >= 10
    ctx = Context(query=case.question)
    out = compress_test_report(text, ctx)
    kept = out.text.split("\n")
    for i in pairs:
        bare, verdict = lines[i], lines[i + 1]
        assert (bare in kept) == (verdict in kept), bare  # both stay or both fold
    assert sum(lines[i] not in kept for i in pairs) >= len(pairs) // 2
    violations, checked, _ = check_markers(text, out.text, out.drops)
    assert violations == [] and checked
    counts = [int(m.group(1)) for m in re.finditer(r"(\d+) tests PASSED(?! and)", out.text)]
    assert counts and all(k > 0 for k in counts)


def _six_run():
    """Codex's verbose run of six's urllib.request moves (agents-7): 35 parametrized tests, all passing."""
    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cx-exec-pytest-six-urllib-request")
    unit = max(find_units(case.provider, case.body), key=lambda u: len(u.text))
    return json.loads(unit.text)["output"]


def test_a_marker_over_passing_tests_names_them_with_their_parameters():
    from headroom.evals.honesty import check_markers

    text = _six_run()
    r = compress_test_report(text, Context(query="Did the urllib.request moves pass?"))
    (marker,) = [m for m in find_markers(r.text) if "tests PASSED" in m.summary]
    assert "test_move_items_urllib_request with install_opener, build_opener" in marker.summary
    shown = marker.summary.split(": ", 2)[-1].split(" and ")[0].split(", ")
    for name in [s.split(" with ")[-1] for s in shown]:
        assert f"[{name}] PASSED" in r.drops[marker.key], name
    violations, checked, _ = check_markers(text, r.text, dict(r.drops))
    assert checked and not violations


def test_a_question_about_each_of_a_few_tests_keeps_them():
    text = _six_run()
    r = compress_test_report(text, Context(query="Does every moved name resolve here?"))
    assert [ln for ln in text.split("\n") if " PASSED " in ln and ln not in r.text.split("\n")] == []


def test_tests_named_by_two_words_of_the_question_written_together_stay():
    """"Do the entity-handling (XML bomb, external DTD) tests pass?" over xmltodict's verbose run (a real
    Claude Code capture): 'xml' says nothing alone, but with 'bomb' it names test_..._xmlbomb, as 'external
    DTD' names test_..._external_dtd; all four entity tests stay as run, none only in a marker."""
    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-bash-log-xmltodict-parse")
    out = compress_body(case.provider, json.loads(json.dumps(case.body)), path=case.path)
    sent = "\n".join(u.text for u in find_units(case.provider, out.body))
    assert len(case.facts) == 4 and any("xmlbomb" in f for f in case.facts)
    for fact in case.facts:
        assert fact in sent, fact
    assert out.tokens_after < 0.7 * out.tokens_before  # the other passing tests still fold


def test_a_repeated_chain_folds_through_the_location_of_a_frame_that_went_on():
    # mistune's commonmark tests failing under Claude Code (agents-10): 27 failures, each the same chain
    # through `method` (tests/__init__.py:11, a frame the call went on from, naming no error) into
    # assert_case. Its location is part of the repeat, so the chain folds under every failure but the first;
    # each failure's own lines (header, arguments' test, errors) and the summary stay.
    from headroom.core.pipeline import find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-bash-failing-big-mistune")
    text = max(find_units(case.provider, case.body), key=lambda u: len(u.text)).text
    lines = text.split("\n")
    went_on = [ln for ln in lines if ln == "tests/__init__.py:11: "]
    assert len(went_on) >= 5  # Claude Code cut the middle of the output
    r = compress_test_report(text, Context(query="Which tests expect the old <hr /> tag?"))
    kept = r.text.split("\n")
    assert kept.count("tests/__init__.py:11: ") == 1  # the first time; then "as in the frame at line N"
    for ln in lines:
        if ln.startswith(("E ", "FAILED ")) or re.match(r"^_{3,} .+ _{3,}$", ln):
            assert ln in kept
    assert len(r.text) < 0.85 * len(text)
    assert expand_lines(r.text, dict(r.drops)) == text
    check_line_markers(text, r.text, dict(r.drops))
