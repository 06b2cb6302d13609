"""Issue 18's shared ledger end to end: two `headroom proxy` replicas (own homes, HEADROOM_REPLICA a and b, one
real redis-server as their store and one real postgres as their ledger) serve two team users; then
`headroom perf --ledger URL` shows both replicas and both users, and its totals are what the fake upstream got."""
from __future__ import annotations

import json
import ssl
import time

import httpx
import pytest

from headroom.core import tokens
from headroom.proxyinfo import probe_health
from headroom.storage.users import Users
from tests.e2e.test_retrieve_http import URLS, body
from tests.support.fake_upstream import Reply
from tests.support.servers import postgres_server, redis_server

pytestmark = pytest.mark.e2e

PG_PASSWORD = "ledger-pw-5521"


def post_as(proxy, user: str, token: str, b: dict) -> httpx.Response:
    with httpx.Client(proxy=f"http://{user}:{token}@{proxy.address}",
                      verify=ssl.create_default_context(cafile=str(proxy.client_ca_bundle)), timeout=30,
                      trust_env=False) as c:
        return c.post(URLS["anthropic"], json=b, headers={"x-api-key": "sk-ant-test",
                                                          "anthropic-version": "2023-06-01"})


def test_two_replicas_two_users_one_ledger_perf_adds_up_to_what_upstream_got(start_proxy, fake_upstream, tmp_path):
    users_file = tmp_path / "users.json"
    tokens_of = {name: Users(users_file).add(name) for name in ("ann", "bob")}
    with redis_server(tmp_path / "redis") as store, postgres_server(password=PG_PASSWORD) as ledger:
        base = {"HEADROOM_TEAM": "1", "HEADROOM_TEAM_USERS": str(users_file), "HEADROOM_STORE": store,
                "HEADROOM_LEDGER": ledger}
        a = start_proxy(home=tmp_path / "home-a", env={**base, "HEADROOM_REPLICA": "a"})
        b = start_proxy(home=tmp_path / "home-b", env={**base, "HEADROOM_REPLICA": "b"})
        plan = [(a, "ann"), (a, "bob"), (b, "ann"), (b, "bob"), (b, "bob")]
        for proxy, user in plan:
            fake_upstream.queue(Reply.text("ok"))
            r = post_as(proxy, user, tokens_of[user], body("anthropic", False))
            assert r.status_code == 200, r.text
        got = fake_upstream.wait_for(len(plan))
        # Each replica's dashboard shows the whole team, read from the shared ledger (the rows arrive in batches).
        for p in (a, b):
            admin = probe_health(p.port)["admin_url"]
            deadline = time.monotonic() + 30
            while True:
                team = httpx.get(admin + "/stats?since=all", timeout=30, trust_env=False).json()["team"]
                if team["state"] == "ok" and team["totals"]["requests"] == len(plan) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert team["state"] == "ok" and team["totals"]["requests"] == len(plan), team
            assert {x["replica"]: x["requests"] for x in team["per_replica"]} == {"a": 2, "b": 3}
            assert {u["user"]: u["requests"] for u in team["per_user"]} == {"ann": 2, "bob": 3}
            assert PG_PASSWORD not in json.dumps(team)
        for p in (a, b):
            p.stop()  # closes the writers: every row is in the database
            assert PG_PASSWORD not in p.stderr_text()
        sent = sum(tokens.count(req.decoded.decode("utf-8", "replace"), tokens.encoding_for_model(req.json["model"]),
                                remember=False) for req in got)

        from typer.testing import CliRunner

        from headroom.cli.main import app

        r = CliRunner().invoke(app, ["perf", "--ledger", ledger, "--since", "all", "--format", "json"],
                               env={"HEADROOM_HOME": str(tmp_path / "reader-home")})
        assert r.exit_code == 0, r.output
        data = json.loads(r.stdout)
    assert data["totals"]["requests"] == len(plan)
    assert data["totals"]["tokens_after"] == sent  # what the fake upstream received, counted from its bodies
    assert {x["replica"]: x["requests"] for x in data["per_replica"]} == {"a": 2, "b": 3}
    assert {u["user"]: u["requests"] for u in data["per_user"]} == {"ann": 2, "bob": 3}
    assert sum(x["tokens_after"] for x in data["per_replica"]) == sent


def test_a_ledger_database_that_is_down_costs_rows_not_requests(start_proxy, fake_upstream, tmp_path):
    from tests.e2e.test_retrieve_http import client
    from tests.support.servers import free_port

    url = f"postgresql://headroom:{PG_PASSWORD}@127.0.0.1:{free_port()}/postgres"
    p = start_proxy(home=tmp_path / "home", env={"HEADROOM_LEDGER": url, "HEADROOM_REPLICA": "a"})
    raw = json.dumps(body("anthropic", False)).encode()
    fake_upstream.queue(Reply.text("noted"))
    with client(p) as c:
        r = c.post(URLS["anthropic"], content=raw, headers={"x-api-key": "sk-ant-test",
                                                            "anthropic-version": "2023-06-01",
                                                            "content-type": "application/json"})
    assert r.status_code == 200
    assert len(fake_upstream.wait_for(1)) == 1
    stats = httpx.get(probe_health(p.port)["admin_url"] + "/stats", timeout=30, trust_env=False)
    assert stats.status_code == 200  # the page, not an error: the replica's own figures and the team's state
    team = stats.json()["team"]
    assert team["state"] == "unavailable" and team["message"] == "shared ledger unavailable", team
    p.stop()
    from headroom.storage.ledger import open_reader

    local = open_reader(tmp_path / "home" / "ledger.sqlite3")
    assert local is not None and local.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1  # still kept
    log = p.stderr_text()
    assert "shared ledger" in log and "unreachable" in log and "1 row(s) lost" in log
    assert "cannot be read for the dashboard (OperationalError: connection refused)" in log
    assert PG_PASSWORD not in log


def test_a_ledger_over_tls_with_a_wrong_ca_costs_rows_not_requests_and_the_right_one_writes(
        start_proxy, fake_upstream, tmp_path):
    """ssl=on postgres taking TLS connections only, its certificate signed by a test CA: a replica whose
    HEADROOM_LEDGER_CA is another CA answers its request and logs the refusal by kind; one given the right CA
    writes its row (over TLS: pg_hba refuses anything else)."""
    import psycopg

    from tests.e2e.test_retrieve_http import client
    from tests.support.pki import make_ca, make_leaf

    ca, other = make_ca("Ledger CA"), make_ca("Not the ledger's CA")
    leaf = make_leaf(ca, "localhost")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    (tmp_path / "other.pem").write_bytes(other.cert_pem())
    raw = json.dumps(body("anthropic", False)).encode()
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    with postgres_server(password=PG_PASSWORD, tls=(leaf.cert_pem() + ca.cert_pem(), leaf.key_pem())) as url:
        ledger = url + "?sslmode=verify-full"
        for name, ca_file in (("wrong", tmp_path / "other.pem"), ("right", tmp_path / "ca.pem")):
            p = start_proxy(home=tmp_path / f"home-{name}", env={"HEADROOM_LEDGER": ledger, "HEADROOM_REPLICA": name,
                                                                 "HEADROOM_LEDGER_CA": str(ca_file)})
            fake_upstream.queue(Reply.text("noted"))
            with client(p) as c:
                r = c.post(URLS["anthropic"], content=raw, headers=headers)
            assert r.status_code == 200, r.text
            p.stop()
            log = p.stderr_text()
            assert PG_PASSWORD not in log
            refused = "(OperationalError: TLS: the server's certificate is not signed by the ledger's CA file)"
            if name == "wrong":
                assert f"{refused}: 1 row(s) lost" in log, log[-3000:]
            else:
                assert refused not in log and "unreachable" not in log, log[-3000:]
        assert len(fake_upstream.wait_for(2)) == 2
        with psycopg.connect(url, sslmode="verify-full", sslrootcert=str(tmp_path / "ca.pem")) as c:
            rows = c.execute("SELECT replica, COUNT(*) FROM headroom_requests GROUP BY replica").fetchall()
            lost = c.execute("SELECT replica, dropped FROM headroom_ledger_meta").fetchall()
    assert rows == [("right", 1)]
    assert lost in ([], [("right", 0)])  # the wrong replica never reached the database to say what it lost
