"""Issue 18's shared ledger end to end: two `headroom proxy` replicas (own homes, HEADROOM_REPLICA a and b, one
real redis-server as their store and one real postgres as their ledger) serve two team users; then
`headroom perf --ledger URL` shows both replicas and both users, and its totals are what the fake upstream got.
The last test runs deploy/compose.yaml's whole topology at once: the same with its environment, behind the real
haproxy running deploy/haproxy.cfg (tests/e2e/test_team.py's helpers), `perf --ledger` a process of its own."""
from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx
import pytest

from headroom.core import tokens
from headroom.core.markers import find_markers
from headroom.proxyinfo import probe_health
from headroom.storage.users import Users
from tests.e2e.test_retrieve_http import LOG, URLS, body, client
from tests.support.fake_upstream import Reply
from tests.support.servers import postgres_server, redis_server

pytestmark = pytest.mark.e2e

PG_PASSWORD = "ledger-pw-5521"
HEADERS = {"authorization": "Bearer sk-shared-team-key", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


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


# --- deploy/compose.yaml's whole topology at once ------------------------------------------------------------

SECRETS = {"REDIS_PASSWORD": "compose-redis-pw-7741", "POSTGRES_PASSWORD": "compose-pg-pw-3317"}  # its deploy/.env


def perf_cli(ledger: str, home, *args: str) -> str:
    """`headroom perf --ledger URL --since all ARGS` as a user runs it: a process of its own, a home of its own,
    no HEADROOM_* of the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADROOM_")}
    r = subprocess.run([sys.executable, "-m", "headroom", "perf", "--ledger", ledger, "--since", "all", *args],
                       env={**env, "HEADROOM_HOME": str(home)}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_compose_topology_whole_two_users_through_haproxy_perf_shows_both_replicas_and_users(
        start_proxy, fake_upstream, tmp_path):
    """deploy/compose.yaml at once, on loopback: its redis (the command's options), its postgres (its user and
    database), its two replicas with its environment (tests/support/compose.py maps the services' addresses and
    the users file, nothing else) and the real haproxy running deploy/haproxy.cfg. alice and bob send through the
    balancer only; which replica served each request is haproxy's stats socket's word, and the ledger's rows must
    say the same; a drop alice made on one replica is retrieved through the other. Then `docker compose stop`
    (SIGTERM to both, the compose drain) and `headroom perf --ledger URL` in a process of its own."""
    from tests.e2e.test_team import balancer, topology, via
    from tests.support import compose

    spec = compose.load()
    users_file = tmp_path / "team" / "users.json"
    tokens_of = {name: Users(users_file).add(name) for name in ("alice", "bob")}
    redis_opts = compose.redis_options(spec, SECRETS)
    pg_env = {k: compose.interpolated(str(v), SECRETS) for k, v in spec["services"]["postgres"]["environment"].items()}
    with redis_server(tmp_path / "redis", password=redis_opts["requirepass"], maxmemory=redis_opts["maxmemory"],
                      policy=redis_opts["maxmemory-policy"]) as store, \
            postgres_server(password=pg_env["POSTGRES_PASSWORD"], database=pg_env["POSTGRES_DB"]) as ledger:
        assert pg_env["POSTGRES_USER"] == "headroom" == urlsplit(ledger).username  # the user postgres_server makes
        envs = [compose.on_loopback(compose.replica_env(spec, name, SECRETS), store=store, ledger=ledger,
                                    users=users_file) for name in compose.REPLICAS]
        names = [e.pop("HEADROOM_REPLICA") for e in envs]
        assert names == list(compose.REPLICAS) and envs[0] == envs[1]
        common = dict(envs[0])
        replicas = topology(start_proxy, tmp_path, common.pop("HEADROOM_STORE"), env=common, names=names)
        served_by: list[str] = []  # per client request, the haproxy server (= HEADROOM_REPLICA) that got it
        with balancer(replicas) as lb:
            assert lb.servers == names  # deploy/haproxy.cfg's server names are the replicas' ledger names

            def send(user: str, provider: str, b: dict, *replies: Reply) -> httpx.Response:
                fake_upstream.queue(*replies)
                before = lb.served
                with client(via(lb, replicas[0], f"{user}:{tokens_of[user]}")) as c:  # one connection
                    r = c.post(URLS[provider], json=b, headers=HEADERS)
                assert r.status_code == 200, r.text
                (got,) = [n for n, x, y in zip(names, before, lb.served) if y == x + 1]
                assert sum(lb.served) == sum(before) + 1
                served_by.append(got)
                return r

            send("alice", "anthropic", body("anthropic", False), Reply.text("noted"))
            (key,) = {m.key for m in find_markers(fake_upstream.wait_for(1)[0].decoded.decode())}
            r = send("alice", "anthropic", body("anthropic", False),
                     Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("the disk was full"))
            assert r.json()["content"] == [{"type": "text", "text": "the disk was full"}]
            assert served_by[0] != served_by[1], f"both alice's turns went to {served_by[0]}"  # made on one...
            answer = fake_upstream.wait_for(3)[2].json["messages"][-1]["content"][0]["content"]
            assert answer in LOG and len(answer) > 1000  # ...answered by the other, from the shared store
            send("bob", "openai_chat", body("openai_chat", False), Reply.text("ok"))
            for _ in range(2):
                send("bob", "openai_chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                     Reply.text("hi bob"))
            assert dict(zip(names, lb.served)) == {n: served_by.count(n) for n in names}
        assert all(served_by.count(n) > 0 for n in names), served_by
        got = fake_upstream.wait_for(len(served_by) + 1)
        assert len(got) == len(served_by) + 1  # each request once, and one continuation (the retrieval's)
        firsts = [req for i, req in enumerate(got) if i != 2]
        # `docker compose stop`: SIGTERM to both at once; each drains (the compose notice) and closes its writer.
        for p in replicas:
            p.proc.send_signal(signal.SIGTERM)
        for p in replicas:
            assert p.proc.wait(60) == 0
            log = p.stderr_text()
            assert not any(s in log for s in (*SECRETS.values(), *tokens_of.values())), log[-2000:]
        sent = sum(tokens.count(req.decoded.decode("utf-8", "replace"), tokens.encoding_for_model(req.json["model"]),
                                remember=False) for req in firsts)
        data = json.loads(perf_cli(ledger, tmp_path / "reader-home", "--format", "json"))
        table = perf_cli(ledger, tmp_path / "reader-home")
    want_replicas = {n: served_by.count(n) for n in names}
    want_users = {"alice": 2, "bob": 3}
    assert data["totals"]["requests"] == len(served_by) and data["totals"]["retrievals"] == 1
    assert data["totals"]["tokens_after"] == sent  # what the fake upstream received, counted from its bodies
    assert {x["replica"]: x["requests"] for x in data["per_replica"]} == want_replicas
    assert {u["user"]: u["requests"] for u in data["per_user"]} == want_users
    assert sum(x["tokens_after"] for x in data["per_replica"]) == sent
    assert sum(u["tokens_after"] for u in data["per_user"]) == sent
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines() if line.split()[:1]}
    for name, n in {**want_replicas, **want_users}.items():  # the table a user reads shows each, with its count
        assert rows.get(name) == str(n), table
    assert not any(s in table + json.dumps(data) for s in SECRETS.values())
