"""headroom_retrieve through the real proxy with a plain HTTP client (httpx), all three answered APIs.

Each test sends a request whose tool output the proxy compresses (a long log), learns the marker key from
what the upstream received, then scripts the fake upstream to call headroom_retrieve with it.
"""
from __future__ import annotations

import json

import ssl

import httpx
import pytest

from headroom.core.markers import find_markers, make_marker
from headroom.storage.store import open_store
from tests.support.fake_upstream import Reply

pytestmark = pytest.mark.e2e

LOG = "".join(f"2026-11-24 04:{i % 60:02d}:{i % 60:02d} INFO worker-{i % 7} heartbeat ok seq={i}\n"
              for i in range(400)) + "2026-11-24 05:00:00 ERROR disk /dev/sda1 full\n"

VERTEX = ("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/anthropic/"
          "models/claude-sonnet-4-5")
URLS = {"openai_chat": "https://api.openai.com/v1/chat/completions",
        "openai_responses": "https://api.openai.com/v1/responses",
        "anthropic": "https://api.anthropic.com/v1/messages",
        "gemini": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
        "gemini_sse": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        "gemini_array": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        # Claude on Vertex (the anthropic SDK's AnthropicVertex): the model and whether it streams are in the path.
        "anthropic_vertex": VERTEX + ":rawPredict", "anthropic_vertex_sse": VERTEX + ":streamRawPredict"}


def body(provider: str, stream: bool) -> dict:
    if provider == "openai_chat":
        return {"model": "gpt-4o", "stream": stream, "messages": [
            {"role": "user", "content": "why did the job fail?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "bash", "arguments": "{\"cmd\": \"cat job.log\"}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": LOG}],
            "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]}
    if provider == "openai_responses":
        return {"model": "gpt-4o", "stream": stream, "input": [
            {"role": "user", "content": "why did the job fail?"},
            {"type": "function_call", "call_id": "call_0", "name": "bash", "arguments": "{\"cmd\": \"cat job.log\"}"},
            {"type": "function_call_output", "call_id": "call_0", "output": LOG}],
            "tools": [{"type": "function", "name": "bash", "parameters": {"type": "object"}}]}
    if provider == "gemini":
        return {"contents": [
            {"role": "user", "parts": [{"text": "why did the job fail?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "bash", "args": {"cmd": "cat job.log"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "bash", "response": {"output": LOG}}}]}],
            "tools": [{"functionDeclarations": [{"name": "bash", "parameters": {"type": "object"}}]}],
            "stream": stream}  # not a Gemini field: post() takes it out and picks the streaming URL
    if provider == "anthropic_vertex":
        vertex = body("anthropic", stream)
        del vertex["model"]
        return {"anthropic_version": "vertex-2023-10-16", **vertex}
    return {"model": "claude-sonnet-4-5", "max_tokens": 1000, "stream": stream, "messages": [
        {"role": "user", "content": "why did the job fail?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_0", "name": "bash", "input": {"cmd": "cat job.log"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": LOG}]}],
        "tools": [{"name": "bash", "input_schema": {"type": "object"}}]}


def client(proxy) -> httpx.Client:
    return httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.client_ca_bundle)), timeout=30, trust_env=False)


def post(proxy, provider, b):
    headers = {"authorization": "Bearer sk-test", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
               "x-goog-api-key": "fake"}
    if provider == "gemini":
        url = URLS["gemini_sse" if b.pop("stream", False) else provider]
    else:
        url = URLS[provider + "_sse" if provider == "anthropic_vertex" and b.get("stream") else provider]
    with client(proxy) as c:
        r = c.post(url, json=b, headers=headers)
    return r


def learn_key(proxy, fake, provider) -> str:
    """One plain turn: what marker key did the proxy put in the tool output it sent upstream?"""
    fake.queue(Reply.text("noted"))
    r = post(proxy, provider, body(provider, False))
    assert r.status_code == 200, r.text
    sent = fake.last.decoded.decode()
    keys = [m.key for m in find_markers(sent)]
    assert keys, "the proxy did not compress the log; nothing to retrieve"
    assert "headroom_retrieve" in json.dumps(fake.last.json["tools"][-1])
    fake.clear()
    return keys[0]


def dropped_text(key: str) -> str:
    text = open_store().get(key)
    assert text and text in LOG
    return text


def sse_text(provider: str, raw: str) -> str:
    out = []
    for line in raw.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        o = json.loads(line[6:])
        if provider == "openai_chat":
            for ch in o.get("choices") or []:
                out.append((ch.get("delta") or {}).get("content") or "")
        elif provider.startswith("anthropic"):
            if o.get("type") == "content_block_delta":
                out.append(o["delta"].get("text", ""))
        elif provider == "gemini":
            for cand in o.get("candidates") or []:
                out += [p.get("text", "") for p in cand.get("content", {}).get("parts") or []]
        elif o.get("type") == "response.output_text.delta":
            out.append(o["delta"])
    return "".join(out)


@pytest.mark.parametrize("provider", ["openai_chat", "openai_responses", "anthropic", "anthropic_vertex", "gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_retrieve_is_answered_by_the_proxy(proxy, fake_upstream, provider, stream):
    key = learn_key(proxy, fake_upstream, provider)
    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}),
                        Reply.text("The disk /dev/sda1 was full."))
    r = post(proxy, provider, body(provider, stream))
    assert r.status_code == 200, r.text
    assert "headroom_retrieve" not in r.text and key not in r.text
    if stream:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert sse_text(provider, r.text) == "The disk /dev/sda1 was full."
    else:
        assert "The disk /dev/sda1 was full." in r.text
    first, cont = fake_upstream.wait_for(2)
    original = dropped_text(key)
    if provider == "openai_chat":
        call_id = cont.json["messages"][-2]["tool_calls"][0]["id"]
        assert cont.json["messages"][-1] == {"role": "tool", "tool_call_id": call_id, "content": original}
        assert cont.json["messages"][:-2] == first.json["messages"]
    elif provider.startswith("anthropic"):
        assert cont.path == first.path  # the continuation goes where the request went (Vertex: the model's path)
        assert cont.json["messages"][-1]["content"][0]["content"] == original
        assert cont.json["messages"][:-2] == first.json["messages"]
    elif provider == "gemini":
        (part,) = cont.json["contents"][-1]["parts"]
        assert part["functionResponse"]["response"] == {"content": original}
        assert cont.json["contents"][:-2] == first.json["contents"]
    else:
        call_id = cont.json["input"][-2]["call_id"]
        assert cont.json["input"][-1] == {"type": "function_call_output", "call_id": call_id, "output": original}
    assert len(fake_upstream.requests) == 2


def test_unknown_key_gets_a_plain_tool_result(proxy, fake_upstream):
    learn_key(proxy, fake_upstream, "openai_chat")
    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": "00000000deadbeef"}), Reply.text("ok"))
    r = post(proxy, "openai_chat", body("openai_chat", False))
    assert r.json()["choices"][0]["message"]["content"] == "ok"
    cont = fake_upstream.wait_for(2)[1]
    assert "nothing is stored under key 00000000deadbeef" in cont.json["messages"][-1]["content"]


def test_request_without_markers_is_not_relayed(proxy, fake_upstream):
    b = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    r = post(proxy, "openai_chat", b)
    assert r.status_code == 200
    assert "tools" not in fake_upstream.last.json
    assert fake_upstream.last.path == "/v1/chat/completions"


def test_originals_survive_a_proxy_restart(start_proxy, fake_upstream):
    first = start_proxy()
    key = learn_key(first, fake_upstream, "anthropic")
    marker = make_marker("398 lines omitted", dropped_text(key))[0]
    first.stop()
    second = start_proxy()
    # The agent's history already holds the compressed output with its marker: no new drop is made,
    # so only the store kept across the restart can answer.
    b = body("anthropic", False)
    b["messages"][2]["content"][0]["content"] = f"2026-11-24 04:00:00 INFO start\n{marker}\nERROR disk full\n"
    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.text("disk full"))
    r = post(second, "anthropic", b)
    assert r.status_code == 200 and r.json()["content"] == [{"type": "text", "text": "disk full"}]
    cont = fake_upstream.wait_for(2)[1]
    assert cont.json["messages"][-1]["content"][0]["content"] == dropped_text(key)



@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_upstream_error_on_the_continuation_reaches_the_client_plainly(proxy, fake_upstream, stream):
    key = learn_key(proxy, fake_upstream, "anthropic")
    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}), Reply.error(529, "overloaded"))
    r = post(proxy, "anthropic", body("anthropic", stream))
    assert "headroom_retrieve" not in r.text
    if stream:
        assert r.status_code == 200 and "event: error" in r.text and "overloaded" in r.text
    else:
        assert r.status_code == 529 and r.json()["error"]["message"] == "overloaded"


def test_gemini_json_array_stream_gets_no_tool(proxy, fake_upstream):
    """Without alt=sse Gemini streams one JSON array the relay does not watch: no tool, normal path."""
    key = learn_key(proxy, fake_upstream, "gemini")
    assert key
    with client(proxy) as c:
        gemini_body = {k: v for k, v in body("gemini", False).items() if k != "stream"}  # not a Gemini field
        r = c.post(URLS["gemini_array"], json=gemini_body, headers={"x-goog-api-key": "fake"})
    assert r.status_code == 200
    assert "headroom_retrieve" not in json.dumps(fake_upstream.last.json.get("tools"))


def test_rounds_are_bounded(proxy, fake_upstream):
    key = learn_key(proxy, fake_upstream, "openai_chat")
    call = Reply.tool_call("headroom_retrieve", {"key": key})
    fake_upstream.queue(call, call, call, call, Reply.text("never asked for"))
    r = post(proxy, "openai_chat", body("openai_chat", False))
    assert r.status_code == 200 and "headroom_retrieve" not in r.text
    assert r.json()["choices"][0]["finish_reason"] == "stop"
    sent = fake_upstream.wait_for(4)
    assert len(fake_upstream.requests) == 4  # the first request and 3 continuations, no more
    assert sent[-1].json["tool_choice"] == "none" and "tool_choice" not in sent[1].json


def test_a_client_that_gives_up_is_not_billed_a_retrieval_round(proxy, fake_upstream):
    """Issue 15 item 1, through mitmproxy: the client times out while the model thinks on a relayed request;
    the answer that then arrives calls headroom_retrieve. Nobody waits for it: no second round goes upstream."""
    import time

    key = learn_key(proxy, fake_upstream, "anthropic")
    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": key}, delay=3.0),
                        Reply.text("nobody reads this"))
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.client_ca_bundle)),
                      timeout=1.0, trust_env=False) as c:
        with pytest.raises(httpx.TimeoutException):
            c.post(URLS["anthropic"], json=body("anthropic", False), headers=headers)
    time.sleep(5)  # past the scripted think, and time for a continuation to have gone out if it were to
    assert len(fake_upstream.requests) == 1
