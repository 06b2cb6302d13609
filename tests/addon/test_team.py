"""Team mode through a real proxy (bound to 127.0.0.2 with HEADROOM_TEAM=1: loopback, never a real interface):
a client without a token, with a wrong or revoked one, is refused 407 and gets nothing decrypted or tunnelled;
a user's token is accepted, its user is in the ledger, and one user's retrieval keys are not answered for
another user of the same API key, through a real stream."""
from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import sys
import time

import httpx
import pytest
from mitmproxy.test import taddons, tflow, tutils

from headroom.addon.sessions import parse_credential
from headroom.addon.team import Team, parse_user
from headroom.core.markers import find_markers
from headroom.storage.store import open_store
from headroom.storage.users import Users, users_path
from tests.e2e.test_retrieve_http import LOG, URLS, body, sse_text
from tests.support.fake_upstream import Reply

HOST = "127.0.0.2"
HEADERS = {"authorization": "Bearer sk-shared-team-key"}  # one API key the whole team uses


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- the credential, without a network ---------------------------------------------------------------------

def test_a_team_credential_and_a_session_in_one():
    assert parse_user(basic("alice", "tok")) == ("alice", "tok")
    assert parse_user(basic("alice", "tok.0123456789abcdef")) == ("alice", "tok")
    assert parse_credential(basic("alice", "tok.0123456789abcdef")) == "0123456789abcdef"
    assert parse_credential(basic("alice", "tok")) is None
    assert parse_credential(basic("headroom", "0123456789abcdef")) == "0123456789abcdef"  # wrap unchanged
    assert parse_user("Bearer x") is None and parse_user(basic("Alice Smith", "t")) is None


def test_off_team_mode_nothing_is_refused():
    team = Team()
    with taddons.context(team):
        f = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="api.openai.com", port=443, path=b""))
        team.http_connect(f)
        assert f.response is None and team.user_for(f) is None


def test_in_team_mode_a_connect_without_a_token_is_answered_407(tmp_path):
    users = Users(tmp_path / "users.json")
    token = users.add("alice")
    team = Team()
    with taddons.context(team) as tctx:
        tctx.configure(team, headroom_team=True, headroom_team_users=str(users.path))
        for header, status in ((None, 407), (basic("alice", "nope"), 407), (basic("bob", token), 407),
                               (basic("alice", token), None)):
            f = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="api.openai.com", port=443, path=b""))
            if header:
                f.request.headers["proxy-authorization"] = header
            team.http_connect(f)
            assert (f.response.status_code if f.response else None) == status, header
            if status:
                assert f.response.headers["proxy-authenticate"] == 'Basic realm="headroom"'
                assert token not in f.response.get_text() and f.response.get_text().count("\n") == 1
        assert team.user_for(f) == "alice"


# --- through a real proxy ------------------------------------------------------------------------------

@pytest.fixture
def team_proxy(start_proxy, headroom_home):
    users = Users(users_path(headroom_home))
    tokens = {name: users.add(name) for name in ("alice", "bob")}
    p = start_proxy("--host", HOST, env={"HEADROOM_TEAM": "1"})
    return p, users, tokens


def client(p, user: str | None, token: str | None) -> httpx.Client:
    auth = f"{user}:{token}@" if user else ""
    return httpx.Client(proxy=f"http://{auth}{HOST}:{p.port}", timeout=30, trust_env=False,
                        verify=ssl.create_default_context(cafile=str(p.client_ca_bundle)))


def refused(p, user, token) -> str:
    with pytest.raises(httpx.ProxyError) as e, client(p, user, token) as c:
        c.post(URLS["openai_chat"], json={"model": "gpt-4o", "messages": []})
    return str(e.value)


def test_a_client_is_refused_without_a_token_and_accepted_with_one_until_revoked(team_proxy, fake_upstream):
    p, users, tokens = team_proxy
    assert "407" in refused(p, None, None)
    assert "407" in refused(p, "alice", tokens["bob"])  # another user's token
    assert "407" in refused(p, "carol", tokens["alice"])
    assert fake_upstream.requests == []  # nothing of a refused client went upstream
    fake_upstream.queue(Reply.text("hello alice"))
    with client(p, "alice", tokens["alice"]) as c:
        r = c.post(URLS["openai_chat"], json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                   headers=HEADERS)
    assert r.status_code == 200 and "hello alice" in r.text
    assert "proxy-authorization" not in {k.lower() for k in fake_upstream.last.headers}
    users.revoke("alice")  # the running proxy reads the changed file at the next connection, no restart
    assert "407" in refused(p, "alice", tokens["alice"])
    assert len(fake_upstream.requests) == 1


def test_a_refused_plain_http_request_and_a_refused_tunnel_to_any_host(team_proxy):
    p, _, _ = team_proxy
    with socket.create_connection((HOST, p.port), timeout=10) as s:
        s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 407") and "Proxy-Authenticate: Basic" in head  # not tunnelled either
    with socket.create_connection((HOST, p.port), timeout=10) as s:
        s.sendall(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 407")


def test_the_ledger_names_the_user(team_proxy, fake_upstream):
    p, _, tokens = team_proxy
    for user in ("alice", "bob", "bob"):
        fake_upstream.queue(Reply.text("ok"))
        with client(p, user, tokens[user]) as c:
            assert c.post(URLS["openai_chat"], json=body("openai_chat", False), headers=HEADERS).status_code == 200
    per_user = []
    for _ in range(50):  # the ledger is written off the request path: bounded, 5 s at most
        r = subprocess.run([sys.executable, "-m", "headroom", "perf", "--since", "all", "--format", "json"],
                           env=p.env(), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        per_user = json.loads(r.stdout)["per_user"]
        if sum(u["requests"] for u in per_user) == 3:
            break
        time.sleep(0.1)
    assert {u["user"]: u["requests"] for u in per_user} == {"alice": 1, "bob": 2}
    assert all(u["tokens_saved"] > 0 for u in per_user)  # each user's log was compressed
    r = subprocess.run([sys.executable, "-m", "headroom", "perf", "--since", "all", "--user", "bob", "--format",
                        "json"], env=p.env(), capture_output=True, text=True, timeout=60)
    assert json.loads(r.stdout)["totals"]["requests"] == 2


def test_one_users_retrieval_keys_are_not_answered_for_another_user_of_the_same_api_key(team_proxy, fake_upstream):
    p, _, tokens = team_proxy
    fake_upstream.queue(Reply.text("noted"))
    with client(p, "alice", tokens["alice"]) as c:  # alice's tool output is compressed: her key
        assert c.post(URLS["openai_chat"], json=body("openai_chat", False), headers=HEADERS).status_code == 200
    sent = fake_upstream.last.json
    (key,) = {m.key for m in find_markers(json.dumps(sent))}
    original = open_store().get(key)
    assert original and original in LOG
    # The conversation as the upstream has it (the marker, not the log): nobody's own compression makes the key.
    resent = dict(sent, stream=True)
    resent["tools"] = [t for t in sent["tools"] if "headroom_retrieve" not in json.dumps(t)]  # the client's own
    answers = {}
    for user in ("bob", "alice"):
        fake_upstream.clear()
        fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("done"))
        with client(p, user, tokens[user]) as c, c.stream("POST", URLS["openai_chat"], json=resent,
                                                          headers=HEADERS) as r:
            assert r.status_code == 200
            text = r.read().decode()
        assert "headroom_retrieve" not in text and sse_text("openai_chat", text) == "done", (user, text)
        cont = fake_upstream.wait_for(2)[1]
        answers[user] = cont.json["messages"][-1]["content"]
    assert answers["alice"] == original  # her own key, answered through the stream
    assert original not in answers["bob"] and key in answers["bob"]  # bob is told it is not there
