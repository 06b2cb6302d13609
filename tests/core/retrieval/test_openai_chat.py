"""OpenAI Chat: the retrieve call is hidden from the client, answered, continued, and spliced back."""
from __future__ import annotations

import json

from headroom.core import retrieval
from headroom.core.markers import key_for, make_marker
from headroom.core.retrieval.sse import SSEParser
from tests.core.retrieval.helpers import R, Relay, chat_events, chat_json, make_original

ORIG = make_original()
KEY = key_for(ORIG)
MARKER, _ = make_marker("61 lines omitted", ORIG)


def body():
    return {"model": "m", "stream": True, "messages": [
        {"role": "user", "content": "why did the job fail?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "read_log", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c0", "content": f"start\n{MARKER}\nend"}]}


def client_view(events):
    """What the OpenAI SDK would accumulate from the chunks."""
    text, calls, finish, usage = "", {}, None, None
    for ev in events:
        obj = ev.json()
        if not obj:
            continue
        usage = obj.get("usage") or usage
        for ch in obj.get("choices") or []:
            d = ch.get("delta") or {}
            text += d.get("content") or ""
            for tc in d.get("tool_calls") or []:
                c = calls.setdefault(tc["index"], {"id": None, "name": "", "arguments": ""})
                c["id"] = tc.get("id") or c["id"]
                c["name"] += (tc.get("function") or {}).get("name") or ""
                c["arguments"] += (tc.get("function") or {}).get("arguments") or ""
            finish = ch.get("finish_reason") or finish
    return text, calls, finish, usage


def test_stream_hides_call_and_continues_with_exact_original():
    b = body()
    relay = Relay("openai_chat", b, {KEY: ORIG})
    out = relay.stream([chat_events("Let me look. ", [("call_r", R, {"key": KEY})], usage=(100, 7)),
                        chat_events("The disk was full.", cid="chatcmpl-B", created=2, usage=(900, 6))])
    raw = b"".join(e.raw for e in out)
    assert R.encode() not in raw and b"call_r" not in raw
    text, calls, finish, usage = client_view(out)
    assert (text, calls, finish) == ("Let me look. The disk was full.", {}, "stop")
    assert usage["prompt_tokens"] == 1000 and usage["completion_tokens"] == 13
    assert {e.json()["id"] for e in out if e.json()} == {"chatcmpl-A"}  # one coherent response
    assert raw.count(b"[DONE]") == 1
    (cont,) = relay.sent
    assert cont["messages"][:3] == b["messages"]
    assert cont["messages"][3]["tool_calls"][0]["function"] == {"name": R, "arguments": json.dumps({"key": KEY})}
    assert cont["messages"][3]["content"] == "Let me look. "
    assert cont["messages"][4] == {"role": "tool", "tool_call_id": "call_r", "content": ORIG}
    assert b["messages"][-1]["role"] == "tool" and len(b["messages"]) == 3  # input untouched


def test_text_before_the_call_is_passed_on_before_the_round_ends():
    relay = Relay("openai_chat", body(), {KEY: ORIG})
    first = chat_events("Checking the log now.", [("call_r", R, {"key": KEY})])
    got = []
    for ev in first:
        got += relay.ex.feed(ev)
        if ev.json() and (ev.json()["choices"] or [{}])[0].get("delta", {}).get("tool_calls"):
            break
    assert client_view(got)[0] == "Checking the log now."


def test_no_call_passes_every_event_byte_identical():
    relay = Relay("openai_chat", body(), {})
    evs = chat_events("plain answer")
    out = relay.stream([evs])
    assert [e.raw for e in out] == [e.raw for e in evs]
    assert relay.record() is None


def test_mixed_calls_reach_client_reindexed_and_splice_next_turn():
    b = body()
    prev_fp = retrieval.prev_fingerprint("openai_chat", b)
    relay = Relay("openai_chat", b, {KEY: ORIG}, prev_fp=prev_fp)
    out = relay.stream([chat_events("", [("call_r", R, {"key": KEY}), ("call_b", "bash", {"cmd": "df -h"})])])
    text, calls, finish, _ = client_view(out)
    assert calls == {0: {"id": "call_b", "name": "bash", "arguments": json.dumps({"cmd": "df -h"})}}
    assert finish == "tool_calls" and relay.sent == []
    fp, rec = relay.record()
    # The client's next turn: its view of the assistant message, then the bash result.
    nxt = dict(b, messages=b["messages"] + [
        {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
            {"id": "call_b", "type": "function", "function": {"name": "bash", "arguments": json.dumps({"cmd": "df -h"})}}]},
        {"role": "tool", "tool_call_id": "call_b", "content": "/ 100%"}])
    assert retrieval.splice("openai_chat", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    msgs = nxt["messages"]
    assert [c["id"] for c in msgs[3]["tool_calls"]] == ["call_r", "call_b"]
    assert msgs[4] == {"role": "tool", "tool_call_id": "call_r", "content": ORIG}
    assert msgs[5]["tool_call_id"] == "call_b"


def test_next_turn_begins_with_the_continuation_history():
    b = body()
    prev_fp = retrieval.prev_fingerprint("openai_chat", b)
    relay = Relay("openai_chat", b, {KEY: ORIG}, prev_fp=prev_fp)
    out = relay.stream([chat_events("", [("call_r", R, {"key": KEY})]), chat_events("Disk full.")])
    fp, rec = relay.record()
    text = client_view(out)[0]
    nxt = dict(b, messages=b["messages"] + [{"role": "assistant", "content": text},
                                            {"role": "user", "content": "fix it"}])
    retrieval.splice("openai_chat", nxt, lambda fps: {fp: rec} if fp in fps else {})
    cont = relay.sent[-1]["messages"]
    assert nxt["messages"][:len(cont)] == cont
    assert json.dumps(nxt["messages"][:len(cont)]) == json.dumps(cont)
    assert nxt["messages"][len(cont):] == [{"role": "assistant", "content": "Disk full."},
                                           {"role": "user", "content": "fix it"}]


def test_unknown_key_gets_a_plain_tool_result():
    relay = Relay("openai_chat", body(), {})
    relay.stream([chat_events("", [("call_r", R, {"key": "00000000000000aa"})]), chat_events("ok")])
    assert "nothing is stored under key 00000000000000aa" in relay.sent[0]["messages"][-1]["content"]


def test_rounds_are_bounded_and_last_round_forbids_tools():
    relay = Relay("openai_chat", body(), {KEY: ORIG})
    call = chat_events("", [("c", R, {"key": KEY})])
    relay.stream([call, call, call, chat_events("done")])
    assert len(relay.sent) == retrieval.MAX_ROUNDS
    assert relay.sent[-1]["tool_choice"] == "none" and "tool_choice" not in relay.sent[0]


def test_non_streaming():
    b = dict(body(), stream=False)
    relay = Relay("openai_chat", b, {KEY: ORIG})
    final = relay.json([chat_json(None, [("call_r", R, {"key": KEY})], usage=(100, 7)), chat_json("Disk full.", usage=(900, 5))])
    msg = final["choices"][0]["message"]
    assert msg == {"role": "assistant", "content": "Disk full.", "refusal": None}
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["usage"]["prompt_tokens"] == 1000
    assert relay.sent[0]["messages"][-1]["content"] == ORIG


def test_parser_keeps_crlf_streams_working():
    raw = b"".join(e.raw.replace(b"\n", b"\r\n") for e in chat_events("", [("c", R, {"key": KEY})]))
    relay = Relay("openai_chat", body(), {KEY: ORIG})
    for ev in SSEParser().feed(raw):
        relay.ex.feed(ev)
    assert [c.call_id for c in relay.ex.end_round()] == ["c"]


def test_splice_when_the_client_re_ids_calls_and_sends_content_as_parts():
    b = body()
    relay = Relay("openai_chat", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("openai_chat", b))
    relay.stream([chat_events("Let me look.", [("call_r", R, {"key": KEY})]),
                  chat_events(" Running it.", [("call_b", "bash", {"cmd": "df"})])])
    fp, rec = relay.record()
    # A client that keeps content as text parts, split where it likes, and numbers calls itself.
    nxt = dict(b, messages=b["messages"] + [
        {"role": "assistant", "content": [{"type": "text", "text": "Let me"}, {"type": "text", "text": " look. Running it."}],
         "tool_calls": [{"id": "tool_0", "type": "function", "function": {"name": "bash", "arguments": json.dumps({"cmd": "df"})}}]},
        {"role": "tool", "tool_call_id": "tool_0", "content": "9%"}])
    assert retrieval.splice("openai_chat", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    cont = relay.sent[-1]["messages"]
    assert nxt["messages"][:len(cont)] == cont
    assert nxt["messages"][len(cont)]["content"] == [{"type": "text", "text": " Running it."}]
    assert nxt["messages"][len(cont)]["tool_calls"][0]["id"] == "tool_0"


def test_text_that_does_not_start_with_the_hidden_rounds_is_left_as_it_is():
    b = body()
    relay = Relay("openai_chat", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("openai_chat", b))
    relay.stream([chat_events("Let me look.", [("call_r", R, {"key": KEY})]), chat_events(" Disk full.")])
    fp, rec = relay.record()
    nxt = dict(b, messages=b["messages"] + [{"role": "assistant", "content": [{"type": "refusal", "refusal": "no"},
                                                                             {"type": "text", "text": "Let me look. Disk full."}]},
                                            {"role": "user", "content": "ok"}])
    before = json.dumps(nxt)
    retrieval.splice("openai_chat", nxt, lambda fps: {fp: rec} if fp in fps else {})
    assert json.dumps(nxt) == before
