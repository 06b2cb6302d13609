"""Intercept and Encode without a network (mitmproxy.test): what leaves the proxy for each kind of body."""
from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.net import encoding as mencoding
from mitmproxy.test import taddons, tflow, tutils

import headroom.core.pipeline as pipeline
from headroom.addon.intercept import HEADERS_KEY, LLM_HOST_KEY, Encode, Intercept
from headroom.addon.state import state_of
from headroom.core.markers import find_markers
from headroom.settings import Settings
from headroom.storage.store import open_store

# Runs of identical lines: every compressor, down to the lossless one, must shrink this.
LOG = "job started\n" + "INFO worker heartbeat ok\n" * 400 + "2026-11-24T04:07:00 ERROR disk full on /var"


def chat(tool_output: str = LOG, **extra) -> dict:
    return {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "why did the job die?"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": tool_output},
        ],
        **extra,
    }


def make_flow(content: bytes | None, *, host: str = "api.openai.com", path: str = "/v1/chat/completions",
              method: str = "POST", headers: dict | None = None, raw: bytes | None = None) -> http.HTTPFlow:
    req = http.Request.make(method, f"https://{host}{path}", b"", {"content-type": "application/json"})
    req.headers.update(headers or {})  # after make(): it drops a Content-Encoding it cannot apply
    if raw is not None:
        req.raw_content = raw
    elif content is not None:
        req.content = content  # encoded with the request's Content-Encoding, as a client would send it
    if req.raw_content is not None:
        req.headers["content-length"] = str(len(req.raw_content))
    return tflow.tflow(req=req)


def run_hooks(flow: http.HTTPFlow, *, intercept: Intercept | None = None, **options) -> tuple[Intercept, Encode]:
    """Run Intercept.request then Encode.request on `flow`, as the proxy does."""
    a = intercept or Intercept()
    e = Encode()
    # The 2 s budget is wall-clock: on a loaded 2-core machine a test that is not about the budget must not
    # fail open on it. The tests of the budget set their own.
    options.setdefault("headroom_compress_timeout_ms", 60_000)

    async def go():
        with taddons.context(a, e) as tctx:
            tctx.configure(a, **options)
            await a.request(flow)
            await e.request(flow)
            # Runs the addons' done hooks and removes the master's log handler, which would otherwise
            # outlive this event loop and break logging in the next test.
            await tctx.master.done()

    asyncio.run(go())
    return a, e


def test_tool_output_is_compressed_and_the_rest_is_kept():
    body = chat()
    flow = make_flow(json.dumps(body, indent=2).encode())
    run_hooks(flow)
    st = state_of(flow)
    assert st.provider == "openai_chat" and st.modified and st.fail_open is None
    sent = json.loads(flow.request.content)
    assert sent["messages"][:3] == body["messages"][:3]
    out = sent["messages"][3]["content"]
    assert "ERROR disk full on /var" in out and len(out) < len(LOG)
    assert st.outcome.tokens_after < st.outcome.tokens_before
    # Written back in the client's own style (here pretty-printed), exact Content-Length.
    assert flow.request.raw_content == json.dumps(sent, indent=2).encode()
    assert flow.request.headers["content-length"] == str(len(flow.request.raw_content))


def test_drops_are_in_the_store_before_the_request_goes_on(monkeypatch):
    from headroom.core.compressors import Compressed
    from headroom.core.markers import make_marker

    def drop_info(text, ctx, floor=None):
        kept = [ln for ln in text.split("\n") if "INFO" not in ln]
        dropped = "\n".join(ln for ln in text.split("\n") if "INFO" in ln)
        marker, key = make_marker("INFO lines omitted", dropped)
        return Compressed("\n".join([*kept, marker]), "logs", "drop_info", {key: dropped})

    monkeypatch.setattr(pipeline, "compress_text", drop_info)
    flow = make_flow(json.dumps(chat()).encode())
    run_hooks(flow)
    (marker,) = find_markers(json.loads(flow.request.content)["messages"][3]["content"])
    assert open_store().get(marker.key) == "INFO worker heartbeat ok\n" * 399 + "INFO worker heartbeat ok"


def test_an_untouched_body_keeps_its_exact_bytes():
    raw = json.dumps(chat("tiny"), indent=3).encode() + b"\n\n"
    flow = make_flow(raw)
    run_hooks(flow)
    st = state_of(flow)
    assert st is not None and not st.modified and st.body["model"] == "gpt-4o"
    assert flow.request.raw_content == raw


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
def test_content_encoded_bodies_are_decoded_and_re_encoded_the_same_way(enc):
    flow = make_flow(json.dumps(chat()).encode(), headers={"content-encoding": enc})
    original = flow.request.raw_content
    run_hooks(flow)
    assert state_of(flow).modified
    assert flow.request.headers["content-encoding"] == enc
    assert flow.request.raw_content != original
    sent = json.loads(mencoding.decode(flow.request.raw_content, enc))
    assert "ERROR disk full" in sent["messages"][3]["content"]
    assert flow.request.headers["content-length"] == str(len(flow.request.raw_content))


@pytest.mark.parametrize("raw,headers,kind", [
    (b'{"model": "gpt-4o", "messages": [', {}, "not json"),
    (b"\xff\xfe\x00garbage \x80\x81", {}, "not json"),
    (b"[1, 2, 3]", {}, "unknown shape"),
    (b"not gzip at all", {"content-encoding": "gzip"}, "content-encoding"),
    (gzip.compress(b"{}"), {"content-encoding": "compress"}, "content-encoding"),
])
def test_bad_bodies_fail_open_byte_identical(raw, headers, kind, caplog):
    a = Intercept()
    for _ in range(2):
        flow = make_flow(None, raw=raw, headers=headers)
        with caplog.at_level(logging.WARNING, logger="headroom.intercept"):
            run_hooks(flow, intercept=a)
        assert flow.request.raw_content == raw
        assert state_of(flow).fail_open == kind and not state_of(flow).modified
    assert a.failures[kind] == 2
    assert len([r for r in caplog.records if kind in r.getMessage()]) == 1  # logged once per kind


def test_a_decompression_bomb_is_forwarded_as_it_came():
    """A few KB of zstd that decode to more than any provider accepts: decoding stops at the bound, the
    original bytes go upstream (the bound's memory is measured in tests/core/test_encoding.py)."""
    import zstandard

    from headroom.core.encoding import MAX_BODY_BYTES

    raw = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(MAX_BODY_BYTES + 1))
    assert len(raw) < 100_000
    flow = make_flow(None, raw=raw, headers={"content-encoding": "zstd"})
    run_hooks(flow)
    assert flow.request.raw_content == raw and state_of(flow).fail_open == "too large"


def test_a_lone_surrogate_in_a_tool_output_is_compressed_not_failed_open():
    """A JavaScript agent cutting a string mid-emoji sends `\\ud83d` alone: the tokenizer refused it, the
    request failed open, and every later turn too (the history is resent). It compresses now, and the
    surrogate escape goes upstream as the client sent it."""
    cut = LOG[: len(LOG) // 2] + "\ud83d" + LOG[len(LOG) // 2:]
    raw = json.dumps(chat(cut)).encode()
    assert b"\\ud83d" in raw
    flow = make_flow(None, raw=raw)
    run_hooks(flow)
    st = state_of(flow)
    assert st.fail_open is None and st.modified
    sent = flow.request.raw_content
    assert b"\\ud83d" in sent and len(sent) < len(raw) / 2
    assert "\ud83d" in json.loads(sent)["messages"][3]["content"]


def test_a_compressor_exception_fails_open(monkeypatch):
    def boom(text, ctx, floor=None):
        raise RuntimeError("compressor bug")

    monkeypatch.setattr(pipeline, "compress_text", boom)
    raw = json.dumps(chat()).encode()
    flow = make_flow(raw)
    a, _ = run_hooks(flow)
    assert flow.request.raw_content == raw
    assert state_of(flow).fail_open == "error RuntimeError" and a.failures["error RuntimeError"] == 1


def test_a_compression_past_its_budget_stores_nothing(monkeypatch):
    """Issue 15 item 9: a compression that finished after its request went on uncompressed still wrote its
    drops (~45 MB from two 11 MB requests), retrievable by markers nobody was sent."""
    from headroom.core.compressors import Compressed
    from headroom.core.markers import make_marker

    finished = threading.Event()

    def slow(text, ctx, floor=None):
        time.sleep(0.3)
        marker, key = make_marker("everything", text)
        finished.set()
        return Compressed(marker, "text", "slow", {key: text})

    monkeypatch.setattr(pipeline, "compress_text", slow)
    flow = make_flow(json.dumps(chat()).encode())
    a = Intercept()
    pool = a._executor()
    run_hooks(flow, intercept=a, headroom_compress_timeout_ms=50)
    assert state_of(flow).fail_open == "timeout"
    pool.shutdown(wait=True)  # the one tool output's compression ran to its end after the request went on
    assert finished.is_set() and open_store().stats()["drops"] == 0


def _no_worker(monkeypatch, a: Intercept) -> None:
    """Make any hand-off to Intercept's worker pool fail the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("handed to a worker thread")
    monkeypatch.setattr(a._executor(), "submit", refuse)


# A log compression drops runs of (under the inline size, so the store is written).
HEARTBEATS = "".join(f"2026-11-24 04:{j % 60:02d}:00 INFO worker-{j % 7} heartbeat seq={j}\n" for j in range(300)) \
    + "2026-11-24 05:00:00 ERROR disk full\n"


def test_a_small_body_is_compressed_on_the_loop_and_its_drops_stored_first(monkeypatch):
    from headroom.addon.intercept import INLINE_MAX_BYTES

    raw = json.dumps(chat("x\n" + HEARTBEATS)).encode()
    assert len(raw) < INLINE_MAX_BYTES
    threaded = make_flow(raw)
    run_hooks(threaded)  # a new Intercept: its store is not open yet, so this one goes to a worker
    before = state_of(threaded).outcome
    assert before.drops
    pipeline.clear_cache()
    a = Intercept()
    run_hooks(make_flow(json.dumps(chat(HEARTBEATS)).encode()), intercept=a)  # opens the store (in a worker)
    a._store.close()  # forgets what it wrote: the next body's drops must be written again, by a worker
    inline = make_flow(raw)
    run_hooks(inline, intercept=a)
    assert inline.request.raw_content == threaded.request.raw_content  # the same bytes either way
    assert state_of(inline).outcome.drops == before.drops
    assert all(open_store().get(k) == v for k, v in before.drops.items())
    # Sent again at once: its drops were just written, so nothing goes to a worker.
    _no_worker(monkeypatch, a)
    again = make_flow(raw)
    run_hooks(again, intercept=a)
    assert again.request.raw_content == threaded.request.raw_content and not state_of(again).fail_open


def test_on_the_loop_past_the_time_budget_the_original_goes(monkeypatch):
    from headroom.core.compressors import Compressed

    a = Intercept()
    run_hooks(make_flow(json.dumps(chat(HEARTBEATS)).encode()), intercept=a)  # opens the store: the next is inline
    _no_worker(monkeypatch, a)

    def slow(text, ctx, floor=None):
        time.sleep(0.1)
        return Compressed("x", "text", "slow")

    monkeypatch.setattr(pipeline, "compress_text", slow)
    raw = json.dumps(chat("y\n" + HEARTBEATS)).encode()
    flow = make_flow(raw)
    run_hooks(flow, intercept=a, headroom_compress_timeout_ms=50)
    assert state_of(flow).fail_open == "timeout" and flow.request.raw_content == raw


def test_past_the_time_budget_the_original_goes(monkeypatch):
    from headroom.core.compressors import Compressed

    def slow(text, ctx, floor=None):
        time.sleep(0.3)
        return Compressed("x", "text", "slow")

    monkeypatch.setattr(pipeline, "compress_text", slow)
    raw = json.dumps(chat()).encode()
    flow = make_flow(raw)
    t0 = time.monotonic()
    run_hooks(flow, headroom_compress_timeout_ms=50)
    assert time.monotonic() - t0 < 0.3 + 0.25  # the hook returned at the budget, not after the work
    assert state_of(flow).fail_open == "timeout" and flow.request.raw_content == raw


def test_the_holdout_arm_is_assigned_on_the_loop_even_when_compression_times_out(monkeypatch):
    from headroom.core.compressors import Compressed

    raw = json.dumps(chat()).encode()
    control = make_flow(raw)
    run_hooks(control, headroom_compress_holdout=1.0)  # every conversation is the control group
    st = state_of(control)
    assert (st.compress_arm, st.outcome, st.body, st.modified) == ("control", None, None, False)
    assert control.request.raw_content == raw

    def slow(text, ctx, floor=None):
        time.sleep(0.3)
        return Compressed("x", "text", "slow")

    monkeypatch.setattr(pipeline, "compress_text", slow)
    late = make_flow(raw)
    run_hooks(late, headroom_compress_holdout=1e-12, headroom_compress_timeout_ms=50)
    st = state_of(late)
    assert (st.compress_arm, st.fail_open, st.outcome) == ("treatment", "timeout", None)  # counted in its arm all the same
    assert late.request.raw_content == raw


def test_bypass_header_skips_and_all_headroom_headers_are_stripped():
    raw = json.dumps(chat()).encode()
    flow = make_flow(raw, headers={"x-headroom-bypass": "1", "X-Headroom-Session": "abc", "x-other": "kept"})
    run_hooks(flow)
    st = state_of(flow)
    assert st.bypass and not st.modified and flow.request.raw_content == raw
    assert not [k for k in flow.request.headers if k.lower().startswith("x-headroom-")]
    assert flow.request.headers["x-other"] == "kept"
    assert {k.lower() for k in flow.metadata[HEADERS_KEY]} == {"x-headroom-bypass", "x-headroom-session"}


def test_no_compress_option_forwards_untouched():
    raw = json.dumps(chat()).encode()
    flow = make_flow(raw)
    run_hooks(flow, headroom_compress=False)
    assert state_of(flow) is not None and not state_of(flow).modified and flow.request.raw_content == raw


@pytest.mark.parametrize("host,path,method", [
    ("example.com", "/v1/chat/completions", "POST"),  # not an LLM host
    ("api.anthropic.com", "/v1/messages/count_tokens", "POST"),
    ("api.openai.com", "/v1/models", "GET"),
    ("api.openai.com", "/v1/responses/compact", "POST"),
    ("bedrock-runtime.us-east-1.amazonaws.com", "/model/x/invoke", "POST"),
])
def test_other_requests_pass_byte_identical_without_state(host, path, method):
    raw = json.dumps(chat()).encode()
    flow = make_flow(raw, host=host, path=path, method=method, headers={"x-headroom-bypass": "0"})
    run_hooks(flow)
    assert state_of(flow) is None and flow.request.raw_content == raw
    if host == "example.com":  # a non-LLM host is not ours to edit, not even its headers
        assert LLM_HOST_KEY not in flow.metadata and "x-headroom-bypass" in flow.request.headers


def test_websocket_upgrade_is_left_alone():
    raw = json.dumps(chat()).encode()
    flow = make_flow(raw, path="/v1/responses", headers={"upgrade": "websocket", "connection": "Upgrade"})
    run_hooks(flow)
    assert state_of(flow) is None and flow.request.raw_content == raw


# What Codex 0.169 sends to open its Responses WebSocket (less its ids and key).
CODEX_WS = {"upgrade": "websocket", "connection": "Upgrade", "sec-websocket-version": "13",
            "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)",
            "originator": "codex_exec", "openai-beta": "responses_websockets=2026-02-06"}


@pytest.mark.parametrize("host,path", [("api.openai.com", "/v1/responses"),
                                       ("chatgpt.com", "/backend-api/codex/responses"),
                                       ("api.openai.com", "/v1/responses?client=codex")])
def test_responses_websocket_upgrade_is_refused_with_426_so_codex_uses_https(host, path):
    # Codex's preferred transport; over a WebSocket nothing would be compressed or retrievable. A 426 (and
    # only a 426) makes it fall back to HTTPS at once; the proxy answers it itself, nothing goes upstream.
    flow = make_flow(None, host=host, path=path, method="GET", headers=CODEX_WS)
    run_hooks(flow)
    assert flow.response is not None and flow.response.status_code == 426
    assert json.loads(flow.response.content)["error"]["code"] == "websocket_not_supported"
    assert state_of(flow) is None


@pytest.mark.parametrize("host,path,headers,options", [
    ("api.openai.com", "/v1/realtime", CODEX_WS, {}),  # not a Responses path: its own protocol
    ("example.com", "/v1/responses", CODEX_WS, {}),  # not an LLM host
    ("api.openai.com", "/v1/responses", CODEX_WS, {"headroom_responses_websocket": "pass"}),
    ("api.openai.com", "/v1/responses", CODEX_WS, {"headroom_compress": False}),  # a pure gateway has no reason
    # Another client may have no HTTPS fallback: refusing it would break it (fail open).
    ("api.openai.com", "/v1/responses", {"upgrade": "websocket", "connection": "Upgrade",
                                         "user-agent": "OpenAI/Python 2.3.0"}, {}),
])
def test_other_websocket_upgrades_pass(host, path, headers, options):
    flow = make_flow(None, host=host, path=path, method="GET", headers=headers)
    run_hooks(flow, **options)
    assert flow.response is None and state_of(flow) is None


def test_responses_websocket_mode_from_the_environment():
    from mitmproxy import exceptions

    # The CLI reads the variable into Settings and hands the addon its option.
    mode = Settings.from_env({"HEADROOM_RESPONSES_WEBSOCKET": "pass"}).options()["headroom_responses_websocket"]
    flow = make_flow(None, path="/v1/responses", method="GET", headers=CODEX_WS)
    run_hooks(flow, headroom_responses_websocket=mode)
    assert flow.response is None
    with pytest.raises(exceptions.OptionsError, match="sometimes"):  # the option takes http or pass only
        run_hooks(make_flow(None, path="/v1/responses", method="GET"), headroom_responses_websocket="sometimes")


@pytest.mark.parametrize("headers", [{"originator": "codex_cli_rs"}, {"originator": "Codex Desktop"},
                                     {"user-agent": "codex_vscode/0.169.0"}, {"x-codex-window-id": "w:0"}])
def test_every_codex_client_is_recognised(headers):
    flow = make_flow(None, path="/v1/responses", method="GET", headers={"upgrade": "websocket", **headers})
    run_hooks(flow)
    assert flow.response.status_code == 426


def test_a_bad_responses_websocket_value_is_reported_when_the_proxy_starts(headroom_home):
    from tests.support.proxy import launch_proxy

    s = Settings.from_env({"HEADROOM_RESPONSES_WEBSOCKET": "sometimes"})
    assert s.responses_websocket == "http"  # the safe default
    assert s.warnings == ("HEADROOM_RESPONSES_WEBSOCKET='sometimes' is not http or pass; using http",)
    p = launch_proxy(None, headroom_home, env={"HEADROOM_RESPONSES_WEBSOCKET": "sometimes", "HEADROOM_COMPRESS": "0"})
    try:
        assert "headroom: HEADROOM_RESPONSES_WEBSOCKET='sometimes' is not http or pass; using http" in p.stderr_text()
    finally:
        p.stop()


def test_extra_hosts_option_makes_a_host_ours():
    flow = make_flow(json.dumps(chat()).encode(), host="llm.corp.example")
    run_hooks(flow, headroom_extra_hosts=["llm.corp.example"])
    assert state_of(flow).modified


def _response_flow(headers: dict, streaming_request: bool = False) -> tuple[http.HTTPFlow, Intercept]:
    body = chat(stream=True) if streaming_request else chat()
    flow = make_flow(json.dumps(body).encode())
    a, _ = run_hooks(flow)
    flow.response = tutils.tresp(headers=http.Headers(**{k.replace("-", "_"): v for k, v in headers.items()}),
                                 content=None)
    return flow, a


@pytest.mark.parametrize("headers,streaming_request,expected", [
    ({"content-type": "text/event-stream"}, False, True),
    ({"content-type": "application/json"}, True, True),
    ({"content-type": "application/json", "transfer-encoding": "chunked"}, False, True),
    ({"content-type": "application/json", "content-length": "120"}, False, False),
])
def test_llm_responses_stream(headers, streaming_request, expected):
    flow, a = _response_flow(headers, streaming_request)
    assert flow.response.stream is False
    a.responseheaders(flow)
    assert flow.response.stream is expected


def test_a_stream_callable_set_by_another_addon_is_kept():
    flow, a = _response_flow({"content-type": "text/event-stream"})

    def watcher(chunk: bytes) -> bytes:
        return chunk

    flow.response.stream = watcher
    a.responseheaders(flow)
    assert flow.response.stream is watcher


def test_non_llm_responses_are_not_touched():
    flow = tflow.tflow(resp=True)
    Intercept().responseheaders(flow)
    assert flow.response.stream is False


_COMPACT_CHAT = json.dumps(chat(), ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("raw", [
    _COMPACT_CHAT.replace('"model":"gpt-4o"', '"model":"gpt-4o","model":"gpt-4o-mini"').encode(),  # duplicate key
    _COMPACT_CHAT.replace('"model":"gpt-4o"', '"model":"gpt-4o","temperature":1e400').encode(),  # read as inf
    _COMPACT_CHAT.replace('"model":"gpt-4o"', '"model":"gpt-4o","temperature":1.0E0').encode(),  # read as 1.0
    _COMPACT_CHAT.replace('"be brief"', '"be\\/brief"').encode(),  # an escape no serialiser writes
    b"\xef\xbb\xbf" + _COMPACT_CHAT.encode(),  # a UTF-8 byte-order mark
    _COMPACT_CHAT.encode("utf-16"),  # UTF-16, which JSON parsers accept
], ids=["duplicate-key", "1e400", "1.0E0", "escaped-slash", "bom", "utf-16"])
def test_a_body_the_parse_would_change_outside_tool_outputs_goes_out_as_received(raw):
    """Issue 15 item 10: once a tool output was compressed, re-serialising collapsed duplicate keys, wrote
    1e400 as the invalid `Infinity`, re-encoded UTF-16 as UTF-8, dropped a BOM. Outside the tool outputs a
    body must leave byte-identical: one the client's style cannot write back is forwarded untouched."""
    flow = make_flow(None, raw=raw)
    run_hooks(flow)
    assert flow.request.raw_content == raw
    st = state_of(flow)
    assert not st.modified and st.fail_open == "json style"


@pytest.mark.parametrize("dump", [
    lambda b: json.dumps(b, ensure_ascii=False, separators=(",", ":")),  # JSON.stringify, serde_json, httpx
    lambda b: json.dumps(b),  # Python's defaults
    lambda b: json.dumps(b, indent=2),  # pretty-printed
], ids=["compact", "python-default", "indent-2"])
def test_everything_outside_the_tool_output_leaves_byte_identical(dump):
    body = chat(extra_unicode="café ünïcödé \u2028", temperature=0.7, top_p=1)
    body["messages"][0]["content"] = "be brief: naïve résumé"
    raw = dump(body).encode()
    flow = make_flow(None, raw=raw)
    run_hooks(flow)
    st = state_of(flow)
    assert st.modified and st.fail_open is None
    sent = json.loads(flow.request.raw_content)
    assert sent["messages"][3]["content"] != body["messages"][3]["content"]
    # The compressed body, written as the client writes JSON, with the client's own tool output put back,
    # is the client's bytes exactly.
    sent["messages"][3]["content"] = body["messages"][3]["content"]
    assert dump(sent).encode() == raw
    assert flow.request.raw_content == dump(json.loads(flow.request.raw_content)).encode()


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    _json_value.map(lambda v: json.dumps(v).encode()),
    st.lists(st.text(max_size=40), max_size=5).map(
        lambda outs: json.dumps(chat("\n".join(outs) + "\nsame\nsame\nsame\nsame")).encode()),
))
def test_property_bytes_are_either_untouched_or_a_valid_rewrite(raw):
    flow = make_flow(None, raw=raw)
    run_hooks(flow)
    st_ = state_of(flow)
    if st_.modified:
        sent = json.loads(flow.request.raw_content)
        original = json.loads(raw)
        assert [m for m in sent["messages"] if m.get("role") != "tool"] == \
            [m for m in original["messages"] if m.get("role") != "tool"]
    else:
        assert flow.request.raw_content == raw


WARM_UP_SCRIPT = """
import sys
from mitmproxy.test import taddons
from headroom.addon.intercept import Intercept
a = Intercept()
with taddons.context(a) as tctx:
    tctx.configure(a, headroom_compress={compress})
    a.running()
    a.models.wait(60)
from headroom.core import relevance, tokens
print(relevance.loaded() and tokens.loaded() and "onnxruntime" not in sys.modules, a.models.started)
"""


@pytest.mark.parametrize("compress", [True, False])
def test_running_warms_the_compressor_only_when_compressing(compress):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", WARM_UP_SCRIPT.format(compress=compress)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # A pure gateway (--no-compress) loads no model; a compressing proxy loads them at start (onnxruntime in
    # the model's own process, never imported by the proxy's).
    assert out.stdout.split() == [str(compress), str(compress)]
