"""The shared ledger on a real PostgreSQL (tests/support/servers.postgres_server): schema, migration, batching,
a database down then up, and no password in any log line."""
from __future__ import annotations

import dataclasses
import logging
import socket
import time

import pytest

from tests.support.servers import require_psycopg

psycopg = require_psycopg()  # a failure, never a skip: psycopg is in the [test] extra

from headroom.core.ports import Entry, UnitRow  # noqa: E402
from headroom.storage import pg_ledger  # noqa: E402
from headroom.storage.pg_ledger import PgLedger, migrate, snapshot  # noqa: E402
from headroom.storage.report import build_report  # noqa: E402
from tests.support.servers import free_port, postgres_server  # noqa: E402

PASSWORD = "pw-never-logged-7731"


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server(password=PASSWORD) as url:
        yield url


@pytest.fixture
def db(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as c:
        for t in (pg_ledger.UNITS, pg_ledger.REQUESTS, pg_ledger.META, pg_ledger.META + "_schema"):
            c.execute(f"DROP TABLE IF EXISTS {t} CASCADE")
    return pg_url


def entry(i: int, user: str | None = "ann") -> Entry:
    return Entry(ts=time.time(), provider="anthropic", host="api.anthropic.com", model="claude-sonnet-4",
                 tokens_before=1000 + i, tokens_after=400 + i, tool_tokens_before=800, tool_tokens_after=200,
                 compressed=True, user=user,
                 units=[UnitRow(content_type="log", compressor="logs", units=1, tokens_before=800, tokens_after=200,
                                ms=1.5)])


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as c:
        return int(c.execute(sql).fetchone()[0])


def test_rows_of_two_replicas_land_in_one_table_with_replica_and_user(db):
    a = PgLedger(db, replica="a").start()
    b = PgLedger(db, replica="b").start()
    for i in range(30):
        a.record(entry(i, "ann"))
        b.record(entry(i, "bob"))
    assert a.flush(20) and b.flush(20)
    a.close(), b.close()
    assert (a.written, a.dropped, b.written, b.dropped) == (30, 0, 30, 0)
    with psycopg.connect(db) as c:
        got = c.execute(f'SELECT replica, "user", COUNT(*), SUM(tokens_before) FROM {pg_ledger.REQUESTS} '
                        "GROUP BY replica, \"user\" ORDER BY replica").fetchall()
    expected = sum(1000 + i for i in range(30))
    assert got == [("a", "ann", 30, expected), ("b", "bob", 30, expected)]
    assert count(db, f"SELECT COUNT(*) FROM {pg_ledger.UNITS}") == 60
    report = build_report(snapshot(db))
    assert report.totals.requests == 60 and report.totals.tokens_before == 2 * expected
    assert {u.user: u.requests for u in report.per_user} == {"ann": 30, "bob": 30}
    assert {r.replica: r.requests for r in report.per_replica} == {"a": 30, "b": 30}
    assert report.per_content_type[0].units == 60


def test_a_burst_is_written_in_batches_not_one_transaction_per_row(db):
    led = PgLedger(db, replica="a")
    n = pg_ledger.MAX_BATCH + 200
    for i in range(n):  # queued before the writer starts: it must group them
        led.record(entry(i))
    before = count(db, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    led.start()
    assert led.flush(30)
    led.close()
    assert led.written == n
    time.sleep(0.6)  # pg_stat counters are published by the backend at most every 0.5 s
    commits = count(db, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()") - before
    assert commits < 40, commits  # one per batch (2) plus the schema and our own queries, never one per row


def test_schema_migrates_from_the_version_without_replica(db):
    with psycopg.connect(db) as c:  # what the first version created: no replica column, no bill columns
        c.execute(f"CREATE TABLE {pg_ledger.REQUESTS} (id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, "
                  'provider TEXT, host TEXT, tokens_before BIGINT, tokens_after BIGINT, "user" TEXT)')
        c.execute(f"INSERT INTO {pg_ledger.REQUESTS}(ts, provider, host, tokens_before, tokens_after, \"user\") "
                  f"VALUES ({time.time()}, 'openai', 'api.openai.com', 50, 40, 'old')")
    led = PgLedger(db, replica="a").start()
    led.record(entry(0))
    assert led.flush(20)
    led.close()
    assert led.written == 1
    with psycopg.connect(db) as c:
        cols = {r[0] for r in c.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                                        (pg_ledger.REQUESTS,))}
        rows = c.execute(f"SELECT replica, \"user\", tokens_before FROM {pg_ledger.REQUESTS} ORDER BY id").fetchall()
    assert {"replica", "removed_new", "break_tokens", "compress_arm"} <= cols
    assert rows == [(None, "old", 50), ("a", "ann", 1000)]
    with psycopg.connect(db) as c:
        migrate(c)  # idempotent: a second replica starting does the same without harm
        assert c.execute(f"SELECT version FROM {pg_ledger.META}_schema").fetchone()[0] == pg_ledger.SCHEMA_VERSION


def test_database_down_then_up_loses_rows_counted_and_logs_no_password(db, caplog, monkeypatch):
    """A database that does not answer costs rows, counted and logged with numbers; when it answers again the
    writer reconnects and the lost count is persisted."""
    monkeypatch.setattr(pg_ledger, "RETRY_FIRST_S", 0.05)
    dead = socket.socket()
    dead.bind(("127.0.0.1", free_port()))  # bound, not listening: connections are refused
    dead_port = dead.getsockname()[1]
    real = db
    target = {"url": db.replace(db.rsplit("@", 1)[1].split("/")[0], f"127.0.0.1:{dead_port}")}

    def connect(url: str, ca: str):
        return pg_ledger._connect(target["url"], ca)

    caplog.set_level(logging.DEBUG, logger="headroom")
    led = PgLedger(real, replica="a", connect=connect).start()
    for i in range(5):
        led.record(entry(i))
    assert led.flush(20)
    assert led.dropped == 5 and led.written == 0 and "did not take" in (led.last_error or "")
    target["url"] = real  # the database is back
    deadline = time.monotonic() + 20
    while led.written == 0 and time.monotonic() < deadline:
        led.record(entry(9))
        led.flush(5)
        time.sleep(0.1)
    led.close()
    dead.close()
    assert led.written >= 1 and led.last_error is None
    assert count(real, f"SELECT dropped FROM {pg_ledger.META} WHERE replica = 'a'") == 5
    text = caplog.text
    assert "unreachable" in text and "5 row(s) were lost" in text
    assert PASSWORD not in text and PASSWORD not in (led.url or "")


def test_record_never_blocks_when_the_queue_is_full(db):
    led = PgLedger(db, replica="a", max_queue=3)  # not started: nothing drains the queue
    assert [led.record(entry(i)) for i in range(5)] == [True, True, True, False, False]
    assert led.dropped == 2


def old_entry(i: int, age_days: float) -> Entry:
    return dataclasses.replace(entry(i), ts=time.time() - age_days * 86400)


def test_rows_older_than_the_retention_are_deleted_in_batches_with_their_units(db, monkeypatch, caplog):
    monkeypatch.setattr(pg_ledger, "PRUNE_BATCH", 1000)
    caplog.set_level(logging.INFO, logger="headroom")
    days = pg_ledger.RETENTION_SECONDS // 86400
    seed = PgLedger(db, replica="a")  # the history: 2,500 rows past the retention, 20 within it
    seed._prune_due = float("inf")  # this writer only seeds; the one below prunes
    seed.start()
    for i in range(2500):
        seed.record(old_entry(i, days + 30))
    for i in range(20):
        seed.record(old_entry(i, days - 1))
    assert seed.flush(60)
    seed.close()
    assert count(db, f"SELECT COUNT(*) FROM {pg_ledger.UNITS}") == 2520

    led = PgLedger(db, replica="b").start()
    led.record(entry(0))
    assert led.flush(20)
    deadline = time.monotonic() + 60
    while led.pruned < 2500 and time.monotonic() < deadline:  # one batch per step, a step at most every 0.2 s
        time.sleep(0.1)
    led.close()
    assert (led.pruned, led.prune_batches, led.written, led.dropped) == (2500, 3, 1, 0)
    with psycopg.connect(db) as c:
        left = c.execute(f"SELECT replica, COUNT(*), MIN(ts) FROM {pg_ledger.REQUESTS} GROUP BY replica "
                         "ORDER BY replica").fetchall()
    assert [(r, n) for r, n, _ in left] == [("a", 20), ("b", 1)]
    assert all(ts >= time.time() - pg_ledger.RETENTION_SECONDS for *_, ts in left)
    assert count(db, f"SELECT COUNT(*) FROM {pg_ledger.UNITS}") == 21  # the old rows' units went with them
    assert f"2500 row(s) older than {days} days deleted" in caplog.text


def test_a_database_that_refuses_the_deletes_costs_the_pruning_only(db, caplog):
    seed = PgLedger(db, replica="a")
    seed._prune_due = float("inf")  # this writer only seeds one row past the retention
    seed.start()
    seed.record(old_entry(0, pg_ledger.RETENTION_SECONDS / 86400 + 5))
    assert seed.flush(20)
    seed.close()
    with psycopg.connect(db, autocommit=True) as c:  # a database that will not let rows go
        c.execute("CREATE FUNCTION headroom_keep() RETURNS trigger LANGUAGE plpgsql AS "
                  "$$ BEGIN RAISE EXCEPTION 'rows are kept here'; END $$")
        c.execute(f"CREATE TRIGGER keep BEFORE DELETE ON {pg_ledger.REQUESTS} FOR EACH ROW EXECUTE FUNCTION "
                  "headroom_keep()")
    caplog.set_level(logging.WARNING, logger="headroom")
    try:
        led = PgLedger(db, replica="b").start()
        for i in range(3):
            led.record(entry(i))
        assert led.flush(20)
        led.close()
    finally:
        with psycopg.connect(db, autocommit=True) as c:
            c.execute(f"DROP TRIGGER keep ON {pg_ledger.REQUESTS}")
            c.execute("DROP FUNCTION headroom_keep()")
    assert (led.written, led.dropped, led.pruned, led.last_error) == (3, 0, 0, None)
    lines = [r.getMessage() for r in caplog.records if "cannot be deleted" in r.getMessage()]
    assert len(lines) == 1 and "(RaiseException)" in lines[0] and "rows are kept here" not in caplog.text
    assert count(db, f"SELECT COUNT(*) FROM {pg_ledger.REQUESTS}") == 4
