"""`headroom perf` over a real ledger file: every format shows the numbers report_json(build_report()) computed."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from headroom.cli.main import app
from headroom.storage.ledger import Entry, Ledger, UnitRow, ledger_path, open_reader
from headroom.storage.report import build_report, report_json


def seed(rows):
    led = Ledger(ledger_path()).start()
    for r in rows:
        led.record(r)
    assert led.flush(10)
    led.close()


def row(ago: float, **kw) -> Entry:
    base = dict(ts=time.time() - ago, provider="openai_chat", host="api.openai.com", model="gpt-4o",
                tokens_before=12_345, tokens_after=2_345, tool_tokens_before=11_000, tool_tokens_after=1_000,
                compressed=True, compress_ms=4.2, overhead_ms=6.1, ttfb_ms=120.0, upstream_ms=300.0,
                usage_reported=True, usage_input=2_345, usage_cache_read=1_024, usage_output=17,
                units=(UnitRow("logs", "log_lines", 1, 11_000, 1_000, 4.0),))
    base.update(kw)
    return Entry(**base)


runner = CliRunner()


def test_no_data_says_how_to_get_some():
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 0
    assert "No requests recorded in the last 24h" in r.output and "headroom wrap" in r.output


def test_json_is_the_summary(monkeypatch):
    seed([row(60), row(120, model="claude-sonnet-4-5", provider="anthropic"), row(3 * 86400)])
    r = runner.invoke(app, ["perf", "--format", "json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert got["totals"]["requests"] == 2  # the 3-day-old row is outside the default 24h
    assert got["totals"]["tokens_before"] == 2 * 12_345
    assert got["totals"]["saved_pct_of_tool_outputs"] == round(100 * 20_000 / 22_000, 2)
    again = report_json(build_report(open_reader(), since=got["period"]["since"], until=None, now=got["period"]["until"]))
    assert got["totals"] == again["totals"] and got["per_model"] == again["per_model"]
    r_all = runner.invoke(app, ["perf", "--since", "all", "--format", "json"])
    assert json.loads(r_all.output)["totals"]["requests"] == 3


def test_table_shows_labelled_figures():
    seed([row(60), row(90, model="llama-local")])
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "Whole request" in out and "Tool outputs only" in out
    assert "24,690" in out  # 2 x 12,345 before
    assert "81.00 %" in out  # whole request: 20,000 of 24,690
    assert "90.91 %" in out  # tool outputs: 20,000 of 22,000
    assert "unknown" in out  # llama-local has no price: never $0
    assert "1 request(s) of models without a known price not counted" in out
    assert "Compression" in out and "Time to first byte" in out and "Proxy overhead" in out
    assert "logs" in out and "log_lines" in out


def test_csv_per_model_rows_and_total():
    seed([row(60), row(61), row(62, model="gemini-2.5-pro", provider="gemini")])
    r = runner.invoke(app, ["perf", "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert [x["model"] for x in rows] == ["gpt-4o", "gemini-2.5-pro", "(all)"]
    assert rows[0]["requests"] == "2" and rows[-1]["requests"] == "3"
    assert int(rows[-1]["tokens_saved"]) == 3 * 10_000


@pytest.mark.parametrize("bad", ["yesterday", "-3h"])
def test_bad_since_is_one_line(bad):
    r = runner.invoke(app, ["perf", "--since", bad])
    assert r.exit_code == 2
    assert "e.g. 30m, 24h" in r.output and "Traceback" not in r.output


def test_corrupt_ledger_is_one_line():
    p = ledger_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"this is not sqlite" * 100)
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 1 and "cannot read the ledger" in r.output and "Traceback" not in r.output


def test_help_in_a_subprocess():
    r = subprocess.run([sys.executable, "-m", "headroom", "perf", "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "--since" in r.stdout


def test_bad_price_file_is_one_line(tmp_path, monkeypatch):
    from headroom.core import pricing

    seed([row(60)])
    bad = tmp_path / "prices.json"
    bad.write_text("{nope")
    monkeypatch.setenv("HEADROOM_PRICING", str(bad))
    pricing._load.cache_clear()
    try:
        r = runner.invoke(app, ["perf"])
    finally:
        pricing._load.cache_clear()
    assert r.exit_code == 1 and "HEADROOM_PRICING" in r.output and "Traceback" not in r.output


def test_table_says_the_prices_are_unverified_and_how_to_correct_them():
    seed([row(60)])
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 0
    line = next(x for x in r.output.splitlines() if "list prices as of" in x)
    assert "unverified" in line and "HEADROOM_PRICING" in line


def test_pricing_override_is_what_perf_bills(tmp_path, monkeypatch):
    from headroom.core import pricing

    seed([row(60)])  # gpt-4o, 10,000 whole-request tokens saved
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"as_of": "2031-02-03", "families": [
        {"family": "gpt-4o", "prefixes": ["gpt-4o"], "input": 7.0, "output": 20.0}]}))
    monkeypatch.setenv("HEADROOM_PRICING", str(prices))
    pricing._load.cache_clear()
    try:
        r = runner.invoke(app, ["perf", "--format", "json"])
    finally:
        pricing._load.cache_clear()
    data = json.loads(r.output)
    assert "2031-02-03" in data["pricing"]["as_of"]
    assert data["totals"]["usd_saved"] == pytest.approx(10_000 * 7.0 / 1e6, abs=1e-4)


def test_codex_mini_is_not_billed_at_o4_mini_rates():
    from headroom.core.pricing import load_prices

    table = load_prices()
    codex, o4 = table.lookup("codex-mini-latest"), table.lookup("o4-mini")
    assert codex is not None and o4 is not None
    assert codex.family == "codex-mini" and (codex.input, codex.output) != (o4.input, o4.output)


def test_a_period_longer_than_any_ledger_is_all_time_not_a_traceback():
    seed([row(60)])
    r = runner.invoke(app, ["perf", "--since", "99999999999d"])
    assert r.exit_code == 0 and "all time" in r.output.splitlines()[0], r.output


def test_holdout_section_in_table_and_json():
    seed([row(60, compress_arm="treatment", usage_input=2_000, retrievals=1), row(70, compress_arm="treatment", usage_input=3_000),
          row(80, compress_arm="control", compressed=False, usage_input=10_000, usage_cache_read=0)])
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 0, r.output
    assert "Compressed (treatment)" in r.output and "Uncompressed (control)" in r.output
    assert "compressed minus uncompressed: -7,500.0 (-75.00 %)" in r.output
    assert "compare like with like" in r.output
    got = json.loads(runner.invoke(app, ["perf", "--format", "json"]).output)
    assert got["compress_holdout"]["arms"]["control"]["requests"] == 1
    assert got["compress_holdout"]["arms"]["treatment"]["retrievals_per_request"] == 0.5


def test_no_holdout_section_without_a_control_arm():
    seed([row(60), row(70, compress_arm="treatment")])
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 0 and "Holdout" not in r.output
    assert json.loads(runner.invoke(app, ["perf", "--format", "json"]).output)["compress_holdout"] is None


def test_output_shaping_section_with_intervals_in_table_and_json():
    # The numbers of tests/storage/test_report.py's worked example, through the CLI.
    rows = [row(60, output_arm="treatment", turn_kind="mechanical", usage_output=n, shaped="instruction")
            for n in [100] * 5 + [120] * 5]
    rows += [row(60, output_arm="control", turn_kind="mechanical", usage_output=n) for n in [200] * 5 + [240] * 5]
    rows += [row(60, output_arm="treatment", turn_kind="other", usage_output=50) for _ in range(3)]
    seed(rows)
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "Output shaping: 10 request(s) shaped" in r.output
    mech = next(ln for ln in lines if ln.startswith("(all)") and "mechanical" in ln)
    assert "110.0 [102.5, 117.5]" in mech and "220.0 [204.9, 235.1]" in mech
    assert "-110.0 tokens/turn [-126.1, -93.9], -50.0 % [-54.6, -45.4]" in mech
    other = next(ln for ln in lines if ln.startswith("(all)") and " other " in ln)
    assert "not enough data yet (shaped 3 of 10 turns, control 0 of 10 turns)" in other and "tokens/turn" not in other
    assert "Welch t interval" in r.output
    got = json.loads(runner.invoke(app, ["perf", "--format", "json"]).output)["output_shaping"]
    assert [g["turn_kind"] for g in got["groups"] if g["model"] == "(all)"] == ["all", "mechanical", "other"]


def test_output_shaping_without_a_control_arm_says_how_to_measure():
    seed([row(60, turn_kind="mechanical", shaped="instruction") for _ in range(12)])
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 0 and "no control turns: set HEADROOM_OUTPUT_HOLDOUT" in r.output
    assert "tokens/turn" not in r.output  # no difference is claimed


def test_dropped_then_needed_line_in_table_and_json():
    seed([row(60, needed_retrieved=2, needed_reread=3), row(70, needed_guessed=1, reexpanded=4),
          row(3 * 86400, needed_guessed=7)])  # outside the last 24h
    r = runner.invoke(app, ["perf"])
    assert r.exit_code == 0, r.output
    assert "Dropped, then needed: 6 (retrieved 2, re-read 3, guessed 1)" in r.output
    assert "re-expanded for a later question: 4" in r.output
    assert "guessed, it edited or quoted lines it was never shown" in r.output
    got = json.loads(runner.invoke(app, ["perf", "--format", "json"]).output)
    assert got["needed"] == {"total": 6, "retrieved": 2, "reread": 3, "guessed": 1, "reexpanded": 4}
    r_all = runner.invoke(app, ["perf", "--since", "all"])
    assert "Dropped, then needed: 13 (retrieved 2, re-read 3, guessed 8)" in r_all.output


def test_nothing_needed_reads_as_zeros_not_dashes():
    seed([row(60)])
    r = runner.invoke(app, ["perf"])
    assert "Dropped, then needed: 0 (retrieved 0, re-read 0, guessed 0)" in r.output
