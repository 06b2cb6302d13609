"""The Retrieve addon without a network: which flows get the tool, and where their answers are watched."""
from __future__ import annotations

import asyncio
import json

import pytest
from mitmproxy.test import taddons, tflow, tutils

from headroom.addon.retrieve import _RUN, _STREAMED, _WHOLE, RELAY_PREFIX, Retrieve, _Stream
from headroom.addon.state import STATE_KEY, LLMRequest
from headroom.core import retrieval
from headroom.core.markers import key_for, make_marker
from headroom.core.providers import get_provider
from headroom.storage.store import open_store

ORIGINAL = "".join(f"INFO line {i}\n" for i in range(100))
KEY = key_for(ORIGINAL)
MARKER, _ = make_marker("100 lines omitted", ORIGINAL)


def chat_body(tool_output: str, tools=None, stream=None) -> dict:
    body = {"model": "gpt-4o", **({"stream": stream} if stream is not None else {}), "messages": [
        {"role": "user", "content": "what happened?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c0", "content": tool_output}]}
    if tools is not None:
        body["tools"] = tools
    return body


def flow_for(body: dict, provider="openai_chat", **state):
    f = tflow.tflow(req=tutils.treq(host="api.openai.com", port=443, path=b"/v1/chat/completions",
                                    content=json.dumps(body).encode()))
    f.request.scheme = "https"
    f.metadata[STATE_KEY] = LLMRequest(provider=provider, host="api.openai.com", path="/v1/chat/completions",
                                       body=body, **state)
    return f


def answered_by(f) -> str | None:
    """Where the model's calls of the tool are answered: as a stream streams on mitmproxy's connection, the
    relay (a stream where that cannot be), the response hook (JSON)."""
    if f.request.host == "127.0.0.1":
        return "relay"
    if _STREAMED in f.metadata:
        return "stream"
    return "response hook" if _WHOLE in f.metadata else None


def run(body, provider="openai_chat", issued=True, direct=True, **state):
    async def go():
        a = Retrieve()
        a.direct_streams = direct
        with taddons.context(a):
            await a.running()
            try:
                if issued:
                    a.store.put_many({KEY: ORIGINAL})
                f = flow_for(body, provider, **state)
                await a.request(f)
                return a, f
            finally:
                await a.done()
    return asyncio.run(go())


def sse_response(f, *headers):
    f.response = tutils.tresp(headers=[(b"content-type", b"text/event-stream"), *headers], content=b"")


def test_marker_with_issued_key_adds_tool_and_a_stream_is_watched_on_mitmproxys_connection():
    body = chat_body(f"head\n{MARKER}\ntail", tools=[{"type": "function", "function": {"name": "bash"}}], stream=True)
    a, f = run(body)
    assert a.direct_streams  # the installed mitmproxy's stream layer takes compat's append
    st = f.metadata[STATE_KEY]
    assert st.modified is True
    assert [t["function"]["name"] for t in body["tools"]] == ["bash", "headroom_retrieve"]
    assert (f.request.scheme, f.request.host, f.request.port, f.request.path) == (
        "https", "api.openai.com", 443, "/v1/chat/completions")
    assert answered_by(f) == "stream"
    # Its answer's length and encoding go (events are held back, the body is passed on decoded); an
    # HTTP/1.1 client gets it chunked.
    sse_response(f, (b"content-length", b"999"), (b"content-encoding", b"gzip"))
    a.responseheaders(f)
    assert isinstance(f.response.stream, _Stream) and f.metadata[_RUN] is f.response.stream
    assert "content-length" not in f.response.headers and "content-encoding" not in f.response.headers
    assert f.response.headers["transfer-encoding"] == "chunked"


@pytest.mark.parametrize("status, ctype, watched", [
    (200, b"application/json", "response hook"),  # a stream asked for, a JSON answer given: answered whole
    (429, b"application/json", None),  # a refusal passes as it came
    (200, b"text/plain", None),
])
def test_a_streaming_requests_answer_that_is_not_a_stream(status, ctype, watched):
    a, f = run(chat_body(MARKER, stream=True))
    f.response = tutils.tresp(status_code=status, headers=[(b"content-type", ctype)])
    a.relay = a.relay or object()  # done() closed it; _watch only needs one
    a.responseheaders(f)
    assert _RUN not in f.metadata
    assert ("response hook" if _WHOLE in f.metadata else None) == watched


def test_an_encoding_nobody_reads_lets_the_stream_pass_unwatched(caplog):
    async def go():
        a = Retrieve()
        with taddons.context(a):  # one context and loop: the warning goes through mitmproxy's log handler
            await a.running()
            try:
                a.store.put_many({KEY: ORIGINAL})
                f = flow_for(chat_body(MARKER, stream=True))
                await a.request(f)
                sse_response(f, (b"content-encoding", b"compress"))
                a.responseheaders(f)
                return f
            finally:
                await a.done()

    f = asyncio.run(go())
    assert f.response.stream is True and _RUN not in f.metadata
    assert f.response.headers["content-encoding"] == "compress"
    assert "passes unwatched" in caplog.text


def test_where_streams_cannot_be_appended_to_a_stream_goes_to_the_relay():
    body = chat_body(f"head\n{MARKER}\ntail", stream=True)
    a, f = run(body, direct=False)
    assert (f.request.scheme, f.request.host, f.request.port) == ("http", "127.0.0.1", a.relay_port)
    assert f.request.path.startswith(RELAY_PREFIX) and f.request.path.endswith("/v1/chat/completions")
    sse_response(f)
    a.responseheaders(f)
    assert (f.request.scheme, f.request.host, f.request.port, f.request.path) == (
        "https", "api.openai.com", 443, "/v1/chat/completions")
    assert f.response.stream is True


@pytest.mark.parametrize("inline", [True, False])
def test_the_request_side_runs_on_the_loop_only_for_a_local_store_and_a_small_body(monkeypatch, inline):
    threads = []
    real = asyncio.to_thread

    async def counted(fn, *args, **kwargs):
        threads.append(fn)
        return await real(fn, *args, **kwargs)

    async def go():
        a = Retrieve()
        with taddons.context(a):
            await a.running()
            try:
                a.store.put_many({KEY: ORIGINAL})
                monkeypatch.setattr(a.store, "reads_inline", inline)
                monkeypatch.setattr(asyncio, "to_thread", counted)
                body = chat_body(f"head\n{MARKER}\ntail", stream=True)
                f = flow_for(body)
                await a.request(f)
                return body, f
            finally:
                await a.done()

    body, f = asyncio.run(go())
    assert [t["function"]["name"] for t in body["tools"]] == ["headroom_retrieve"] and answered_by(f) == "stream"
    assert len(threads) == (0 if inline else 1)


def test_a_request_that_does_not_stream_gets_the_tool_and_stays_on_mitmproxys_path():
    """Its whole answer is buffered before the client gets anything: the response hook answers its calls,
    so it needs no second hop through the relay."""
    body = chat_body(f"head\n{MARKER}\ntail", stream=False)
    a, f = run(body)
    assert [t["function"]["name"] for t in body["tools"]] == ["headroom_retrieve"]
    assert (f.request.host, f.request.port, f.request.path) == ("api.openai.com", 443, "/v1/chat/completions")
    assert answered_by(f) == "response hook"


@pytest.mark.parametrize("case", ["no marker", "key not issued", "client has the tool", "bypass"])
def test_flows_that_stay_on_the_normal_path(case):
    body = chat_body("plain output" if case == "no marker" else MARKER,
                     tools=[{"type": "function", "function": {"name": "headroom_retrieve"}}]
                     if case == "client has the tool" else None)
    before = json.dumps(body)
    a, f = run(body, issued=case != "key not issued", bypass=case == "bypass")
    assert json.dumps(body) == before
    assert f.request.host == "api.openai.com" and f.request.path == "/v1/chat/completions"
    assert f.metadata[STATE_KEY].modified is False


def test_hidden_exchange_of_an_earlier_turn_is_spliced_back():
    body = chat_body(MARKER)
    relay = retrieval.make_exchange("openai_chat", body, retrieval.prev_fingerprint("openai_chat", body))
    relay.feed_response({"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "r1", "type": "function", "function": {"name": "headroom_retrieve", "arguments": json.dumps({"key": KEY})}}]}}]})
    results = {"r1": ORIGINAL}
    relay.continuation(results)
    relay.feed_response({"choices": [{"message": {"role": "assistant", "content": "all INFO"}}]})
    fp, rec = relay.record()
    s = open_store()
    s.put_exchanges({fp: rec})
    s.close()
    nxt = chat_body(MARKER)
    nxt["messages"] += [{"role": "assistant", "content": "all INFO"}, {"role": "user", "content": "ok"}]
    a, f = run(nxt)
    roles = [m["role"] for m in nxt["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant", "user"]
    assert nxt["messages"][4]["content"] == ORIGINAL
    assert f.metadata[STATE_KEY].modified is True


def test_token_counting_gets_the_tool_but_not_the_relay():
    body = {"model": "claude-sonnet-4-5", "messages": [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": MARKER}]}]}

    async def go():
        a = Retrieve()
        with taddons.context(a):
            await a.running()
            try:
                a.store.put_many({KEY: ORIGINAL})
                f = tflow.tflow(req=tutils.treq(host="api.anthropic.com", port=443, path=b"/v1/messages/count_tokens"))
                f.metadata[STATE_KEY] = LLMRequest(provider="anthropic", host="api.anthropic.com",
                                                   path="/v1/messages/count_tokens", body=body)
                await a.request(f)
                return f
            finally:
                await a.done()

    f = asyncio.run(go())
    assert body["tools"][-1]["name"] == "headroom_retrieve"
    assert f.request.host == "api.anthropic.com" and f.request.path == "/v1/messages/count_tokens"


@pytest.mark.parametrize("path, where", [
    ("/v1beta/models/g:generateContent", "response hook"),
    ("/v1beta/models/g:streamGenerateContent?alt=sse", "stream"),
    ("/v1beta/models/g:streamGenerateContent", None),  # one JSON array: not watched, so no tool at all
    ("/v1beta/models/g:countTokens", None),
])
def test_gemini_gets_the_tool_only_where_its_calls_can_be_answered(path, where):
    body = {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "x", "response": {"r": MARKER}}}]}]}
    before = json.dumps(body)

    async def go():
        a = Retrieve()
        with taddons.context(a):
            await a.running()
            try:
                a.store.put_many({KEY: ORIGINAL})
                f = tflow.tflow(req=tutils.treq(host="generativelanguage.googleapis.com", port=443, path=path.encode()))
                f.metadata[STATE_KEY] = LLMRequest(provider="gemini", host="generativelanguage.googleapis.com",
                                                   path=path, body=body)
                await a.request(f)
                return f
            finally:
                await a.done()

    f = asyncio.run(go())
    assert answered_by(f) == where
    if where:
        assert body["tools"] == [{"functionDeclarations": [retrieval.tool_definition("gemini")["functionDeclarations"][0]]}]
    else:
        assert json.dumps(body) == before


def test_markers_compression_just_made_are_found_without_rescanning_the_body():
    from types import SimpleNamespace

    client_bytes = json.dumps(chat_body(ORIGINAL)).encode()  # what the agent sent: no marker in it
    body = chat_body(f"head\n{MARKER}\ntail")  # what compression made of it
    a, f = run(body, original=client_bytes, outcome=SimpleNamespace(changed=True, drops={KEY: ORIGINAL}))
    assert [t["function"]["name"] for t in body["tools"]] == ["headroom_retrieve"]
    assert answered_by(f) == "response hook"


def test_a_marker_in_the_clients_own_bytes_is_found_too():
    body = chat_body(f"pasted earlier:\n{MARKER}")
    a, f = run(body, original=json.dumps(body).encode(), outcome=None)
    assert [t["function"]["name"] for t in body["tools"]] == ["headroom_retrieve"]


def test_no_marker_anywhere_stays_on_the_normal_path_on_the_fast_path():
    from types import SimpleNamespace

    body = chat_body("plain output")
    before = json.dumps(body)
    a, f = run(body, original=before.encode(), outcome=SimpleNamespace(changed=False, drops={}))
    assert json.dumps(body) == before and f.request.host == "api.openai.com"


def _retrieve_on(provider, host, path, body):
    async def go():
        a = Retrieve()
        with taddons.context(a):
            await a.running()
            try:
                a.store.put_many({KEY: ORIGINAL})
                f = tflow.tflow(req=tutils.treq(host=host, port=443, path=path.encode()))
                f.metadata[STATE_KEY] = LLMRequest(provider=provider, host=host, path=path, body=body)
                await a.request(f)
                return f
            finally:
                await a.done()

    return asyncio.run(go())


def test_cloud_code_assist_gets_the_tool_inside_its_wrapped_request():
    tools = [{"functionDeclarations": [{"name": "read_file", "parameters": {"type": "object"}}]}]
    body = {"model": "gemini-2.5-pro", "project": "p", "user_prompt_id": "u", "request": {
        "contents": [{"role": "user", "parts": [{"functionResponse": {"name": "x", "response": {"r": MARKER}}}]}],
        "tools": tools, "session_id": "s"}}
    f = _retrieve_on("code_assist", "cloudcode-pa.googleapis.com", "/v1internal:streamGenerateContent?alt=sse", body)
    assert answered_by(f) == "stream"
    assert "tools" not in body  # Google refuses an unknown top-level field
    assert get_provider("code_assist").tool_names(body["request"]["tools"]) == {"read_file", "headroom_retrieve"}


@pytest.mark.parametrize("config", [{"responseMimeType": "application/json"},
                                    {"responseSchema": {"type": "OBJECT"}},
                                    {"response_json_schema": {"type": "object"}}])
def test_a_json_mode_gemini_request_without_tools_gets_none(config):
    body = {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "x", "response": {"r": MARKER}}}]}],
            "generationConfig": config}
    before = json.dumps(body)
    f = _retrieve_on("gemini", "generativelanguage.googleapis.com", "/v1beta/models/g:generateContent", body)
    assert f.request.host == "generativelanguage.googleapis.com" and json.dumps(body) == before
    # With a function of its own the request already uses tools with JSON mode: the tool may join them.
    body["tools"] = [{"functionDeclarations": [{"name": "read_file"}]}]
    f = _retrieve_on("gemini", "generativelanguage.googleapis.com", "/v1beta/models/g:generateContent", body)
    assert answered_by(f) == "response hook" and len(body["tools"]) == 2


def claude_code_body(cached: bool) -> dict:
    system = {"type": "text", "text": "You are Claude Code."}
    if cached:
        system["cache_control"] = {"type": "ephemeral"}
    return {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True, "system": [system],
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
            "messages": [{"role": "user", "content": "fix the build"}]}


@pytest.mark.parametrize("mode, cached, arm, early", [
    ("first", True, "treatment", True),  # a cached conversation: the tool from its first request
    ("first", True, None, True),  # no holdout
    ("first", False, "treatment", False),  # no breakpoint: nothing to break, wait for a marker
    ("first", True, "control", False),  # the uncompressed arm never needs it
    ("marker", True, "treatment", False),  # HEADROOM_RETRIEVE_FROM=marker
])
def test_the_tool_from_the_first_request_of_a_cached_conversation(mode, cached, arm, early):
    from types import SimpleNamespace

    body = claude_code_body(cached)
    before = json.dumps(body)

    async def go():
        a = Retrieve()
        with taddons.context(a) as tctx:
            tctx.configure(a, headroom_retrieve_from=mode)
            await a.running()
            try:
                f = tflow.tflow(req=tutils.treq(host="api.anthropic.com", port=443, path=b"/v1/messages",
                                                content=before.encode()))
                f.request.scheme = "https"
                f.metadata[STATE_KEY] = LLMRequest(
                    provider="anthropic", host="api.anthropic.com", path="/v1/messages", body=body,
                    compress_arm=arm, outcome=None if arm == "control" else SimpleNamespace(changed=False, drops={}))
                await a.request(f)
                return a, f
            finally:
                await a.done()

    a, f = asyncio.run(go())
    names = [t["name"] for t in body["tools"]]
    if early:
        assert names == ["Bash", "headroom_retrieve"] and answered_by(f) == "stream"
    else:
        assert json.dumps(body) == before and f.request.host == "api.anthropic.com"


def test_retrieve_reads_the_store_intercept_writes_through_the_same_object(monkeypatch):
    """One store object: what Intercept wrote moments ago is `issued` from memory, with no read of the file
    (a second object on the same file knew nothing of it and ran a SELECT for every request with markers);
    and Retrieve leaves the store it did not open open."""
    from headroom.addon.intercept import Intercept
    from headroom.addon.sessions import Sessions

    async def go():
        intercept = Intercept(Sessions())
        a = Retrieve(intercept=intercept)
        with taddons.context(intercept, a):
            await a.running()
            store = intercept.shared_store()
            assert a.store is store
            store.put_many({KEY: ORIGINAL})
            monkeypatch.setattr(store, "_live_rows", lambda *args: pytest.fail("read the file for a key just written"))
            assert store.issued([KEY]) == {KEY}
            await a.done()
            monkeypatch.undo()
            assert store.get(KEY) == ORIGINAL  # still open for Intercept
    asyncio.run(go())
