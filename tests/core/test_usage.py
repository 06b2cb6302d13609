"""Provider-reported usage, from JSON bodies and from SSE streams cut anywhere and content-encoded."""
from __future__ import annotations

import gzip
import json
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from headroom.core.usage import Usage, UsageReader, usage_from_body, usage_from_json


def sse(events: list[dict | str], named: bool = False) -> bytes:
    out = []
    for e in events:
        data = e if isinstance(e, str) else json.dumps(e)
        if named and isinstance(e, dict) and "type" in e:
            out.append(f"event: {e['type']}\n")
        out.append(f"data: {data}\n\n")
    return "".join(out).encode()


OPENAI_CHAT_STREAM = sse([
    {"id": "c1", "model": "gpt-4o-2024-08-06", "choices": [{"delta": {"content": "héllo ✓"}}], "usage": None},
    {"id": "c1", "model": "gpt-4o-2024-08-06", "choices": [{"delta": {}, "finish_reason": "stop"}], "usage": None},
    {"id": "c1", "model": "gpt-4o-2024-08-06", "choices": [],
     "usage": {"prompt_tokens": 1200, "completion_tokens": 35, "prompt_tokens_details": {"cached_tokens": 1024}}},
    "[DONE]",
])
RESPONSES_STREAM = sse([
    {"type": "response.created", "response": {"model": "gpt-4.1", "usage": None}},
    {"type": "response.output_text.delta", "delta": "hi"},
    {"type": "response.completed", "response": {"model": "gpt-4.1", "output": [{"type": "message"}], "usage": {
        "input_tokens": 900, "input_tokens_details": {"cached_tokens": 512}, "output_tokens": 77,
        "output_tokens_details": {"reasoning_tokens": 40}}}},
], named=True)
ANTHROPIC_STREAM = sse([
    {"type": "message_start", "message": {"model": "claude-sonnet-4-5", "usage": {
        "input_tokens": 50, "cache_read_input_tokens": 3000, "cache_creation_input_tokens": 200, "output_tokens": 1}}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}},
    {"type": "message_stop"},
], named=True)
GEMINI_STREAM = sse([
    {"candidates": [{"content": {"parts": [{"text": "a"}]}}], "modelVersion": "gemini-2.5-flash",
     "usageMetadata": {"promptTokenCount": 700, "candidatesTokenCount": 3}},
    {"candidates": [{"content": {"parts": [{"text": "b"}]}}], "modelVersion": "gemini-2.5-flash",
     "usageMetadata": {"promptTokenCount": 700, "candidatesTokenCount": 9, "thoughtsTokenCount": 20,
                       "cachedContentTokenCount": 600}},
])

STREAMS = [
    ("openai_chat", OPENAI_CHAT_STREAM, Usage(1200, 1024, 0, 35, True), "gpt-4o-2024-08-06"),
    ("openai_responses", RESPONSES_STREAM, Usage(900, 512, 0, 77, True), "gpt-4.1"),
    ("anthropic", ANTHROPIC_STREAM, Usage(3250, 3000, 200, 42, True), "claude-sonnet-4-5"),
    ("gemini", GEMINI_STREAM, Usage(700, 600, 0, 29, True), "gemini-2.5-flash"),
]


@pytest.mark.parametrize("provider, body, expected, model", STREAMS)
def test_streams_whole(provider, body, expected, model):
    got, got_model = usage_from_body(provider, body, content_type="text/event-stream; charset=utf-8")
    assert got == expected
    assert got_model == model


@pytest.mark.parametrize("provider, body, expected, model", STREAMS)
def test_streams_one_byte_at_a_time_with_crlf(provider, body, expected, model):
    body = body.replace(b"\n", b"\r\n")
    r = UsageReader(provider, content_type="text/event-stream")
    for i in range(len(body)):
        r.feed(body[i:i + 1])
    assert r.finish() == expected


def _encode(body: bytes, enc: str) -> bytes:
    if enc == "gzip":
        return gzip.compress(body)
    if enc == "deflate":
        return zlib.compress(body)
    if enc == "br":
        return brotli.compress(body)
    if enc == "zstd":
        return zstandard.ZstdCompressor().compress(body)
    raise AssertionError(enc)


@pytest.mark.parametrize("enc", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("provider, body, expected, model", STREAMS)
def test_content_encoded_streams_in_chunks(provider, body, expected, model, enc):
    raw = _encode(body, enc)
    r = UsageReader(provider, content_encoding=enc, content_type="text/event-stream")
    for i in range(0, len(raw), 7):
        r.feed(raw[i:i + 7])
    assert r.finish() == expected


def test_raw_deflate_is_accepted():
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = c.compress(OPENAI_CHAT_STREAM) + c.flush()
    got, _ = usage_from_body("openai_chat", raw, content_type="text/event-stream", content_encoding="deflate")
    assert got.input == 1200


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(ANTHROPIC_STREAM)), max_size=30))
def test_any_split_gives_the_same_usage(cuts):
    r = UsageReader("anthropic", content_type="text/event-stream")
    bounds = sorted(set([0, len(ANTHROPIC_STREAM), *cuts]))
    for a, b in zip(bounds, bounds[1:]):
        r.feed(ANTHROPIC_STREAM[a:b])
    assert r.finish() == Usage(3250, 3000, 200, 42, True)


@pytest.mark.parametrize(
    "provider, obj, expected",
    [
        ("openai_chat", {"model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": 2}},
         Usage(10, 0, 0, 2, True)),
        ("openai_responses", {"object": "response", "usage": {"input_tokens": 5, "output_tokens": 1,
                                                              "input_tokens_details": {"cached_tokens": 4}}},
         Usage(5, 4, 0, 1, True)),
        ("anthropic", {"type": "message", "usage": {"input_tokens": 7, "output_tokens": 3,
                                                    "cache_read_input_tokens": 100,
                                                    "cache_creation_input_tokens": None}},
         Usage(107, 100, 0, 3, True)),
        ("gemini", {"usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 4,
                                      "toolUsePromptTokenCount": 2}}, Usage(13, 0, 0, 4, True)),
    ],
)
def test_json_bodies(provider, obj, expected):
    assert usage_from_json(provider, obj) == expected
    got, _ = usage_from_body(provider, json.dumps(obj).encode(), content_type="application/json")
    assert got == expected


def test_gemini_json_array_stream():
    body = json.dumps([{"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}},
                       {"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 8}}]).encode()
    assert usage_from_body("gemini", body, content_type="application/json")[0] == Usage(3, 0, 0, 8, True)


def test_anthropic_message_delta_with_input_fields_overrides_start():
    body = sse([
        {"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}},
        {"type": "message_delta", "usage": {"input_tokens": 12, "cache_read_input_tokens": 5, "output_tokens": 9}},
    ])
    assert usage_from_body("anthropic", body, content_type="text/event-stream")[0] == Usage(17, 5, 0, 9, True)


def test_sse_without_content_type_still_read():
    assert usage_from_body("openai_chat", OPENAI_CHAT_STREAM)[0].input == 1200


@pytest.mark.parametrize("body", [b"", b"not json", b"{\"usage\": \"nope\"}", b"\xff\xfe garbage", b"[1, 2]"])
def test_garbage_gives_unreported_usage(body):
    got, _ = usage_from_body("openai_chat", body, content_type="application/json")
    assert got == Usage() and not got.reported


def test_corrupt_encoding_stops_reading_without_raising():
    r = UsageReader("openai_chat", content_encoding="gzip", content_type="text/event-stream")
    r.feed(b"definitely not gzip")
    assert r.broken and r.finish() == Usage()


def test_unknown_encoding_is_reported_not_raised():
    r = UsageReader("openai_chat", content_encoding="compress", content_type="text/event-stream")
    r.feed(OPENAI_CHAT_STREAM)
    assert "compress" in r.broken and r.finish() == Usage()


GEMINI_FINISHED = GEMINI_STREAM + sse([{"candidates": [{"content": {"parts": [{"text": "c"}]}, "finishReason": "STOP"}],
                                        "usageMetadata": {"promptTokenCount": 700, "candidatesTokenCount": 10}}])
CODE_ASSIST_FINISHED = sse([{"response": json.loads(line[6:]), "traceId": "t"}
                            for line in GEMINI_FINISHED.decode().splitlines() if line.startswith("data: ")])
ENDED = [("openai_chat", OPENAI_CHAT_STREAM), ("openai_responses", RESPONSES_STREAM), ("anthropic", ANTHROPIC_STREAM),
         ("gemini", GEMINI_FINISHED), ("code_assist", CODE_ASSIST_FINISHED)]


@pytest.mark.parametrize("provider, body", ENDED)
def test_the_final_event_marks_the_stream_ended_and_nothing_before_it(provider, body):
    events = body.split(b"\n\n")[:-1]
    r = UsageReader(provider, content_type="text/event-stream")
    for ev in events[:-1]:
        r.feed(ev + b"\n\n")
        assert not r.ended
    r.feed(events[-1] + b"\n")
    assert not r.ended  # the event is not whole until its blank line
    r.feed(b"\n")
    assert r.ended


def test_a_gemini_stream_without_a_finish_reason_has_not_ended():
    r = UsageReader("gemini", content_type="text/event-stream")
    r.feed(GEMINI_STREAM)
    r.finish()
    assert not r.ended
