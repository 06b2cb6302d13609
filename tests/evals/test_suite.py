"""The eval suite: it passes on the real compressor, and it catches a compressor that loses a fact."""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

from typer.testing import CliRunner

from headroom.evals import suite as suite_mod
from headroom.evals.__main__ import app
from headroom.evals.workloads import tier1_cases


def test_workloads_are_deterministic_and_carry_their_facts():
    a, b = tier1_cases(seed=3), tier1_cases(seed=3)
    assert [(c.id, c.tool_output, c.facts) for c in a] == [(c.id, c.tool_output, c.facts) for c in b]
    assert {c.kind for c in a} >= {"logs", "json", "code", "search", "diff", "prose"}
    for c in a:
        for fact in c.facts:
            assert fact in c.tool_output, (c.id, fact)


def test_tier1_keeps_every_fact_with_the_real_compressor():
    result = CliRunner().invoke(app, ["suite", "--tier", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows and all(r["lost"] == 0 for r in rows)
    assert sum(r["tokens_after"] for r in rows) < sum(r["tokens_before"] for r in rows)


def test_a_compressor_that_drops_facts_unmarked_fails_the_suite(monkeypatch):
    def lossy(messages, model=None, store=True):
        out = [dict(m) for m in messages]
        for m in out:
            if m.get("role") == "tool":
                m["content"] = "\n".join(m["content"].splitlines()[:5])
        return SimpleNamespace(messages=out, drops={}, tokens_before=100, tokens_after=10)

    import headroom.api

    monkeypatch.setattr(headroom.api, "compress", lossy)
    result = CliRunner().invoke(app, ["suite", "--tier", "1"])
    assert result.exit_code == 1
    assert "LOST in" in result.output


def test_unknown_tier_is_one_line_and_exit_2():
    result = CliRunner().invoke(app, ["suite", "--tier", "7"])
    assert result.exit_code == 2
    assert "no tier 7" in result.output and "Traceback" not in result.output


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "headroom.evals", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "suite" in proc.stdout


def test_misuse_is_one_line_not_a_box():
    proc = subprocess.run([sys.executable, "-m", "headroom.evals", "bogus"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bogus" in lines[0] and "╭" not in proc.stderr
