"""The ledger's writer: rows written off-thread, drops counted instead of stalls, old files migrated."""
from __future__ import annotations

import os
import sqlite3
import stat
import time

from headroom.storage import ledger as L
from headroom.storage.ledger import Entry, Ledger, UnitRow, open_reader
from headroom.storage.report import build_report, recent, report_json

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


def test_rows_of_the_next_moments_share_one_transaction(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "BATCH_LINGER_S", 1.0)  # wide, so a loaded machine's delays stay inside it
    led = Ledger(tmp_path / "l.db")
    batches: list[int] = []
    write = led._write
    monkeypatch.setattr(led, "_write", lambda conn, batch: (batches.append(len(batch)), write(conn, batch)))
    led.start()
    led.record(entry(provider="a"))
    time.sleep(0.1)  # the writer has the first row by now, and waits for more
    led.record(entry(provider="b"))
    assert led.flush(10)
    led.close()
    assert batches == [2]
    assert [r[0] for r in open_reader(tmp_path / "l.db").execute("SELECT provider FROM requests")] == ["a", "b"]


def test_ledger_holds_numbers_and_labels_only(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    write(path, [entry()])
    conn = sqlite3.connect(path)
    for table in ("requests", "units"):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        assert not any(c in ("body", "text", "content", "prompt", "messages") for c in cols)


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
    assert report_json(build_report(open_reader(tmp_path / "ledger.sqlite3"), now=NOW))["ledger"]["dropped_total"] == 7


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


def test_a_ledger_from_before_the_holdout_gains_the_column(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    old_schema = _schema_without(L._SCHEMA, ("compress_arm", "output_arm", "turn_kind", "shaped", *L.NEEDED_COLUMNS))
    assert "arm TEXT" not in old_schema
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO requests(ts, provider, host, tokens_before, tokens_after, tool_tokens_before, "
                 "tool_tokens_after) VALUES (?, 'anthropic', 'api.anthropic.com', 10, 5, 8, 3)", (NOW - 60,))
    conn.commit()
    conn.close()
    # Read as it is: the summary works, with no holdout section.
    s = report_json(build_report(open_reader(path), now=NOW))
    assert s["totals"]["requests"] == 1 and s["compress_holdout"] is None
    # The writer adds the column and keeps the old row.
    write(path, [entry(compress_arm="control")])
    s = report_json(build_report(open_reader(path), now=NOW))
    assert s["totals"]["requests"] == 2 and s["compress_holdout"]["arms"]["control"]["requests"] == 1


def test_the_old_arm_column_becomes_the_compression_arm_and_the_shaper_columns_are_added(tmp_path):
    # A ledger of when HEADROOM_OUTPUT_HOLDOUT held out compression: its `arm` column is the compression arm.
    path = tmp_path / "ledger.sqlite3"
    old_schema = _schema_without(L._SCHEMA, ("output_arm", "turn_kind", "shaped")).replace(
        "compress_arm TEXT", "arm TEXT")
    assert "compress_arm" not in old_schema and "output_arm" not in old_schema
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    for arm in ("control", "treatment", "control"):
        conn.execute("INSERT INTO requests(ts, provider, host, tokens_before, tokens_after, tool_tokens_before, "
                     "tool_tokens_after, arm) VALUES (?, 'anthropic', 'api.anthropic.com', 10, 5, 8, 3, ?)",
                     (NOW - 60, arm))
    conn.commit()
    conn.close()
    # Read as it is (a perf before the proxy restarted): the old column is the compression arm already.
    s = report_json(build_report(open_reader(path), now=NOW))
    assert s["compress_holdout"]["arms"]["control"]["requests"] == 2 and s["output_shaping"] is None
    write(path, [entry(compress_arm="treatment", output_arm="control", turn_kind="mechanical")])
    conn = sqlite3.connect(path)
    assert not L.has_column(conn, "arm") and all(L.has_column(conn, c) for c in ("output_arm", "turn_kind", "shaped"))
    assert conn.execute("SELECT compress_arm, output_arm FROM requests ORDER BY id").fetchall() == [
        ("control", None), ("treatment", None), ("control", None), ("treatment", "control")]
    conn.close()
    s = report_json(build_report(open_reader(path), now=NOW))
    assert s["compress_holdout"]["arms"]["treatment"]["requests"] == 2
    assert s["output_shaping"]["control_requests"] == 1  # the new row, in the shaper's own arm


def _schema_without(schema: str, columns) -> str:
    """The requests table as an older ledger had it: without `columns` (each one line of the schema)."""
    import re

    lines = [ln for ln in schema.splitlines() if ln.strip().split(" ")[0] not in columns]
    return re.sub(r",\n\);", "\n);", "\n".join(lines))


def test_a_ledger_from_before_needed_was_measured_reads_as_zero_then_gains_the_columns(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    old_schema = _schema_without(L._SCHEMA, L.NEEDED_COLUMNS)
    assert "needed_guessed" not in old_schema and "compress_arm TEXT" in old_schema
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO requests(ts, provider, host, tokens_before, tokens_after, tool_tokens_before, "
                 "tool_tokens_after) VALUES (?, 'anthropic', 'api.anthropic.com', 10, 5, 8, 3)", (NOW - 60,))
    conn.commit()
    conn.close()
    s = report_json(build_report(open_reader(path), now=NOW))  # read-only, not migrated: zeros, not an error
    assert s["totals"]["requests"] == 1 and s["needed"]["total"] == 0
    (old_row,) = recent(open_reader(path))
    assert "needed_guessed" not in old_row and old_row["tokens_before"] == 10
    write(path, [entry(needed_guessed=1, reexpanded=1)])
    s = report_json(build_report(open_reader(path), now=NOW))
    assert s["totals"]["requests"] == 2
    assert (s["needed"]["guessed"], s["needed"]["reexpanded"]) == (1, 1)  # the old row counts 0


def test_rows_carry_their_session_and_a_report_keeps_one(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    old_schema = _schema_without(L._SCHEMA, ("session",))
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO requests(ts, provider, host, tokens_before, tokens_after, tool_tokens_before, "
                 "tool_tokens_after) VALUES (?, 'anthropic', 'api.anthropic.com', 10, 5, 8, 3)", (NOW - 60,))
    conn.commit()
    conn.close()
    # A ledger from before sessions: none of its rows is any session's.
    assert build_report(open_reader(path), now=NOW, session="0123456789abcdef").totals.requests == 0
    write(path, [entry(session="0123456789abcdef"), entry(session="0123456789abcdef"), entry(session="fedcba9876543210")])
    reader = open_reader(path)
    assert build_report(reader, now=NOW).totals.requests == 4  # the old row too, in the whole report
    assert build_report(reader, now=NOW, session="0123456789abcdef").totals.requests == 2
    assert build_report(reader, now=NOW, session="fedcba9876543210").totals.requests == 1


def test_an_existing_ledger_gains_the_user_column_and_a_report_groups_by_user(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(_schema_without(L._SCHEMA, ("user",)))  # a ledger from before team mode, with a row
    conn.execute("INSERT INTO requests(ts, provider, host, tokens_before, tokens_after, tool_tokens_before, "
                 "tool_tokens_after) VALUES (?, 'anthropic', 'api.anthropic.com', 10, 5, 8, 3)", (NOW - 60,))
    conn.commit()
    conn.close()
    old = build_report(open_reader(path), now=NOW)
    assert old.per_user == () and build_report(open_reader(path), now=NOW, user="alice").totals.requests == 0
    write(path, [entry(user="alice"), entry(user="bob", tokens_before=3000, tokens_after=1000), entry(user="bob")])
    reader = open_reader(path)
    assert L.has_column(reader, "user")
    r = build_report(reader, now=NOW)
    assert r.totals.requests == 4  # the old row too, in the whole report, under no user
    assert [(u.user, u.requests, u.tokens_saved) for u in r.per_user] == [("bob", 2, 2600), ("alice", 1, 600)]
    assert build_report(reader, now=NOW, user="bob").totals.requests == 2
    assert report_json(r)["per_user"][0]["user"] == "bob"


def test_a_full_disk_drops_rows_with_one_clear_line_and_writes_again_after(tmp_path, caplog):
    from tests.support.fullfs import fill, small_fs

    with small_fs(tmp_path / "fs", "2m") as root:
        led = Ledger(root / "ledger.sqlite3").start()
        led.record(entry())
        assert led.flush() and led.written == 1
        filler = fill(root)
        with caplog.at_level("WARNING", logger="headroom.ledger"):
            for _ in range(3):  # each batch fails: rows dropped and counted, one line said
                for _ in range(200):
                    led.record(entry(units=(UnitRow("logs", "log_lines", 1, 9000, 10, 1.0),) * 20))
                assert led.flush(10)
        assert led.dropped > 0 and led.last_error.startswith("disk full"), led.last_error
        lines = [r.getMessage() for r in caplog.records if r.name == "headroom.ledger"]
        assert len(lines) == 1 and "its disk is full" in lines[0] and "rollback" not in lines[0], lines
        filler.unlink()
        led.record(entry())
        assert led.flush() and led.last_error is None
        led.close()
        conn = sqlite3.connect(root / "ledger.sqlite3")
        (dropped,) = conn.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        conn.close()
        assert int(dropped) == led.dropped  # the lost rows are counted in the ledger once there is room
