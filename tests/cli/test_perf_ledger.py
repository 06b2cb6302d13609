"""`headroom perf --ledger URL`: the shared ledger's figures across replicas, per user and per replica, read from a
real postgres that two writers (replicas a and b) filled."""
from __future__ import annotations

import json
import time

import pytest

from tests.support.servers import require_psycopg

psycopg = require_psycopg()  # a failure, never a skip: psycopg is in the [test] extra

from typer.testing import CliRunner  # noqa: E402

from headroom.cli.main import app  # noqa: E402
from headroom.core.ports import Entry  # noqa: E402
from headroom.storage.pg_ledger import PgLedger  # noqa: E402
from tests.support.servers import postgres_server  # noqa: E402

PASSWORD = "perf-pw-31337"
runner = CliRunner()


@pytest.fixture(scope="module")
def filled():
    with postgres_server(password=PASSWORD) as url:
        for replica, user, n, size in (("a", "ann", 3, 100), ("b", "bob", 5, 70), ("b", "ann", 2, 10)):
            led = PgLedger(url, replica=replica).start()
            for _ in range(n):
                led.record(Entry(ts=time.time(), provider="openai", host="api.openai.com", model="gpt-4o",
                                 tokens_before=size, tokens_after=size - 10, user=user))
            assert led.flush(20)
            led.close()
            assert led.written == n
        yield url


def test_perf_ledger_reports_across_replicas_per_user_and_per_replica(filled, tmp_path, monkeypatch):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "empty-home"))  # this home's own ledger has nothing
    r = runner.invoke(app, ["perf", "--ledger", filled, "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["totals"]["requests"] == 10
    assert data["totals"]["tokens_before"] == 3 * 100 + 5 * 70 + 2 * 10
    assert {u["user"]: u["requests"] for u in data["per_user"]} == {"ann": 5, "bob": 5}
    assert {x["replica"]: (x["requests"], x["tokens_before"]) for x in data["per_replica"]} == {
        "a": (3, 300), "b": (7, 370)}
    table = runner.invoke(app, ["perf", "--ledger", filled])
    assert table.exit_code == 0, table.output
    assert "Replica" in table.stdout and "bob" in table.stdout and "across the shared ledger" in table.stdout


def test_perf_ledger_down_says_which_database_without_its_password(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "home"))
    from tests.support.servers import free_port

    url = f"postgresql://headroom:{PASSWORD}@127.0.0.1:{free_port()}/postgres"
    r = runner.invoke(app, ["perf", "--ledger", url])
    assert r.exit_code == 1
    assert "cannot read the shared ledger" in r.output and PASSWORD not in r.output


def test_perf_ledger_refuses_what_is_not_a_postgresql_url(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "home"))
    r = runner.invoke(app, ["perf", "--ledger", "redis://:pw@127.0.0.1:6379/0"])
    assert r.exit_code == 2 and "postgresql://" in r.output and ":pw@" not in r.output
