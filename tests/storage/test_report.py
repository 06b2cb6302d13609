"""The report: the sums of the ledger's rows, rounded once, and the JSON every view is served."""
from __future__ import annotations

import dataclasses
import json

import pytest

from headroom.storage.ledger import UnitRow, open_reader
from headroom.storage.report import Report, build_report, parse_period, recent, report_json
from tests.storage.test_ledger import NOW, entry, write


def test_summary_totals_are_the_sums(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    es = [
        entry(),
        entry(model="claude-sonnet-4-5", provider="anthropic", host="api.anthropic.com", tokens_before=5000,
              tokens_after=2000, tool_tokens_before=4000, tool_tokens_after=1000, compress_ms=9.0,
              usage_input=2000, usage_cache_read=1500, usage_cache_write=100, usage_output=50, retrievals=1,
              units=(UnitRow("logs", "log_lines", 1, 4000, 1000, 9.0),)),
        entry(model="mystery-model", tokens_before=300, tokens_after=300, tool_tokens_before=0,
              tool_tokens_after=0, compressed=False, fail_open=True, usage_reported=False, usage_input=0,
              usage_cache_read=0, usage_output=0),
        entry(bypass=True, compressed=False, tokens_before=10, tokens_after=10, tool_tokens_before=0,
              tool_tokens_after=0, error=True, usage_reported=False, usage_input=0, usage_cache_read=0, usage_output=0),
    ]
    write(path, es)
    s = report_json(build_report(open_reader(path), now=NOW))
    t = s["totals"]
    assert t["requests"] == 4 and t["compressed_requests"] == 2
    assert t["tokens_before"] == 1000 + 5000 + 300 + 10
    assert t["tokens_after"] == 400 + 2000 + 300 + 10
    assert t["tokens_saved"] == 3600
    assert t["saved_pct_of_request"] == round(100 * 3600 / 6310, 2)
    assert t["tool_tokens_before"] == 4800 and t["tool_tokens_after"] == 1200
    assert t["saved_pct_of_tool_outputs"] == 75.0
    assert t["usage"] == {"requests": 2, "input": 2400, "cache_read": 1600, "cache_write": 100, "output": 70,
                          "cache_read_share_pct": round(100 * 1600 / 2400, 2)}
    assert (t["retrievals"], t["fail_open"], t["bypass"], t["errors"]) == (1, 1, 1, 1)
    # Rows of before the bill: all removed tokens new. gpt-4o reports no cache write: $2.50/M input; the sonnet
    # request wrote the cache, so its new tokens would have been a cache write ($3.75/M); the mystery model is
    # left out and counted as unpriced. gpt-4o's ratio is 400 reported / 400 counted; sonnet's is unmeasured
    # (its one request retrieved): 1.
    assert t["usd_saved"] == round((600 * 2.5 + 0 + 3000 * 3.75) / 1e6, 4)
    assert t["tokens_removed"] == 3600 and t["cache_breaks_headroom"] == 0
    assert t["unpriced_requests"] == 1
    by_model = {m["model"]: m for m in s["per_model"]}
    assert by_model["mystery-model"]["usd_saved"] is None and by_model["mystery-model"]["usd_spent"] is None
    assert by_model["claude-sonnet-4-5"]["price_family"] == "claude-sonnet"
    assert by_model["gpt-4o"]["requests"] == 2
    assert sum(m["tokens_before"] for m in s["per_model"]) == t["tokens_before"]
    assert [c["content_type"] for c in s["per_content_type"]] == ["logs"]
    logs = s["per_content_type"][0]
    assert logs == {"content_type": "logs", "units": 1, "requests": 1, "tokens_before": 4000, "tokens_after": 1000,
                    "tokens_saved": 3000, "saved_pct": 75.0, "ms": 9.0, "compressors": {"log_lines": 1}}
    assert s["latency_ms"]["compression"] == {"count": 2, "p50": 3.0, "p95": 9.0, "max": 9.0}
    assert sum(p["requests"] for p in s["series"]["points"]) == 4


def test_nothing_known_is_none_not_zero(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(model="my-local-model")])
    t = report_json(build_report(open_reader(path), now=NOW))["totals"]
    assert t["usd_saved"] is None and t["usd_spent"] is None


def test_empty_and_missing_ledger(tmp_path):
    assert open_reader(tmp_path / "nothing.sqlite3") is None
    s = report_json(build_report(None, now=NOW))
    assert s["totals"]["requests"] == 0 and s["totals"]["saved_pct_of_request"] is None
    assert s["totals"]["usd_saved"] is None
    assert s["latency_ms"]["ttfb"] == {"count": 0, "p50": None, "p95": None, "max": None}


def test_period_filter_and_series(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(ts=NOW - 3 * 86400), entry(ts=NOW - 7200), entry(ts=NOW - 60)])
    conn = open_reader(path)
    assert report_json(build_report(conn, since=NOW - 86400, now=NOW))["totals"]["requests"] == 2
    assert report_json(build_report(conn, now=NOW))["totals"]["requests"] == 3
    assert report_json(build_report(conn, since=NOW - 86400, until=NOW - 3600, now=NOW))["totals"]["requests"] == 1
    series = report_json(build_report(conn, since=NOW - 86400, now=NOW))["series"]
    assert series["bucket_seconds"] == 900  # a day in at most 96 points
    assert all(p["t"] % 900 == 0 for p in series["points"])


def test_percentiles_nearest_rank(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(ttfb_ms=float(v)) for v in range(1, 101)])
    d = report_json(build_report(open_reader(path), now=NOW))["latency_ms"]["ttfb"]
    assert d == {"count": 100, "p50": 50.0, "p95": 95.0, "max": 100.0}


def test_recent_newest_first(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(ts=NOW - 30, tokens_before=1), entry(ts=NOW - 10, tokens_before=2)])
    rows = recent(open_reader(path), limit=5)
    assert [r["tokens_before"] for r in rows] == [2, 1]
    assert "model" in rows[0] and "body" not in rows[0]
    write(path, [entry(ts=NOW - 5, output_arm="treatment", turn_kind="mechanical", shaped="instruction")])
    newest = recent(open_reader(path), limit=1)[0]
    assert (newest["output_arm"], newest["turn_kind"], newest["shaped"]) == ("treatment", "mechanical", "instruction")


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800),
                                           ("2w", 1209600), ("1.5h", 5400), ("all", None), (" 24H ", 86400)])
def test_parse_period(text, seconds):
    assert parse_period(text) == seconds


@pytest.mark.parametrize("text", ["yesterday", "24", "-1h", "0h", "h"])
def test_parse_period_rejects_with_a_hint(text):
    with pytest.raises(ValueError, match="e.g. 30m, 24h"):
        parse_period(text)


def test_holdout_figures_per_arm(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [
        entry(compress_arm="treatment", usage_input=400, usage_cache_read=100, usage_output=20, retrievals=1),
        entry(compress_arm="treatment", usage_input=600, usage_cache_read=300, usage_output=40),
        entry(compress_arm="control", compressed=False, tokens_after=1000, tool_tokens_before=0, tool_tokens_after=0,
              usage_input=1000, usage_cache_read=500, usage_output=30),
        entry(compress_arm="control", usage_reported=False, usage_input=0, usage_output=0, compressed=False),
        entry(compress_arm=None, usage_input=99_999),  # no holdout configured for this one: in neither arm
    ])
    h = report_json(build_report(open_reader(path), now=NOW))["compress_holdout"]
    t, c = h["arms"]["treatment"], h["arms"]["control"]
    assert (t["requests"], t["usage_requests"], c["requests"], c["usage_requests"]) == (2, 2, 2, 1)
    assert t["avg_input_tokens"] == 500.0 and c["avg_input_tokens"] == 1000.0  # unreported usage is not a zero
    assert t["avg_output_tokens"] == 30.0 and c["avg_output_tokens"] == 30.0
    assert t["cache_read_share_pct"] == 40.0 and c["cache_read_share_pct"] == 50.0
    assert t["retrievals_per_request"] == 0.5 and c["retrievals_per_request"] == 0.0
    assert h["input_tokens_difference"] == -500.0 and h["input_tokens_difference_pct"] == -50.0
    assert "compare like with like" in h["note"]


def test_no_holdout_section_without_control_rows(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(compress_arm="treatment"), entry()])
    assert report_json(build_report(open_reader(path), now=NOW))["compress_holdout"] is None
    assert report_json(build_report(None, now=NOW))["compress_holdout"] is None


def test_dropped_then_needed_sums_by_kind(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(needed_retrieved=2, needed_reread=1), entry(needed_guessed=1, reexpanded=3),
                 entry(ts=NOW - 3 * 86400, needed_guessed=5)])  # outside the last day
    day = report_json(build_report(open_reader(path), since=NOW - 86400, now=NOW))["needed"]
    assert day == {"total": 4, "retrieved": 2, "reread": 1, "guessed": 1, "reexpanded": 3}
    assert report_json(build_report(open_reader(path), now=NOW))["needed"]["guessed"] == 6
    assert report_json(build_report(None, now=NOW))["needed"]["total"] == 0
    newest = recent(open_reader(path), limit=3)
    assert (newest[0]["needed_guessed"], newest[0]["reexpanded"], newest[1]["needed_retrieved"]) == (1, 3, 2)


def test_the_json_is_the_report_field_by_field(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(), entry(model="claude-sonnet-4-5", provider="anthropic", compress_arm="control"), entry(compress_arm="treatment")])
    report = build_report(open_reader(path), now=NOW)
    got = report_json(report)
    assert json.loads(json.dumps(got)) == got  # lists, not tuples: what /stats serves compares equal
    assert list(got) == [f.name for f in dataclasses.fields(Report)]
    assert got["totals"]["requests"] == report.totals.requests == 3
    assert got["needed"]["total"] == report.needed.total
    assert got["compress_holdout"]["arms"]["control"]["requests"] == report.compress_holdout.arms.control.requests == 1
    first = got["per_model"][0]
    assert list(first)[:3] == ["model", "provider", "price_family"] and first["model"] == report.per_model[0].model
    assert [stage for stage, _ in report.latency_ms.by_stage()] == list(got["latency_ms"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.totals.requests = 0  # type: ignore[misc]


def shaper_rows(shaped: list[int], control: list[int], kind: str = "mechanical", model: str = "claude-opus-4-5"):
    return ([entry(model=model, provider="anthropic", output_arm="treatment", turn_kind=kind, usage_output=n,
                   shaped="instruction") for n in shaped]
            + [entry(model=model, provider="anthropic", output_arm="control", turn_kind=kind, usage_output=n)
               for n in control])


def test_output_tokens_per_turn_by_arm_with_welch_intervals(tmp_path):
    # Known numbers, worked by hand: shaped 5 x 100 and 5 x 120 (mean 110, variance 1000/9), control 5 x 200
    # and 5 x 240 (mean 220, variance 4000/9). Welch: se = sqrt(1000/90 + 4000/90) = 7.4536, df = 13.2, so
    # t(13) = 2.160: the difference -110 +- 16.1; as a share of the control mean -50 % +- 4.63 (delta method).
    path = tmp_path / "ledger.sqlite3"
    write(path, shaper_rows([100] * 5 + [120] * 5, [200] * 5 + [240] * 5)
          + [entry(output_arm="control", turn_kind="mechanical", usage_reported=False, usage_output=0),  # no usage
             entry(usage_output=999)])  # the shaper was off for this one: in no arm
    o = report_json(build_report(open_reader(path), now=NOW))["output_shaping"]
    assert (o["shaped_requests"], o["treatment_requests"], o["control_requests"]) == (10, 10, 11)
    groups = {(g["model"], g["turn_kind"]): g for g in o["groups"]}
    assert set(groups) == {("(all)", "all"), ("(all)", "mechanical"), ("claude-opus-4-5", "all"),
                           ("claude-opus-4-5", "mechanical")}
    g = groups[("(all)", "mechanical")]
    assert g == groups[("claude-opus-4-5", "mechanical")] | {"model": "(all)"}
    assert g["enough"] and g["status"] == "measured"
    assert g["shaped"]["turns"] == 10 and g["shaped"]["mean"] == 110.0
    assert (g["shaped"]["ci_low"], g["shaped"]["ci_high"]) == (102.5, 117.5)  # 110 +- 2.262 * sqrt(111.1 / 10)
    assert g["control"]["mean"] == 220.0 and (g["control"]["ci_low"], g["control"]["ci_high"]) == (204.9, 235.1)
    assert (g["difference"], g["difference_ci_low"], g["difference_ci_high"]) == (-110.0, -126.1, -93.9)
    assert (g["difference_pct"], g["difference_pct_ci_low"], g["difference_pct_ci_high"]) == (-50.0, -54.6, -45.4)


def test_not_enough_data_yet_shows_counts_and_no_figures(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, shaper_rows([100] * 12, [200] * 9, kind="other"))
    report = build_report(open_reader(path), now=NOW)
    (g, *_) = report.output_shaping.groups
    assert (g.shaped.turns, g.control.turns, g.enough) == (12, 9, False)
    assert g.status == "not enough data yet (control 9 of 10 turns)"
    assert (g.shaped.mean, g.control.mean, g.difference, g.difference_pct) == (None, None, None, None)


def test_no_output_shaping_section_when_the_shaper_never_ran(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(), entry(compress_arm="control")])
    assert report_json(build_report(open_reader(path), now=NOW))["output_shaping"] is None
    assert report_json(build_report(None, now=NOW))["output_shaping"] is None


def test_t_quantiles():
    from headroom.storage.report import t95

    assert (t95(1), t95(9), t95(30)) == (12.706, 2.262, 2.042)
    assert abs(t95(60) - 2.000) < 0.002 and abs(t95(1e6) - 1.960) < 0.001  # the expansion, against the tables


def test_saved_on_the_bill_prices_removed_tokens_where_they_sat(tmp_path):
    """A hand-computed bill (claude-sonnet: $3 input, $0.30 cache read, $3.75 cache write per 1M): the first
    request removed 10,000 tokens and wrote the cache; the next two carried them again and read the cache; the
    third also broke the cache (ours) for 4,000 tokens, and the provider counts 1.25 tokens per token of ours."""
    path = tmp_path / "ledger.sqlite3"
    common = dict(model="claude-sonnet-4-5", provider="anthropic", host="api.anthropic.com", retrievals=0,
                  conversation="c1", usage_reported=True)
    write(path, [
        entry(**common, tokens_before=12_000, tokens_after=2_000, removed_new=10_000, removed_again=0,
              usage_input=2_500, usage_cache_read=0, usage_cache_write=2_500),
        entry(**common, tokens_before=14_000, tokens_after=4_000, removed_new=0, removed_again=10_000,
              usage_input=5_000, usage_cache_read=2_500, usage_cache_write=2_500),
        entry(**common, tokens_before=16_000, tokens_after=6_000, removed_new=0, removed_again=10_000,
              usage_input=7_500, usage_cache_read=2_500, usage_cache_write=5_000, cache_break="headroom",
              break_tokens=4_000),
    ])
    t = report_json(build_report(open_reader(path), now=NOW))["totals"]
    assert t["token_ratio"] == 1.25  # 15,000 reported / 12,000 counted
    saved = 1.25 * (10_000 * 3.75 + 20_000 * 0.30) / 1e6  # $0.054375
    breaks = 1.25 * 4_000 * (3.75 - 0.30) / 1e6  # $0.01725
    assert t["usd_cache_breaks"] == round(breaks, 4) == 0.0173  # to the cent and below
    assert t["usd_saved"] == round(saved - breaks, 4) == 0.0371
    assert (t["tokens_removed"], t["tokens_removed_new"]) == (30_000, 10_000)
    assert (t["cache_breaks_headroom"], t["cache_breaks_client"]) == (1, 0)
    # The old basis, every removed token at the input price on every request, would have said $0.09.
    assert 30_000 * 3.0 / 1e6 == 0.09 > 2 * t["usd_saved"]


def test_a_ledger_from_before_the_bill_is_read_as_it_was(tmp_path):
    """Rows without the bill's columns (an old ledger, opened read-only and never migrated) count their removed
    tokens as new input, as they were counted then, and no cache break."""
    import sqlite3

    path = tmp_path / "ledger.sqlite3"
    write(path, [entry()])
    conn = sqlite3.connect(path)
    for column in ("conversation", "removed_new", "removed_again", "cache_break", "break_tokens"):
        conn.execute(f"ALTER TABLE requests DROP COLUMN {column}")
    conn.commit()
    conn.close()
    t = report_json(build_report(open_reader(path), now=NOW))["totals"]
    assert t["usd_saved"] == round(600 * 2.5 / 1e6, 4) and t["cache_breaks_headroom"] == 0
