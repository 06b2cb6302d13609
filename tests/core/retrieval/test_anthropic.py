"""Anthropic Messages: the tool_use block is hidden, answered, continued with exact blocks, spliced back."""
from __future__ import annotations

import json

from headroom.core import retrieval
from headroom.core.markers import key_for, make_marker
from tests.core.retrieval.helpers import R, Relay, anthropic_events, anthropic_json, make_original

ORIG = make_original()
KEY = key_for(ORIG)
MARKER, _ = make_marker("61 lines omitted", ORIG)


def body(stream=True):
    return {"model": "m", "max_tokens": 100, "stream": stream, "messages": [
        {"role": "user", "content": "why did the job fail?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t0", "name": "read_log", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t0", "content": f"a\n{MARKER}\nb"}]}]}


def client_blocks(events):
    """What the Anthropic SDK accumulates: blocks by index, stop reason, usage."""
    blocks, stop, usage, starts = {}, None, {}, 0
    for ev in events:
        o = ev.json() or {}
        t = o.get("type")
        if t == "message_start":
            starts += 1
            usage.update(o["message"]["usage"])
        elif t == "content_block_start":
            assert o["index"] == len(blocks), "indexes must run 0, 1, 2 ... with no gap"
            blocks[o["index"]] = dict(o["content_block"])
        elif t == "content_block_delta":
            d = o["delta"]
            b = blocks[o["index"]]
            if d["type"] == "text_delta":
                b["text"] += d["text"]
            elif d["type"] == "input_json_delta":
                b["json"] = b.get("json", "") + d["partial_json"]
            elif d["type"] == "thinking_delta":
                b["thinking"] += d["thinking"]
        elif t == "message_delta":
            stop = o["delta"]["stop_reason"]
            usage.update(o.get("usage") or {})
    assert starts == 1
    return [blocks[i] for i in sorted(blocks)], stop, usage


def test_stream_hides_tool_use_keeps_thinking_and_continues():
    b = body()
    relay = Relay("anthropic", b, {KEY: ORIG})
    out = relay.stream([
        anthropic_events([("thinking", "need the log", "sig1"), ("text", "Looking."), ("tool_use", "tu_r", R, {"key": KEY})],
                         usage=(100, 20)),
        anthropic_events([("text", "The disk was full.")], mid="msg_B", usage=(900, 8))])
    raw = b"".join(e.raw for e in out)
    assert R.encode() not in raw and b"tu_r" not in raw
    blocks, stop, usage = client_blocks(out)
    assert [b_.get("text") or b_.get("thinking") for b_ in blocks] == ["need the log", "Looking.", "The disk was full."]
    assert stop == "end_turn" and usage["output_tokens"] == 28 and usage["input_tokens"] == 1000
    (cont,) = relay.sent
    assert cont["messages"][:3] == b["messages"]
    assert cont["messages"][3] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "need the log", "signature": "sig1"},
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "tu_r", "name": R, "input": {"key": KEY}}]}
    assert cont["messages"][4] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "tu_r", "content": ORIG}]}


def test_no_call_is_byte_identical():
    evs = anthropic_events([("text", "hi")])
    relay = Relay("anthropic", body(), {})
    assert [e.raw for e in relay.stream([evs])] == [e.raw for e in evs]


def test_next_turn_history_is_byte_identical_prefix():
    b = body()
    relay = Relay("anthropic", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("anthropic", b))
    out = relay.stream([anthropic_events([("text", "Looking."), ("tool_use", "tu_r", R, {"key": KEY})]),
                        anthropic_events([("text", "Disk full.")])])
    fp, rec = relay.record()
    blocks, _, _ = client_blocks(out)
    nxt = dict(b, messages=b["messages"] + [{"role": "assistant", "content": blocks},
                                            {"role": "user", "content": "thanks, fix it"}])
    assert retrieval.splice("anthropic", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    cont = relay.sent[-1]["messages"]
    assert json.dumps(nxt["messages"][:len(cont)]) == json.dumps(cont)
    assert nxt["messages"][len(cont)] == {"role": "assistant", "content": [{"type": "text", "text": "Disk full."}]}


def test_mixed_with_another_tool_splices_result_into_the_next_user_message():
    b = body()
    relay = Relay("anthropic", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("anthropic", b))
    out = relay.stream([anthropic_events([("tool_use", "tu_r", R, {"key": KEY}), ("tool_use", "tu_b", "bash", {"cmd": "df"})])])
    blocks, stop, _ = client_blocks(out)
    assert [(x["type"], x["name"]) for x in blocks] == [("tool_use", "bash")] and stop == "tool_use"
    assert relay.sent == []
    fp, rec = relay.record()
    visible = [{"type": "tool_use", "id": "tu_b", "name": "bash", "input": {"cmd": "df"}}]
    nxt = dict(b, messages=b["messages"] + [
        {"role": "assistant", "content": visible},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_b", "content": "100%"}]}])
    retrieval.splice("anthropic", nxt, lambda fps: {fp: rec} if fp in fps else {})
    a, u = nxt["messages"][3:5]
    assert [x["id"] for x in a["content"]] == ["tu_r", "tu_b"]
    assert [x["tool_use_id"] for x in u["content"]] == ["tu_r", "tu_b"]
    assert u["content"][0]["content"] == ORIG


def test_non_streaming_and_unknown_key():
    relay = Relay("anthropic", body(False), {})
    final = relay.json([anthropic_json([("text", "Let me see."), ("tool_use", "tu_r", R, {"key": "00000000000000aa"})]),
                        anthropic_json([("text", "Could not fetch it.")])])
    assert final["content"] == [{"type": "text", "text": "Let me see."}, {"type": "text", "text": "Could not fetch it."}]
    assert final["stop_reason"] == "end_turn" and final["usage"]["output_tokens"] == 10
    result = relay.sent[0]["messages"][-1]["content"][0]["content"]
    assert "nothing is stored under key 00000000000000aa" in result


def test_splice_survives_the_agent_moving_its_cache_breakpoint():
    b = body()
    b["messages"][-1]["content"][0]["cache_control"] = {"type": "ephemeral"}  # newest message, as Claude Code does
    relay = Relay("anthropic", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("anthropic", b))
    out = relay.stream([anthropic_events([("tool_use", "tu_r", R, {"key": KEY})]), anthropic_events([("text", "Disk full.")])])
    fp, rec = relay.record()
    blocks, _, _ = client_blocks(out)
    nxt = body()  # the breakpoint has moved on to the newest message
    nxt["messages"] += [{"role": "assistant", "content": blocks},
                        {"role": "user", "content": [{"type": "text", "text": "fix it", "cache_control": {"type": "ephemeral"}}]}]
    assert retrieval.splice("anthropic", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    assert nxt["messages"][4]["content"][0]["content"] == ORIG


def test_splice_when_the_agent_leaves_out_thinking_blocks():
    b = body()
    relay = Relay("anthropic", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("anthropic", b))
    relay.stream([anthropic_events([("thinking", "hmm", "sig"), ("text", "Looking."), ("tool_use", "tu_r", R, {"key": KEY})]),
                  anthropic_events([("text", "Disk full.")])])
    fp, rec = relay.record()
    nxt = body()  # the agent kept the text, dropped the thinking block of the earlier turn
    nxt["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": "Looking."},
                                                          {"type": "text", "text": "Disk full."}]},
                        {"role": "user", "content": "ok"}]
    assert retrieval.splice("anthropic", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    assert nxt["messages"][3:] == relay.sent[-1]["messages"][3:] + [
        {"role": "assistant", "content": [{"type": "text", "text": "Disk full."}]}, {"role": "user", "content": "ok"}]


def test_splice_when_the_client_merges_text_and_re_ids_its_calls():
    b = body()
    relay = Relay("anthropic", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("anthropic", b))
    relay.stream([anthropic_events([("thinking", "hmm", "sig"), ("text", "Looking."), ("tool_use", "tu_r", R, {"key": KEY})]),
                  anthropic_events([("text", " Now: "), ("tool_use", "tu_r2", R, {"key": KEY}),
                                    ("tool_use", "toolu_b", "bash", {"cmd": "df"})])])
    fp, rec = relay.record()
    nxt = body()  # one text block for the whole turn, its own id for the call, no thinking
    nxt["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": "Looking. Now: "},
                                                          {"type": "tool_use", "id": "call_1", "name": "bash",
                                                           "input": {"cmd": "df"}}]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "9%"},
                                                     {"type": "text", "text": "go on"}]}]
    assert retrieval.splice("anthropic", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    final, results = nxt["messages"][5:7]
    assert final["content"] == [{"type": "text", "text": " Now: "},
                                {"type": "tool_use", "id": "tu_r2", "name": R, "input": {"key": KEY}},
                                {"type": "tool_use", "id": "call_1", "name": "bash", "input": {"cmd": "df"}}]
    assert [x.get("tool_use_id") or x["type"] for x in results["content"]] == ["tu_r2", "call_1", "text"]


def test_a_message_that_does_not_match_its_record_is_left_as_it_is():
    b = body()
    relay = Relay("anthropic", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("anthropic", b))
    relay.stream([anthropic_events([("text", "Looking."), ("tool_use", "tu_r", R, {"key": KEY})]),
                  anthropic_events([("text", "Disk full.")])])
    fp, rec = relay.record()
    nxt = body()  # same text, but the client put an image it never got in front of it
    nxt["messages"] += [{"role": "assistant", "content": [{"type": "image", "source": {}},
                                                          {"type": "text", "text": "Looking.Disk full."}]},
                        {"role": "user", "content": "ok"}]
    before = json.dumps(nxt)
    retrieval.splice("anthropic", nxt, lambda fps: {fp: rec} if fp in fps else {})
    assert json.dumps(nxt) == before
