"""The relay against an in-memory upstream: what the client gets, what goes upstream, what is kept."""
from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import httpx
import pytest

from headroom.core.markers import key_for, make_marker
from headroom.core.retrieval.sse import SSEParser
from headroom.relay.server import RELAY_PREFIX, Job, Relay
from headroom.relay.upstream import Target, Upstream
from headroom.storage.store import SQLiteStore
from tests.core.retrieval.helpers import R, chat_events, chat_json, make_original

ORIG = make_original()
KEY = key_for(ORIG)
MARKER, _ = make_marker("61 lines omitted", ORIG)
BODY = {"model": "gpt-4o", "messages": [
    {"role": "user", "content": "why did it stop?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c0", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c0", "content": f"start\n{MARKER}\nend"}]}
SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


def sse(events) -> bytes:
    return b"".join(e.raw for e in events)


def run(answers, *, path="/v1/chat/completions", job_id=None, routes=None, scope="", own_keys=frozenset({KEY}),
        stored_scope=""):
    """Relay one request through scripted upstream `answers` (httpx.Response or an exception to raise);
    returns (client response, the requests upstream saw, the store, the flow's answered calls)."""
    seen: list[httpx.Request] = []
    answers = list(answers)

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def go():
        store, answered = SQLiteStore(Path(tempfile.mkdtemp(prefix="relay-test-")) / "s.db"), []
        store.put_many({KEY: ORIG}, stored_scope)
        upstream = Upstream(transport=httpx.MockTransport(handler))
        upstream.configure(routes=routes or {})
        relay = Relay(store, upstream)
        port = await relay.start()
        try:
            jid = job_id or relay.add(Job("openai_chat", Target("https", "api.openai.com", 443), BODY, "",
                                          on_answer=answered.extend, scope=scope, own_keys=own_keys))
            async with httpx.AsyncClient(trust_env=False) as client:
                resp = await client.post(f"http://127.0.0.1:{port}{RELAY_PREFIX}{jid}{path}",
                                         content=json.dumps(BODY).encode(), headers={"authorization": "Bearer k"})
            await asyncio.sleep(0.01)  # the relay sees the client go before the loop ends
            return resp, seen, store, answered
        finally:
            await relay.close()

    return asyncio.run(go())


def test_a_stream_reaches_the_client_without_the_call_and_the_continuation_goes_upstream():
    first = chat_events("Let me look. ", [("call_r", R, {"key": KEY})])
    resp, seen, store, answered = run([httpx.Response(200, headers=SSE, content=sse(first)),
                                       httpx.Response(200, headers=SSE, content=sse(chat_events("Disk full.")))])
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/event-stream"
    events = SSEParser().feed(resp.content)
    text = "".join(c["delta"].get("content") or "" for e in events if isinstance(e.json(), dict)
                   for c in e.json().get("choices") or [])
    assert text == "Let me look. Disk full." and R.encode() not in resp.content
    assert [r.url.host for r in seen] == ["api.openai.com"] * 2
    assert seen[0].headers["host"] == "api.openai.com" and seen[0].headers["authorization"] == "Bearer k"
    cont = json.loads(seen[1].content)
    assert cont["messages"][-1] == {"role": "tool", "tool_call_id": "call_r", "content": ORIG}
    assert store.stats()["exchanges"] == 1 and [c.call_id for c in answered] == ["call_r"]


def test_a_json_answer_is_one_response_with_every_round_in_it():
    resp, seen, store, _ = run([
        httpx.Response(200, headers=JSON, json=chat_json("Let me look. ", [("call_r", R, {"key": KEY})])),
        httpx.Response(200, headers=JSON, json=chat_json("Disk full."))])
    final = resp.json()
    assert final["choices"][0]["message"]["content"] == "Let me look. Disk full."
    assert "tool_calls" not in final["choices"][0]["message"]
    assert int(resp.headers["content-length"]) == len(resp.content) and len(seen) == 2 and store.stats()["exchanges"]


def test_an_answer_without_calls_passes_byte_for_byte():
    raw = json.dumps(chat_json("Nothing to fetch."), indent=1).encode()
    resp, seen, store, _ = run([httpx.Response(200, headers=JSON, content=raw)])
    assert resp.content == raw and len(seen) == 1 and store.stats()["exchanges"] == 0


def test_the_upstreams_own_errors_pass_as_they_are():
    resp, _, _, _ = run([httpx.Response(429, headers=JSON, content=b'{"error": "slow down"}')])
    assert resp.status_code == 429 and resp.content == b'{"error": "slow down"}'


def test_a_refused_continuation_is_told_in_the_stream():
    first = chat_events("", [("call_r", R, {"key": KEY})])
    resp, _, store, _ = run([httpx.Response(200, headers=SSE, content=sse(first)),
                             httpx.Response(500, headers=JSON, content=b"overloaded")])
    errors = [e.json() for e in SSEParser().feed(resp.content) if isinstance(e.json(), dict) and "error" in e.json()]
    assert errors == [{"error": {"type": "headroom_retrieve_error", "message":
                                 "headroom: upstream answered 500 to the retrieval continuation: overloaded"}}]
    assert store.stats()["exchanges"] == 1  # what the model did see is still kept for the next turn


def test_a_continuation_that_cannot_be_sent_fails_a_json_answer_with_502():
    resp, _, store, _ = run([
        httpx.Response(200, headers=JSON, json=chat_json(None, [("call_r", R, {"key": KEY})])),
        httpx.ConnectError("connection refused")])
    assert resp.status_code == 502 and store.stats()["exchanges"] == 0
    assert resp.json()["error"]["message"] == ("headroom: the retrieval continuation to api.openai.com failed: "
                                               "connection refused")


def test_an_unreachable_upstream_is_a_502_naming_the_host():
    resp, _, _, _ = run([httpx.ConnectError("no route")])
    assert resp.status_code == 502 and "could not reach api.openai.com: no route" in resp.text


def test_an_unknown_job_is_refused():
    resp, seen, _, _ = run([], job_id="0" * 32)
    assert resp.status_code == 421 and seen == []


@pytest.mark.parametrize("routes, url", [({}, "https://api.openai.com/v1/chat/completions"),
                                         ({"api.openai.com": ("127.0.0.1", 8443)},
                                          "https://127.0.0.1:8443/v1/chat/completions")])
def test_routes_choose_the_address_and_sni_stays_the_real_host(routes, url):
    _, seen, _, _ = run([httpx.Response(200, headers=JSON, json=chat_json("ok"))], routes=routes)
    assert str(seen[0].url) == url and seen[0].extensions["sni_hostname"] == "api.openai.com"


@pytest.mark.parametrize("scope, own, stored, answered", [
    ("a" * 16, frozenset({KEY}), "b" * 16, True),  # its own compression made the key: answered, whoever wrote it
    ("a" * 16, frozenset(), "a" * 16, True),  # written under its own credential (no history resent)
    ("a" * 16, frozenset(), "b" * 16, False),  # another client's drop, named by its key: not answered
    ("", frozenset(), "b" * 16, False),
])
def test_a_retrieve_call_is_answered_only_within_its_scope(scope, own, stored, answered):
    """Issue 15 item 11: a client with another API key got another client's original by naming its key."""
    first = chat_events("Let me look. ", [("call_r", R, {"key": KEY})])
    resp, seen, _, _ = run([httpx.Response(200, headers=SSE, content=sse(first)),
                            httpx.Response(200, headers=SSE, content=sse(chat_events("Done.")))],
                           scope=scope, own_keys=own, stored_scope=stored)
    assert resp.status_code == 200 and len(seen) == 2
    result = json.loads(seen[1].content)["messages"][-1]["content"]
    assert (ORIG in result) is answered


def test_a_client_that_goes_away_closes_its_upstream_request_at_once(tmp_path):
    """Issue 15 item 1: when the client went (Esc in an agent, a timeout) while the model thought, the
    relayed upstream request stayed open to its end (8 of 8 still open 15 s later), and a retrieve call in
    its answer started a second, billed round for nobody."""
    cancelled = asyncio.Event()
    calls = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        try:
            await asyncio.sleep(30)  # a long think: nothing reaches the client meanwhile
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return httpx.Response(200, headers=SSE, content=sse(chat_events("too late")))

    async def go():
        store = SQLiteStore(tmp_path / "s.db")
        upstream = Upstream(transport=httpx.MockTransport(handler))
        relay = Relay(store, upstream)
        port = await relay.start()
        try:
            jid = relay.add(Job("openai_chat", Target("https", "api.openai.com", 443), BODY, "", own_keys=frozenset()))
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            data = json.dumps(BODY).encode()
            writer.write(f"POST {RELAY_PREFIX}{jid}/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
            await writer.drain()
            for _ in range(200):  # bounded: until the upstream request is in flight
                if calls:
                    break
                await asyncio.sleep(0.01)
            writer.close()
            await asyncio.wait_for(cancelled.wait(), 10)
        finally:
            await relay.close()
        return len(calls)

    assert asyncio.run(go()) == 1  # cancelled, and never continued


def test_a_silent_upstream_is_a_504_that_says_so(tmp_path, monkeypatch):
    """Issue 15 item 12: a silent upstream held the client (150 s and counting). The relay's reads are
    bounded (TIMEOUTS, shortened here) and the client gets a 504 naming the host and the limit."""
    import headroom.relay.server as server
    import headroom.relay.upstream as upstream_mod

    short = {**upstream_mod.TIMEOUTS, "read": 0.5}
    monkeypatch.setattr(upstream_mod, "TIMEOUTS", short)
    monkeypatch.setattr(server, "TIMEOUTS", short)

    async def go():
        held = []

        async def silent(reader, writer):  # accepts, reads the request, never answers
            held.append(writer)
            await reader.read(65536)

        quiet = await asyncio.start_server(silent, "127.0.0.1", 0)
        qport = quiet.sockets[0].getsockname()[1]
        up = Upstream()
        up.configure(routes={"api.openai.com": ("127.0.0.1", qport)})
        relay = Relay(SQLiteStore(tmp_path / "s.db"), up)
        port = await relay.start()
        try:
            jid = relay.add(Job("openai_chat", Target("http", "api.openai.com", 80), BODY, ""))
            async with httpx.AsyncClient(trust_env=False, timeout=20) as client:
                return await client.post(f"http://127.0.0.1:{port}{RELAY_PREFIX}{jid}/v1/chat/completions",
                                         content=json.dumps(BODY).encode())
        finally:
            await relay.close()
            quiet.close()
            for w in held:
                w.close()

    resp = asyncio.run(go())
    assert resp.status_code == 504
    assert resp.json()["error"]["message"] == "headroom: api.openai.com did not answer within 0.5 s"


def test_one_connection_carries_one_relayed_request_after_another(tmp_path, caplog):
    """mitmproxy keeps its connection to the relay open across a client's requests. The watch for the
    client going away used to be cancelled but not awaited, so the next request's read met it still
    waiting ("RuntimeError" in the log) and the connection closed after every request: each relayed
    request then paid for a new connection."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=JSON, json=chat_json("fine"))

    async def go():
        store = SQLiteStore(tmp_path / "s.db")
        relay = Relay(store, Upstream(transport=httpx.MockTransport(handler)))
        port = await relay.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data = json.dumps(BODY).encode()
        statuses = []
        try:
            for _ in range(3):
                jid = relay.add(Job("openai_chat", Target("https", "api.openai.com", 443), BODY, "",
                                    own_keys=frozenset()))
                writer.write(f"POST {RELAY_PREFIX}{jid}/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                             f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                statuses.append(head.split(b" ", 2)[1])
                length = int(next(v for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n"))
                                  if k.lower() == b"content-length"))
                await asyncio.wait_for(reader.readexactly(length), 10)
        finally:
            writer.close()
            await relay.close()
        return statuses

    assert asyncio.run(go()) == [b"200"] * 3
    assert "retrieval relay" not in caplog.text


def _buffered(first: bytes, answers, *, wanted=lambda: True):
    """Relay.answer_buffered on a first JSON answer mitmproxy buffered; `answers` are the continuations'."""
    seen: list[httpx.Request] = []
    answers = list(answers)

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    async def go():
        store, answered = SQLiteStore(Path(tempfile.mkdtemp(prefix="relay-test-")) / "s.db"), []
        store.put_many({KEY: ORIG})
        relay = Relay(store, Upstream(transport=httpx.MockTransport(handler)))
        try:
            job = Job("openai_chat", Target("https", "api.openai.com", 443), BODY, "", on_answer=answered.extend,
                      own_keys=frozenset({KEY}), path="/v1/chat/completions")
            final = await relay.answer_buffered(job, [("authorization", "Bearer k"), ("content-length", "9")],
                                                [("content-type", "application/json")], first, wanted=wanted)
            return final, seen, store, answered
        finally:
            await relay.close()

    return asyncio.run(go())


def test_a_buffered_json_answer_with_a_call_is_answered_without_the_relays_hop():
    first = json.dumps(chat_json("Let me look. ", [("call_r", R, {"key": KEY})])).encode()
    final, seen, store, answered = _buffered(first, [httpx.Response(200, headers=JSON, json=chat_json("Disk full."))])
    assert final is not None and final.status == 200
    message = json.loads(final.body)["choices"][0]["message"]
    assert message["content"] == "Let me look. Disk full." and "tool_calls" not in message
    assert len(seen) == 1 and seen[0].url.path == "/v1/chat/completions"  # the continuation, to the real path
    assert seen[0].headers["authorization"] == "Bearer k"
    assert json.loads(seen[0].content)["messages"][-1]["content"] == ORIG  # the original it asked for
    assert len(answered) == 1 and store.stats()["exchanges"] == 1


def test_a_buffered_answer_without_a_call_is_left_as_it_came():
    raw = json.dumps(chat_json("Nothing to fetch."), indent=1).encode()
    final, seen, _, _ = _buffered(raw, [])
    assert final is None and seen == []


def test_no_continuation_is_sent_once_the_client_has_gone():
    first = json.dumps(chat_json("", [("call_r", R, {"key": KEY})])).encode()
    final, seen, _, _ = _buffered(first, [], wanted=lambda: False)
    assert final is None and seen == []
