"""The eval suite's runner and CLI: it runs every section, reports per kind, and fails on a lost fact or a
false marker claim (whatever the current compressor's score, which the suite exists to measure)."""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

from typer.testing import CliRunner

from headroom.core.markers import make_marker
from headroom.evals.__main__ import app
from headroom.evals.workloads import realworld_cases, tier1_cases


def test_regression_cases_are_deterministic_and_carry_their_facts():
    a, b = tier1_cases(seed=3), tier1_cases(seed=3)
    assert [(c.id, c.tool_output, c.facts) for c in a] == [(c.id, c.tool_output, c.facts) for c in b]
    assert {c.kind for c in a} >= {"logs", "json", "code", "search", "diff", "prose"}
    assert {c.id for c in a if c.generated} >= {"logs_billing", "json_accounts"}
    assert all(c.source for c in a)
    for c in a:
        for fact in c.facts:
            assert fact in c.tool_output, (c.id, fact)


def test_regression_section_keeps_every_fact_with_the_real_compressor():
    result = CliRunner().invoke(app, ["suite", "--tier", "1", "--section", "regression", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cases"] and report["totals"]["lost"] == 0
    assert report["totals"]["tokens_after"] < report["totals"]["tokens_before"]


def test_whole_suite_reports_every_fact_of_every_case_once():
    result = CliRunner().invoke(app, ["suite", "--tier", "1", "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    shipped = {c.id: c for c in realworld_cases()}
    by_id = {c["id"]: c for c in report["cases"]}
    assert set(shipped) <= set(by_id)
    for cid, case in shipped.items():
        row = by_id[cid]
        assert len(row["facts"]) == len(case.facts) + len(case.later_facts)
        assert row["verbatim"] + row["named"] + row["lost"] == len(row["facts"])
        assert {f["category"] for f in row["facts"]} <= {"verbatim", "named", "lost"}
    t = report["totals"]
    assert t["facts"] == sum(len(c["facts"]) for c in report["cases"])
    assert sorted(k["kind"] for k in report["kinds"]) == sorted({c["kind"] for c in report["cases"]})
    assert result.exit_code == (1 if t["lost"] or t["marker_violations"] else 0)


def test_table_shows_every_kind_and_the_totals():
    result = CliRunner().invoke(app, ["suite", "--tier", "1", "--section", "realworld"])
    kinds = {c.kind for c in realworld_cases()}
    for k in kinds:
        assert f"\n{k} " in result.stdout
    assert "verbatim" in result.stdout and "named" in result.stdout and "lost" in result.stdout
    assert f"tier 1: {len(realworld_cases())} cases over {len(kinds)} kinds" in result.stdout


def _fake(transform):
    def compress(messages, model=None, store=True):
        out = [dict(m) for m in messages]
        drops = {}
        for m in out:
            if m.get("role") == "tool":
                m["content"], d = transform(m["content"])
                drops.update(d)
        return SimpleNamespace(messages=out, drops=drops, tokens_before=100, tokens_after=10)
    return compress


def test_a_compressor_that_drops_facts_unmarked_fails_the_suite(monkeypatch):
    import headroom.api

    monkeypatch.setattr(headroom.api, "compress", _fake(lambda t: ("\n".join(t.splitlines()[:5]), {})))
    result = CliRunner().invoke(app, ["suite", "--tier", "1", "--section", "regression"])
    assert result.exit_code == 1
    assert "LOST in" in result.output


def test_a_compressor_that_keeps_everything_passes(monkeypatch):
    import headroom.api

    monkeypatch.setattr(headroom.api, "compress", _fake(lambda t: (t, {})))
    result = CliRunner().invoke(app, ["suite", "--tier", "1", "--section", "realworld", "--section", "regression"])
    assert result.exit_code == 0, result.output[-2000:]
    assert "LOST in" not in result.output


def test_a_marker_with_a_false_count_fails_the_suite(monkeypatch):
    import headroom.api

    def lie(text):
        lines = text.split("\n")
        dropped = "\n".join(lines[1:])
        marker, key = make_marker(f"{len(lines) + 5} lines omitted (lines 2-{len(lines) + 6})", dropped)
        return lines[0] + "\n" + marker, {key: dropped}

    monkeypatch.setattr(headroom.api, "compress", _fake(lie))
    result = CliRunner().invoke(app, ["suite", "--tier", "1", "--section", "regression", "--kind", "code"])
    assert result.exit_code == 1
    assert "FALSE CLAIM in code_" in result.output


def test_unknown_tier_section_or_format_is_one_line_and_exit_2():
    for args, word in ((["--tier", "7"], "no tier 7"), (["--section", "bogus"], "no section bogus"),
                       (["--format", "xml"], "--format is table or json")):
        result = CliRunner().invoke(app, ["suite", *args])
        assert result.exit_code == 2, args
        assert word in result.output and "Traceback" not in result.output


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "headroom.evals", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "suite" in proc.stdout


def test_misuse_is_one_line_not_a_box():
    proc = subprocess.run([sys.executable, "-m", "headroom.evals", "bogus"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bogus" in lines[0] and "╭" not in proc.stderr


def test_an_agent_request_body_runs_through_the_proxys_pipeline():
    from headroom.evals.agents import AgentCase
    from headroom.evals.suite import run_agent_case

    src = next(c for c in tier1_cases() if c.id == "grep_argparse")
    body = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [
        {"role": "user", "content": [{"type": "text", "text": src.question}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Grep", "input": {"pattern": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": src.tool_output}]},
    ]}
    case = AgentCase(id="a1", agent="claude-code", agent_version="test", provider="anthropic", path="/v1/messages",
                     kind="grep-content", question=src.question, later_question=None, body=body, facts=src.facts)
    r = run_agent_case(case)
    assert r.kind == "agent:grep-content" and r.section == "agents" and not r.error
    assert r.tokens_after < r.tokens_before
    assert len(r.facts) == len(src.facts) and r.lost == 0


def test_kind_filter_and_per_case_table():
    result = CliRunner().invoke(app, ["suite", "--tier", "1", "--kind", "tsv", "--cases"])
    ids = sorted(c.id for c in realworld_cases() if c.kind == "tsv")
    assert ids and all(i in result.stdout for i in ids)
    assert f"tier 1: {len(ids)} cases over 1 kinds" in result.stdout
    assert CliRunner().invoke(app, ["suite", "--kind", "no-such-kind"]).exit_code == 2
