"""The dashboard's team view of the shared ledger on a real PostgreSQL: rows of two replicas and two users read
back through the admin server's /stats (what the dashboard polls), equal to `headroom perf --ledger`'s figures;
a database that is down or does not answer gives "shared ledger unavailable", never an error page."""
from __future__ import annotations

import json
import logging
import socket
import time
import urllib.request

import pytest

from tests.support.servers import free_port, postgres_server, require_psycopg

psycopg = require_psycopg()

from headroom.addon.admin import AdminServer  # noqa: E402
from headroom.core.ports import Entry, UnitRow  # noqa: E402
from headroom.storage.pg_ledger import PgLedger  # noqa: E402
from headroom.storage.team_view import UNAVAILABLE, TeamView  # noqa: E402

PASSWORD = "team-view-pw-4417"
PLAN = (("a", "ann", 3, 1000), ("a", "bob", 1, 500), ("b", "bob", 4, 800), ("b", "ann", 2, 300))


@pytest.fixture(scope="module")
def filled():
    with postgres_server(password=PASSWORD) as url:
        for replica, user, n, size in PLAN:
            led = PgLedger(url, replica=replica).start()
            for _ in range(n):
                led.record(Entry(ts=time.time(), provider="openai", host="api.openai.com", model="gpt-4o",
                                 tokens_before=size, tokens_after=size // 4, tool_tokens_before=size - 100,
                                 tool_tokens_after=size // 4 - 100, compressed=True, user=user,
                                 units=[UnitRow(content_type="json", compressor="json", units=1,
                                                tokens_before=size - 100, tokens_after=size // 4 - 100, ms=1.0)]))
            assert led.flush(20)
            led.close()
            assert led.written == n
        yield url


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        return json.loads(r.read())


def dead_url() -> str:
    return f"postgresql://headroom:{PASSWORD}@127.0.0.1:{free_port()}/postgres"  # nothing listens there


def test_stats_carries_every_replica_and_user_of_the_shared_ledger(filled, tmp_path, monkeypatch):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "home"))  # this replica's own ledger is empty
    server = AdminServer(team=TeamView(filled)).start()
    try:
        s = get_json(server.url + "/stats?since=24h")
    finally:
        server.stop()
    assert s["totals"]["requests"] == 0  # the replica's own figures stay its own
    team = s["team"]
    assert team["state"] == "ok" and PASSWORD not in json.dumps(s) and "127.0.0.1" in team["url"]
    assert team["totals"]["requests"] == sum(n for *_, n, _ in PLAN)
    assert team["totals"]["tokens_before"] == sum(n * size for *_, n, size in PLAN)
    assert {r["replica"]: (r["requests"], r["tokens_before"]) for r in team["per_replica"]} == {
        "a": (4, 3500), "b": (6, 3800)}
    assert {u["user"]: (u["requests"], u["tokens_before"]) for u in team["per_user"]} == {
        "ann": (5, 3600), "bob": (5, 3700)}
    assert team["dropped_total"] == 0

    from typer.testing import CliRunner

    from headroom.cli.main import app

    r = CliRunner().invoke(app, ["perf", "--ledger", filled, "--format", "json"])
    assert r.exit_code == 0, r.output
    perf = json.loads(r.stdout)  # the same computation: the same figures
    assert (team["totals"], team["per_replica"], team["per_user"]) == (
        perf["totals"], perf["per_replica"], perf["per_user"])


def test_no_shared_ledger_no_team_view(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "home"))
    server = AdminServer().start()
    try:
        assert get_json(server.url + "/stats")["team"] is None
    finally:
        server.stop()


def test_a_database_that_is_down_shows_unavailable_logged_once_without_password(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "home"))
    caplog.set_level(logging.WARNING, logger="headroom")
    view = TeamView(dead_url(), ttl=0.0)
    server = AdminServer(team=view).start()
    try:
        answers = [get_json(server.url + "/stats")["team"] for _ in range(3)]
    finally:
        server.stop()
    assert view.reads == 3
    for team in answers:
        assert team["state"] == "unavailable" and team["message"] == UNAVAILABLE
        assert team["error"] == "OperationalError: connection refused" and "totals" not in team
    logged = [r.getMessage() for r in caplog.records if "shared ledger" in r.getMessage()]
    assert len(logged) == 1 and "(OperationalError: connection refused)" in logged[0] and UNAVAILABLE in logged[0]
    assert PASSWORD not in caplog.text and PASSWORD not in json.dumps(answers)


def test_a_database_that_does_not_answer_costs_the_caller_a_bounded_wait_only():
    """A server that accepts and never speaks: the caller gets "no answer" after the view's wait, the read goes
    on in its own thread and ends on the connection's timeout; its kind is then what the view says."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"postgresql://headroom:{PASSWORD}@127.0.0.1:{silent.getsockname()[1]}/postgres"
    view = TeamView(url, wait=0.05, ttl=60.0)
    try:
        first = view.get(None)
        assert first["state"] == "unavailable" and first["error"] == "no answer" and view.reads == 0
        deadline = time.monotonic() + 30
        while view.reads == 0 and time.monotonic() < deadline:  # pg_ledger.CONNECT_TIMEOUT_S, then it gives up
            time.sleep(0.1)
        later = view.get(None)
    finally:
        silent.close()
    assert view.reads == 1
    assert later["state"] == "unavailable" and later["error"] == "ConnectionTimeout: no answer in time"


def test_a_refresh_that_is_late_shows_the_previous_figures_marked_stale():
    import threading

    release = threading.Event()
    calls = []

    def read(url, ca, since, now, pricing):
        calls.append(since)
        if len(calls) > 1:
            release.wait(30)
        return {"totals": {"requests": len(calls)}, "per_replica": [], "per_user": [], "dropped_total": 0}

    view = TeamView("postgresql://u:p@127.0.0.1:1/db", ttl=0.0, wait=0.05, read=read)
    assert view.get(3600.0)["totals"] == {"requests": 1}
    late = view.get(3600.0)
    assert late["stale"] is True and late["totals"] == {"requests": 1}  # the second read has not returned
    release.set()
    deadline = time.monotonic() + 30
    while view.reads < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    view._ttl = 60.0
    assert view.get(3600.0)["totals"] == {"requests": 2} and "stale" not in view.get(3600.0)
    assert len(calls) == 2 and all(since is not None for since in calls)


def test_a_read_the_database_holds_up_is_cancelled_by_its_statement_timeout(filled, monkeypatch):
    """Another session holds the schema lock the read waits for: the database cancels the read after
    READ_TIMEOUT_S, so the view's thread ends and says why, instead of waiting as long as the lock is held."""
    from headroom.storage import pg_ledger, team_view

    monkeypatch.setattr(team_view, "READ_TIMEOUT_S", 0.5)
    view = TeamView(filled, wait=0.05, ttl=60.0)
    with psycopg.connect(filled) as holder:  # a transaction holding the advisory lock migrate() takes
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (pg_ledger._LOCK_KEY,))
        assert view.get(None)["error"] == "no answer"
        deadline = time.monotonic() + 30
        while view.reads == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        got = view.get(None)
        holder.rollback()
    assert got["state"] == "unavailable"
    assert got["error"] == "QueryCanceled: the database did not finish the read in time"
