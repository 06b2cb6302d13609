"""A client that closes its connection as soon as it has read a stream's final event (Codex after
`response.completed`, aider after `[DONE]`) got the whole answer: its ledger row is not an error. One that
closes before the final event is. Through the real proxy, on the plain path and on the retrieval relay,
against an upstream whose end of body comes a second after its last event (so the client's close always
reaches the proxy first)."""
from __future__ import annotations

import json
import sqlite3
import ssl
import time

import httpx
import pytest

from headroom.storage.ledger import ledger_path
from tests.e2e.test_retrieve_http import URLS, body, learn_key
from tests.support.fake_upstream import Reply

pytestmark = pytest.mark.e2e

TAIL = 1.0  # seconds between the stream's last event and its end
# The answer the client leaves early comes 0.3 s an event, so its final event is not sent when it leaves.
HEADERS = {"authorization": "Bearer sk-test", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
           "x-goog-api-key": "fake"}
# The line of each shape's final event, as the SDKs recognise it.
FINAL = {"openai_chat": "data: [DONE]", "openai_responses": "event: response.completed",
         "anthropic": "event: message_stop", "gemini": '"finishReason"'}
# A line every stream carries well before its final event.
EARLY = {"openai_chat": '"role": "assistant"', "openai_responses": "event: response.created",
         "anthropic": "event: message_start", "gemini": "data: "}
PROVIDERS = list(FINAL)


def plain_body(provider: str) -> dict:
    """A turn with nothing to compress: no marker, so no retrieve tool, so mitmproxy streams it itself."""
    b = body(provider, True)
    if provider == "gemini":
        b["contents"] = b["contents"][:1]
    elif provider == "openai_responses":
        b["input"] = b["input"][:1]
    else:
        b["messages"] = b["messages"][:1]
    return b


def read_then_close(proxy, provider: str, b: dict, until: str) -> list[str]:
    """Stream the request, close the connection right after the first line containing `until`."""
    b = dict(b)
    if provider == "openai_chat":
        b["stream_options"] = {"include_usage": True}  # as aider asks: the usage comes before [DONE]
    url = URLS["gemini_sse" if provider == "gemini" else provider]
    b.pop("stream", None) if provider == "gemini" else None
    lines: list[str] = []
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    with httpx.Client(proxy=proxy.url, verify=ctx, timeout=30, trust_env=False) as c:
        with c.stream("POST", url, json=b, headers=HEADERS) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                lines.append(line)
                if until in line:
                    break
            # leaving the block unread closes the connection: the proxy has not had the end of the body yet
    assert until in lines[-1], lines
    return lines


def rows(n: int, timeout: float = 20.0) -> list[dict]:
    """The ledger's rows once there are `n` (bounded wait: the proxy counts in a worker thread)."""
    deadline = time.monotonic() + timeout
    while True:
        got: list[dict] = []
        if ledger_path().exists():
            conn = sqlite3.connect(ledger_path())
            conn.row_factory = sqlite3.Row
            try:
                got = [dict(r) for r in conn.execute("SELECT * FROM requests ORDER BY id")]
            except sqlite3.OperationalError:  # the writer has not made the table yet
                got = []
            conn.close()
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_plain_path_close_after_the_final_event_is_no_error(proxy, fake_upstream, provider):
    fake_upstream.queue(Reply.text("All done here.", tail=TAIL), Reply.text("Cut short.", interval=0.3, tail=TAIL))
    read_then_close(proxy, provider, plain_body(provider), FINAL[provider])
    assert "tools" not in fake_upstream.last.json or "headroom_retrieve" not in json.dumps(fake_upstream.last.json)
    read_then_close(proxy, provider, plain_body(provider), EARLY[provider])
    done, cut = rows(2)
    assert (done["error"], done["status"], done["streaming"]) == (0, 200, 1)
    assert done["usage_reported"] == 1  # the usage is in the final events: read before the client left
    assert cut["error"] == 1  # a client that left mid-answer did not get it: still an error


@pytest.mark.parametrize("provider", PROVIDERS)
def test_relay_path_close_after_the_final_event_is_no_error(proxy, fake_upstream, provider):
    learn_key(proxy, fake_upstream, provider)
    fake_upstream.queue(Reply.text("All done here.", tail=TAIL), Reply.text("Cut short.", interval=0.3, tail=TAIL))
    read_then_close(proxy, provider, body(provider, True), FINAL[provider])
    assert "headroom_retrieve" in json.dumps(fake_upstream.last.json["tools"])  # this one went through the relay
    read_then_close(proxy, provider, body(provider, True), EARLY[provider])
    learned, done, cut = rows(3)
    assert learned["error"] == 0
    assert (done["error"], done["status"], done["streaming"]) == (0, 200, 1)
    assert done["usage_reported"] == 1
    assert cut["error"] == 1
