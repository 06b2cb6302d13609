"""Through the real proxy: relayed streams stay streams, and a retrieve call mixed with another tool call
lets the other call through while the hidden one is spliced into the next turn."""
from __future__ import annotations

import json
import ssl
import time

import httpx
import pytest

from headroom.core.markers import find_markers
from headroom.storage.store import open_store
from tests.core.retrieval.helpers import chat_events
from tests.e2e.test_retrieve_http import URLS, body
from tests.support.fake_upstream import Reply

pytestmark = pytest.mark.e2e


def client(proxy):
    return httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.client_ca_bundle)),
                        timeout=30, trust_env=False)


def learn_key(proxy, fake) -> str:
    fake.queue(Reply.text("noted"))
    with client(proxy) as c:
        assert c.post(URLS["openai_chat"], json=body("openai_chat", False)).status_code == 200
    (key,) = {m.key for m in find_markers(fake.last.decoded.decode())}
    fake.clear()
    return key


def timed_stream(proxy, b):
    """(seconds from send to each received chunk, whole text)."""
    arrivals, data = [], b""
    with client(proxy) as c:
        t0 = time.monotonic()
        with c.stream("POST", URLS["openai_chat"], json=b) as r:
            assert r.status_code == 200
            for chunk in r.iter_raw():
                arrivals.append(time.monotonic() - t0)
                data += chunk
    return arrivals, data.decode()


def test_relayed_stream_without_a_call_is_passed_on_as_it_comes(proxy, fake_upstream):
    learn_key(proxy, fake_upstream)
    fake_upstream.queue(Reply.text("one two three four five six", interval=0.3, chunks=6))
    arrivals, text = timed_stream(proxy, body("openai_chat", True))
    assert "tools" in fake_upstream.last.json  # the tool was injected: this went through the relay
    assert "one two three" in "".join(
        (json.loads(l[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for l in text.splitlines() if l.startswith("data: {"))
    # ~9 events 0.3 s apart: the first must reach the client long before the last is even sent.
    assert len(arrivals) > 3 and arrivals[-1] - arrivals[0] > 1.0


def test_first_round_events_reach_the_client_before_the_continuation(proxy, fake_upstream):
    key = learn_key(proxy, fake_upstream)
    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}, interval=0.3),
                        Reply.text("disk full", interval=0.3, chunks=2))
    arrivals, text = timed_stream(proxy, body("openai_chat", True))
    assert "headroom_retrieve" not in text
    cont = fake_upstream.wait_for(2)[1]
    assert arrivals[0] < (cont.received_at - fake_upstream.requests[0].received_at)


def test_mixed_calls_other_call_reaches_client_and_next_turn_gets_both(proxy, fake_upstream):
    key = learn_key(proxy, fake_upstream)
    events = chat_events("", [("call_r", "headroom_retrieve", {"key": key}), ("call_b", "bash", {"cmd": "df -h"})])
    fake_upstream.queue(Reply.raw(200, b"".join(e.raw for e in events), {"Content-Type": "text/event-stream"}),
                        Reply.text("Freed space."))
    b = body("openai_chat", True)
    with client(proxy) as c:
        r = c.post(URLS["openai_chat"], json=b)
    assert r.status_code == 200 and "headroom_retrieve" not in r.text and "call_r" not in r.text
    calls = [tc for l in r.text.splitlines() if l.startswith("data: {")
             for ch in json.loads(l[6:])["choices"] for tc in ch["delta"].get("tool_calls") or []]
    assert calls[0]["index"] == 0 and calls[0]["id"] == "call_b" and calls[0]["function"]["name"] == "bash"
    assert len(fake_upstream.requests) == 1  # no continuation: the client runs bash first
    # Next turn: the agent sends its view (the bash call) and the bash result.
    b2 = dict(b, stream=False, messages=b["messages"] + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_b", "type": "function", "function": {"name": "bash", "arguments": json.dumps({"cmd": "df -h"})}}]},
        {"role": "tool", "tool_call_id": "call_b", "content": "/dev/sda1 100%"}])
    with client(proxy) as c:
        r2 = c.post(URLS["openai_chat"], json=b2)
    assert r2.json()["choices"][0]["message"]["content"] == "Freed space."
    msgs = fake_upstream.last.json["messages"]
    assert [tc["id"] for tc in msgs[3]["tool_calls"]] == ["call_r", "call_b"]
    assert msgs[4] == {"role": "tool", "tool_call_id": "call_r", "content": open_store().get(key)}
    assert msgs[5]["tool_call_id"] == "call_b"
