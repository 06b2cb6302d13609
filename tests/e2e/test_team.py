"""Issue 18, the team topology: replicas of `headroom proxy` sharing one real redis-server as their store,
behind the real haproxy running deploy/haproxy.cfg (tests/support/haproxy.py).

Each replica has a headroom home of its own (its own SQLite files, its own CA), so only the shared store can
let one answer a marker the other made.
"""
from __future__ import annotations

import json
import shutil
import signal
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import httpx
import pytest

from headroom.core.markers import find_markers, make_marker
from headroom.storage.redis_store import RedisStore
from headroom.storage.users import Users
from tests.e2e.test_retrieve_http import LOG, URLS, body, client, learn_key, post, sse_text
from tests.support.fake_upstream import Reply
from tests.support.haproxy import Haproxy, haproxy_balancer
from tests.support.servers import free_port, redis_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path / "redis", password="team-pass") as url:
        yield url


def replicas(start_proxy, tmp_path, url: str, n: int = 2) -> list:
    return [start_proxy(home=tmp_path / f"home-{i}", env={"HEADROOM_STORE": url}) for i in range(n)]


def test_a_marker_made_on_one_replica_is_answered_by_another_in_a_stream(start_proxy, fake_upstream, tmp_path,
                                                                       redis_url):
    a, b = replicas(start_proxy, tmp_path, redis_url)
    key = learn_key(a, fake_upstream, "anthropic")
    original = RedisStore(redis_url).get(key)
    assert original, "replica A did not keep its drop in Redis"
    marker = make_marker("398 lines omitted", original)[0]
    # The agent's next turn reaches B (the balancer's next connection) with the marker already in its history.
    req = body("anthropic", True)
    req["messages"][2]["content"][0]["content"] = f"2026-11-24 04:00:00 INFO start\n{marker}\nERROR disk full\n"
    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("disk full"))
    r = post(b, "anthropic", req)
    assert r.status_code == 200 and sse_text("anthropic", r.text) == "disk full"
    cont = fake_upstream.wait_for(2)[1]
    assert cont.json["messages"][-1]["content"][0]["content"] == original
    for p in (a, b):
        assert "team-pass" not in p.stderr_text()


def test_a_store_that_is_down_sends_the_request_upstream_byte_identical(start_proxy, fake_upstream, tmp_path):
    url = f"redis://u:down-pass@127.0.0.1:{free_port()}/0"
    (p,) = replicas(start_proxy, tmp_path, url, n=1)
    fake_upstream.queue(Reply.text("noted"))
    raw = json.dumps(body("anthropic", False)).encode()
    with client(p) as c:
        r = c.post("https://api.anthropic.com/v1/messages", content=raw,
                   headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
                            "content-type": "application/json"})
    assert r.status_code == 200
    assert fake_upstream.last.decoded == raw
    log = p.stderr_text()
    assert "store unreachable" in log and "down-pass" not in log


# --- through the real haproxy running deploy/haproxy.cfg (tests/support/haproxy.py): deploy/compose.yaml's topology

BOUND_S = 30.0  # every wait below is bounded by this
TEAM_KEY = {"authorization": "Bearer sk-shared-team-key"}  # one API key the whole team uses
WORDS = "one two three four five six seven eight"


@dataclass
class Via:
    """What the helpers of test_retrieve_http need of a proxy (`url`, `client_ca_bundle`): here the balancer's
    address, with the replicas' one CA (each replica mounts the same CA, as in deploy/compose.yaml)."""
    url: str
    client_ca_bundle: Path


# The variables these tests give the replicas: deploy/compose.yaml sets each (tests/test_deploy.py checks both
# ways), beside what launch_proxy gives every proxy (its home, --port 0, loopback: tests/support/compose.py's
# LAUNCHED). The shared ledger and the replicas' names are test_team_ledger.py's whole-topology test's.
TOPOLOGY_VARIABLES = frozenset({"HEADROOM_STORE", "HEADROOM_TEAM", "HEADROOM_TEAM_USERS", "HEADROOM_DRAIN_SECONDS",
                                "HEADROOM_DRAIN_NOTICE_SECONDS", "HEADROOM_LEDGER", "HEADROOM_REPLICA"})
# The replicas' HEADROOM_DRAIN_NOTICE_SECONDS in deploy/compose.yaml, which the drain test gives them too.
DRAIN_NOTICE_SECONDS = "4"
# The services of that topology: two replicas, the balancer (haproxy, here as there), the store, the ledger's
# postgres (the last in test_team_ledger.py).
TOPOLOGY_SERVICES = frozenset({"headroom-a", "headroom-b", "balancer", "redis", "postgres"})


def topology(start_proxy, tmp_path, url: str, env: dict | None = None, n: int = 2,
             names: Sequence[str] = ()) -> list:
    """`n` replicas with homes of their own and one CA (copied from the first's home, as a deployment mounts
    it), all with HEADROOM_STORE=url; with `names`, replica i is HEADROOM_REPLICA=names[i] (n is then their
    number). Each is ready (/readyz 200) on return."""
    common = {"HEADROOM_STORE": url, **(env or {})}
    n = len(names) or n
    each = [{"HEADROOM_REPLICA": name} for name in names] or [{} for _ in range(n)]
    given = set(common).union(*each)
    assert given <= TOPOLOGY_VARIABLES, "a variable deploy/compose.yaml does not set"
    first = start_proxy(home=tmp_path / "home-0", env={**common, **each[0]})
    out = [first]
    for i in range(1, n):
        shutil.copytree(first.home / "ca", tmp_path / f"home-{i}" / "ca")
        out.append(start_proxy(home=tmp_path / f"home-{i}", env={**common, **each[i]}))
    assert len({p.ca_cert.read_bytes() for p in out}) == 1
    for p in out:
        wait_ready(p)
    return out


def wait_ready(p) -> None:
    deadline = time.monotonic() + BOUND_S
    while True:
        with httpx.Client(trust_env=False, timeout=5) as c:
            if c.get(f"http://127.0.0.1:{p.port}/readyz").status_code == 200:
                return
        assert time.monotonic() < deadline, p.stderr_text()[-2000:]
        time.sleep(0.1)


def wait_until(cond, what: str) -> None:
    deadline = time.monotonic() + BOUND_S
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@contextmanager
def balancer(proxies) -> Iterator[Haproxy]:
    with haproxy_balancer([p.port for p in proxies]) as lb:
        wait_until(lambda: all(lb.checked_up), f"haproxy's checks never saw every replica ready: {lb.stats()}")
        yield lb


def via(lb: Haproxy, p, auth: str = "") -> Via:
    return Via(f"http://{auth + '@' if auth else ''}127.0.0.1:{lb.port}", p.client_ca_bundle)


def stream_in_thread(target: Via, out: dict, first: threading.Event, headers: dict | None = None) -> threading.Thread:
    """An SSE stream through `target`; `out` gets its status and raw text, or the error that ended it."""
    def run() -> None:
        ctx = ssl.create_default_context(cafile=str(target.client_ca_bundle))
        try:
            with httpx.Client(proxy=target.url, verify=ctx, timeout=BOUND_S, trust_env=False) as c:
                b = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "count"}]}
                with c.stream("POST", URLS["openai_chat"], json=b, headers=headers or {}) as r:
                    data = b""
                    for chunk in r.iter_raw():
                        data += chunk
                        first.set()
                    out["status"], out["text"] = r.status_code, data.decode()
        except httpx.HTTPError as e:
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_through_the_balancer_a_marker_made_on_a_is_answered_by_b_in_a_stream(start_proxy, fake_upstream,
                                                                             tmp_path, redis_url):
    a, b = topology(start_proxy, tmp_path, redis_url)
    with balancer([a, b]) as lb:
        key = learn_key(via(lb, a), fake_upstream, "anthropic")  # connection 0: replica A
        original = RedisStore(redis_url).get(key)
        assert original and lb.served == [1, 0]
        marker = make_marker("398 lines omitted", original)[0]
        req = body("anthropic", True)
        req["messages"][2]["content"][0]["content"] = f"2026-11-24 04:00:00 INFO start\n{marker}\nERROR disk full\n"
        fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("disk full"))
        r = post(via(lb, a), "anthropic", req)  # connection 1: replica B
        assert lb.served == [1, 1]
    assert r.status_code == 200 and sse_text("anthropic", r.text) == "disk full"
    assert fake_upstream.wait_for(2)[1].json["messages"][-1]["content"][0]["content"] == original
    for p in (a, b):  # each replica's identity names the shared store, answering, without its password
        with httpx.Client(proxy=p.url, trust_env=False, timeout=10) as c:
            identity = c.get("http://headroom.proxy/health")
        assert identity.json()["store"] == {"kind": "redis", "answers": True,
                                            "where": redis_url.replace(":team-pass@", ":***@")}
        assert "team-pass" not in identity.text


def _two_turns(learn, first, second, fake) -> bytes:
    """The agent of test_retrieve_sdk in two turns: `learn` tells the test the log's key; turn 1 (through
    `first`) is answered after a hidden retrieval; turn 2 (through `second`) is the client's history plus a
    question. What reached the upstream for turn 2, as bytes, with the id the upstream gave its tool call (the
    fake numbers its replies: a real provider's ids differ between runs too) replaced by a placeholder."""
    fake.queue(Reply.text("noted"))
    r = post(learn, "anthropic", body("anthropic", False))
    assert r.status_code == 200
    (key,) = {m.key for m in find_markers(fake.last.decoded.decode())}
    fake.clear()
    fake.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("The disk was full."),
               Reply.text("Freed it."))
    turn1 = body("anthropic", False)
    r = post(first, "anthropic", turn1)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [b["type"] for b in answer["content"]] == ["text"]  # the client never saw the hidden call
    turn2 = dict(turn1, messages=turn1["messages"] + [{"role": "assistant", "content": answer["content"]},
                                                      {"role": "user", "content": "thanks, now fix it"}])
    r = post(second, "anthropic", turn2)
    assert r.status_code == 200 and r.json()["content"][0]["text"] == "Freed it."
    _, cont, sent = fake.wait_for(3)
    call_id = cont.json["messages"][-2]["content"][-1]["id"]  # the hidden call, as the upstream named it
    assert "headroom_retrieve" in json.dumps(sent.json["messages"])  # the hidden exchange was put back
    assert sent.decoded.count(call_id.encode()) == 2  # the call and its result, nothing else
    fake.clear()
    return sent.decoded.replace(call_id.encode(), b"CALL_ID")


def test_the_hidden_exchange_made_on_a_is_replayed_through_b_byte_identical_to_one_replica(
        start_proxy, fake_upstream, tmp_path, redis_url):
    alone = start_proxy(home=tmp_path / "alone")  # the reference: one proxy, its own SQLite store
    wait_ready(alone)
    reference = _two_turns(alone, alone, alone, fake_upstream)
    a, b = topology(start_proxy, tmp_path, redis_url)
    with balancer([a, b]) as lb:
        # The key learnt on A directly; turn 1 through the balancer (connection 0: A makes the hidden
        # exchange), turn 2 through it too (connection 1: B puts it back from the shared store).
        got = _two_turns(a, via(lb, a), via(lb, a), fake_upstream)
        assert lb.served == [1, 1]
    assert got == reference


def test_a_replica_whose_store_is_down_is_not_ready_and_haproxy_sends_it_no_connection(
        start_proxy, fake_upstream, tmp_path, redis_url):
    # A's store is a port nothing listens on; B's is the real redis. A's /readyz says 503 (its listener open).
    a = start_proxy(home=tmp_path / "home-0", env={"HEADROOM_STORE": f"redis://:p@127.0.0.1:{free_port()}/0"})
    shutil.copytree(a.home / "ca", tmp_path / "home-1" / "ca")
    b = start_proxy(home=tmp_path / "home-1", env={"HEADROOM_STORE": redis_url})
    wait_ready(b)
    with haproxy_balancer([a.port, b.port]) as lb:
        # haproxy starts its servers up before their first check: wait for the checks' verdicts on both.
        wait_until(lambda: [s.status for s in lb.stats()] == ["DOWN", "UP"], f"haproxy's checks: {lb.stats()}")
        assert (lb.stats()[0].check_status, lb.stats()[0].check_code) == ("L7STS", "503")
        for _ in range(3):
            fake_upstream.queue(Reply.text("from b"))
            r = post(via(lb, a), "openai_chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from b"
        assert lb.served == [0, 3]


def test_a_replica_killed_mid_stream_ends_its_clients_connection_and_the_other_serves_the_next(
        start_proxy, fake_upstream, tmp_path, redis_url):
    a, b = topology(start_proxy, tmp_path, redis_url)
    release = threading.Event()  # A's stream stays in flight after its first event until this is set
    with balancer([a, b]) as lb:
        try:
            fake_upstream.queue(Reply.text(WORDS, interval=0.05, chunks=8, hold=release))
            out: dict = {}
            first = threading.Event()
            t = stream_in_thread(via(lb, a), out, first)
            assert first.wait(BOUND_S) and lb.served == [1, 0]
            a.proc.kill()  # SIGKILL: no drain, no goodbye
            t.join(BOUND_S)
        finally:
            release.set()
        assert not t.is_alive()  # the client did not hang on the dead replica...
        assert isinstance(out.get("error"), httpx.HTTPError) or sse_text("openai_chat", out["text"]) != WORDS
        wait_until(lambda: not lb.up[0], "haproxy's checks never saw A down")
        assert lb.stats()[0].check_status == "L4CON"  # ...its port is gone: haproxy's check is refused
        for _ in range(3):
            fake_upstream.queue(Reply.text("from b"))
            r = post(via(lb, a), "openai_chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from b"
        assert lb.served == [1, 3]


def test_sigterm_on_a_replica_finishes_its_stream_while_the_balancer_sends_new_connections_to_the_other(
        start_proxy, fake_upstream, tmp_path, redis_url):
    # deploy/compose.yaml's notice (tests/test_deploy.py checks they agree): longer than haproxy.cfg's `fall 2`
    # checks `inter 1s` apart, so haproxy stops sending to A before A closes its listener.
    a, b = topology(start_proxy, tmp_path, redis_url,
                    env={"HEADROOM_DRAIN_SECONDS": "20", "HEADROOM_DRAIN_NOTICE_SECONDS": DRAIN_NOTICE_SECONDS})
    release = threading.Event()
    with balancer([a, b]) as lb:
        try:
            fake_upstream.queue(Reply.text(WORDS, interval=0.05, chunks=8, hold=release))
            out: dict = {}
            first = threading.Event()
            t = stream_in_thread(via(lb, a), out, first)
            assert first.wait(BOUND_S) and lb.served == [1, 0]
            a.proc.send_signal(signal.SIGTERM)
            wait_until(lambda: not lb.up[0], "haproxy's checks never saw A's 503")
            down = lb.stats()[0]
            # What haproxy saw was A's /readyz answering 503 (its listener still open), not a refused connect.
            assert (down.check_status, down.check_code) == ("L7STS", "503"), down
            assert t.is_alive() and "status" not in out  # A's stream is still in flight, held by the upstream
            fake_upstream.queue(Reply.text("from b"))
            r = post(via(lb, a), "openai_chat", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "from b"
            assert lb.served == [1, 1]
        finally:
            release.set()
        t.join(BOUND_S)
        assert out.get("status") == 200 and sse_text("openai_chat", out["text"]) == WORDS  # whole, to its end
        assert a.proc.wait(BOUND_S) == 0
        fake_upstream.queue(Reply.text("from b"))
        assert post(via(lb, a), "openai_chat", {"model": "gpt-4o", "messages": []}).status_code == 200
        assert lb.served == [1, 2]


# --- two users -----------------------------------------------------------------------------------------------

@pytest.fixture
def team(start_proxy, tmp_path, redis_url):
    """Two team-mode replicas reading one users file (one volume mounted on each), alice and bob in it."""
    users_file = tmp_path / "team" / "users.json"
    users = Users(users_file)
    tokens = {name: users.add(name) for name in ("alice", "bob")}
    a, b = topology(start_proxy, tmp_path, redis_url,
                    env={"HEADROOM_TEAM": "1", "HEADROOM_TEAM_USERS": str(users_file)})
    with balancer([a, b]) as lb:
        yield a, b, lb, tokens


def test_a_user_without_a_token_is_refused_407_through_the_balancer(team, fake_upstream):
    a, b, lb, tokens = team
    for auth in ("", f"alice:{tokens['bob']}", "alice:"):  # connections 0, 1, 2: both replicas refuse
        with pytest.raises(httpx.ProxyError) as e, client(via(lb, a, auth)) as c:
            c.post(URLS["openai_chat"], json={"model": "gpt-4o", "messages": []})
        assert "407" in str(e.value)
    assert lb.served == [2, 1] and fake_upstream.requests == []
    fake_upstream.queue(Reply.text("hello alice"))
    with client(via(lb, a, f"alice:{tokens['alice']}")) as c:
        r = c.post(URLS["openai_chat"], json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                   headers=TEAM_KEY)
    assert r.status_code == 200 and "hello alice" in r.text
    assert "proxy-authorization" not in {k.lower() for k in fake_upstream.last.headers}
    for p in (a, b):
        assert tokens["alice"] not in p.stderr_text() and tokens["bob"] not in p.stderr_text()


def test_two_users_retrieval_keys_are_isolated_on_the_same_replica_and_the_other(team, fake_upstream,
                                                                                 redis_url):
    a, b, lb, tokens = team
    fake_upstream.queue(Reply.text("noted"))
    with client(via(lb, a, f"alice:{tokens['alice']}")) as c:  # connection 0, replica A: alice's drop
        assert c.post(URLS["openai_chat"], json=body("openai_chat", False), headers=TEAM_KEY).status_code == 200
    sent = fake_upstream.last.json
    (key,) = {m.key for m in find_markers(json.dumps(sent))}
    # The conversation as the upstream has it (the marker, not the log): nobody's own compression makes the key.
    resent = dict(sent, stream=True)
    resent["tools"] = [t for t in sent["tools"] if "headroom_retrieve" not in json.dumps(t)]
    answers = []
    for user in ("bob", "bob", "alice"):  # connections 1, 2, 3: replicas B, A, B
        fake_upstream.clear()
        fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("done"))
        with client(via(lb, a, f"{user}:{tokens[user]}")) as c, \
                c.stream("POST", URLS["openai_chat"], json=resent, headers=TEAM_KEY) as r:
            assert r.status_code == 200
            text = r.read().decode()
        assert "headroom_retrieve" not in text and sse_text("openai_chat", text) == "done", (user, text)
        answers.append(fake_upstream.wait_for(2)[1].json["messages"][-1]["content"])
    assert lb.served == [2, 2]
    bob_on_b, bob_on_a, alice_on_b = answers
    assert alice_on_b in LOG and len(alice_on_b) > 1000  # her own key, answered by the other replica
    for answer in (bob_on_b, bob_on_a):  # bob is told it is not there, on either replica
        assert alice_on_b not in answer and key in answer
