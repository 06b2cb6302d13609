"""The ledger: rows written off-thread, drops counted instead of stalls, and the one summary every view shows."""
from __future__ import annotations

import os
import sqlite3
import stat
import time

import pytest

from headroom.core import ledger as L
from headroom.core.ledger import Entry, Ledger, UnitRow, open_reader, parse_period, recent, summarize

NOW = 1_800_000_000.0


def entry(**kw) -> Entry:
    base = dict(ts=NOW - 60, provider="openai_chat", host="api.openai.com", model="gpt-4o", tokens_before=1000,
                tokens_after=400, tool_tokens_before=800, tool_tokens_after=200, compressed=True, compress_ms=3.0,
                overhead_ms=5.0, upstream_ms=200.0, ttfb_ms=150.0, total_ms=210.0, usage_reported=True,
                usage_input=400, usage_cache_read=100, usage_output=20)
    base.update(kw)
    return Entry(**base)


def write(path, entries) -> Ledger:
    led = Ledger(path).start()
    for e in entries:
        assert led.record(e)
    assert led.flush(10)
    led.close()
    return led


def test_rows_round_trip_and_file_is_private(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    led = write(path, [entry(units=(UnitRow("json", "json_array", 2, 800, 200, 2.5),))])
    assert led.written == 1 and led.dropped == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    conn = open_reader(path)
    (n,) = conn.execute("SELECT COUNT(*) FROM requests").fetchone()
    assert n == 1
    (ct, comp, units) = conn.execute("SELECT content_type, compressor, units FROM units").fetchone()
    assert (ct, comp, units) == ("json", "json_array", 2)


def test_ledger_holds_numbers_and_labels_only(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry()])
    conn = sqlite3.connect(path)
    for table in ("requests", "units"):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        assert not any(c in ("body", "text", "content", "prompt", "messages") for c in cols)


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
    s = summarize(open_reader(path), now=NOW)
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
    # gpt-4o: $2.50/M input, sonnet $3/M; the mystery model is left out and counted as unpriced
    assert t["usd_saved"] == round((600 * 2.5 + 0 + 3000 * 3.0) / 1e6, 4)
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
    t = summarize(open_reader(path), now=NOW)["totals"]
    assert t["usd_saved"] is None and t["usd_spent"] is None


def test_empty_and_missing_ledger(tmp_path):
    assert open_reader(tmp_path / "nothing.sqlite3") is None
    s = summarize(None, now=NOW)
    assert s["totals"]["requests"] == 0 and s["totals"]["saved_pct_of_request"] is None
    assert s["totals"]["usd_saved"] is None
    assert s["latency_ms"]["ttfb"] == {"count": 0, "p50": None, "p95": None, "max": None}


def test_period_filter_and_series(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(ts=NOW - 3 * 86400), entry(ts=NOW - 7200), entry(ts=NOW - 60)])
    conn = open_reader(path)
    assert summarize(conn, since=NOW - 86400, now=NOW)["totals"]["requests"] == 2
    assert summarize(conn, now=NOW)["totals"]["requests"] == 3
    assert summarize(conn, since=NOW - 86400, until=NOW - 3600, now=NOW)["totals"]["requests"] == 1
    series = summarize(conn, since=NOW - 86400, now=NOW)["series"]
    assert series["bucket_seconds"] == 900  # a day in at most 96 points
    assert all(p["t"] % 900 == 0 for p in series["points"])


def test_percentiles_nearest_rank(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(ttfb_ms=float(v)) for v in range(1, 101)])
    d = summarize(open_reader(path), now=NOW)["latency_ms"]["ttfb"]
    assert d == {"count": 100, "p50": 50.0, "p95": 95.0, "max": 100.0}


def test_recent_newest_first(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(ts=NOW - 30, tokens_before=1), entry(ts=NOW - 10, tokens_before=2)])
    rows = recent(open_reader(path), limit=5)
    assert [r["tokens_before"] for r in rows] == [2, 1]
    assert "model" in rows[0] and "body" not in rows[0]


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    led = Ledger(tmp_path / "ledger.sqlite3", max_queue=3)  # writer not started: nothing drains the queue
    results = [led.record(entry()) for _ in range(10)]
    assert results.count(True) == 3 and led.dropped == 7
    led.start()
    assert led.flush(10)
    led.close()
    assert led.written == 3
    # the drops reach the file with the next successful write, so `perf` can report them
    write(tmp_path / "ledger.sqlite3", [entry()])
    assert summarize(open_reader(tmp_path / "ledger.sqlite3"), now=NOW)["ledger"]["dropped_total"] == 7


def test_unwritable_home_drops_rows_never_raises(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    led = Ledger(blocker / "ledger.sqlite3").start()
    assert led.record(entry())
    assert led.flush(10)
    led.close()
    assert led.dropped == 1 and led.written == 0 and led.last_error


def test_locked_database_costs_rows_not_time(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry()])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        led = Ledger(path).start()
        t0 = time.monotonic()
        for _ in range(50):
            led.record(entry())
        assert time.monotonic() - t0 < 0.5  # record() only queues; the lock is the writer's problem
        assert led.flush(10)
        assert led.dropped == 50 and "locked" in led.last_error
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert led.record(entry()) and led.flush(10)
    led.close()
    assert led.written == 1


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
        entry(arm="treatment", usage_input=400, usage_cache_read=100, usage_output=20, retrievals=1),
        entry(arm="treatment", usage_input=600, usage_cache_read=300, usage_output=40),
        entry(arm="control", compressed=False, tokens_after=1000, tool_tokens_before=0, tool_tokens_after=0,
              usage_input=1000, usage_cache_read=500, usage_output=30),
        entry(arm="control", usage_reported=False, usage_input=0, usage_output=0, compressed=False),
        entry(arm=None, usage_input=99_999),  # no holdout configured for this one: in neither arm
    ])
    h = summarize(open_reader(path), now=NOW)["holdout"]
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
    write(path, [entry(arm="treatment"), entry()])
    assert summarize(open_reader(path), now=NOW)["holdout"] is None
    assert summarize(None, now=NOW)["holdout"] is None


def test_a_ledger_from_before_the_holdout_gains_the_column(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    old_schema = _schema_without(L._SCHEMA, ("arm", *L.NEEDED_COLUMNS))
    assert "arm TEXT" not in old_schema
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO requests(ts, provider, host, tokens_before, tokens_after, tool_tokens_before, "
                 "tool_tokens_after) VALUES (?, 'anthropic', 'api.anthropic.com', 10, 5, 8, 3)", (NOW - 60,))
    conn.commit()
    conn.close()
    # Read as it is: the summary works, with no holdout section.
    s = summarize(open_reader(path), now=NOW)
    assert s["totals"]["requests"] == 1 and s["holdout"] is None
    # The writer adds the column and keeps the old row.
    write(path, [entry(arm="control")])
    s = summarize(open_reader(path), now=NOW)
    assert s["totals"]["requests"] == 2 and s["holdout"]["arms"]["control"]["requests"] == 1


def _schema_without(schema: str, columns) -> str:
    """The requests table as an older ledger had it: without `columns` (each one line of the schema)."""
    import re

    lines = [ln for ln in schema.splitlines() if ln.strip().split(" ")[0] not in columns]
    return re.sub(r",\n\);", "\n);", "\n".join(lines))


def test_dropped_then_needed_sums_by_kind(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry(needed_retrieved=2, needed_reread=1), entry(needed_guessed=1, reexpanded=3),
                 entry(ts=NOW - 3 * 86400, needed_guessed=5)])  # outside the last day
    day = summarize(open_reader(path), since=NOW - 86400, now=NOW)["needed"]
    assert day == {"total": 4, "retrieved": 2, "reread": 1, "guessed": 1, "reexpanded": 3}
    assert summarize(open_reader(path), now=NOW)["needed"]["guessed"] == 6
    assert summarize(None, now=NOW)["needed"]["total"] == 0
    newest = recent(open_reader(path), limit=3)
    assert (newest[0]["needed_guessed"], newest[0]["reexpanded"], newest[1]["needed_retrieved"]) == (1, 3, 2)


def test_a_ledger_from_before_needed_was_measured_reads_as_zero_then_gains_the_columns(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    old_schema = _schema_without(L._SCHEMA, L.NEEDED_COLUMNS)
    assert "needed_guessed" not in old_schema and "arm TEXT" in old_schema
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO requests(ts, provider, host, tokens_before, tokens_after, tool_tokens_before, "
                 "tool_tokens_after) VALUES (?, 'anthropic', 'api.anthropic.com', 10, 5, 8, 3)", (NOW - 60,))
    conn.commit()
    conn.close()
    s = summarize(open_reader(path), now=NOW)  # read-only, not migrated: zeros, not an error
    assert s["totals"]["requests"] == 1 and s["needed"]["total"] == 0
    (old_row,) = recent(open_reader(path))
    assert "needed_guessed" not in old_row and old_row["tokens_before"] == 10
    write(path, [entry(needed_guessed=1, reexpanded=1)])
    s = summarize(open_reader(path), now=NOW)
    assert s["totals"]["requests"] == 2
    assert (s["needed"]["guessed"], s["needed"]["reexpanded"]) == (1, 1)  # the old row counts 0
