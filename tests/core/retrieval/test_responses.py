"""OpenAI Responses: the function_call item is hidden, answered, continued, spliced back."""
from __future__ import annotations

import json

from headroom.core import retrieval
from headroom.core.markers import key_for, make_marker
from tests.core.retrieval.helpers import R, Relay, make_original, responses_events, responses_json

ORIG = make_original()
KEY = key_for(ORIG)
MARKER, _ = make_marker("61 lines omitted", ORIG)


def body(stream=True, **extra):
    return {"model": "m", "stream": stream, "input": [
        {"role": "user", "content": "why did the job fail?"},
        {"type": "function_call", "call_id": "c0", "name": "read_log", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c0", "output": f"a\n{MARKER}\nb"}], **extra}


def test_stream_hides_call_renumbers_and_merges_output():
    b = body()
    relay = Relay("openai_responses", b, {KEY: ORIG})
    out = relay.stream([responses_events([("message", "msg_1", "Looking."), ("call", "fc_1", "call_r", R, {"key": KEY})]),
                        responses_events([("message", "msg_2", "Disk full.")], rid="resp_B", usage=(900, 5))])
    raw = b"".join(e.raw for e in out)
    assert b"call_r" not in raw and R.encode() not in raw
    objs = [e.json() for e in out]
    assert [o["sequence_number"] for o in objs] == list(range(len(objs)))
    assert [o["type"] for o in objs].count("response.created") == 1
    added = [o for o in objs if o["type"] == "response.output_item.added"]
    assert [(o["output_index"], o["item"]["id"]) for o in added] == [(0, "msg_1"), (1, "msg_2")]
    final = objs[-1]["response"]
    assert [i["id"] for i in final["output"]] == ["msg_1", "msg_2"] and final["id"] == "resp_B"
    assert final["usage"]["input_tokens"] == 910
    (cont,) = relay.sent
    assert cont["input"][:3] == b["input"]
    assert [i.get("type") for i in cont["input"][3:]] == ["message", "function_call", "function_call_output"]
    assert cont["input"][-1] == {"type": "function_call_output", "call_id": "call_r", "output": ORIG}


def test_chained_requests_continue_on_the_stored_response():
    b = body(previous_response_id="resp_0", input=[{"type": "function_call_output", "call_id": "c0", "output": MARKER}])
    relay = Relay("openai_responses", b, {KEY: ORIG})
    relay.stream([responses_events([("call", "fc_1", "call_r", R, {"key": KEY})], rid="resp_A"),
                  responses_events([("message", "msg_2", "ok")], rid="resp_B")])
    assert relay.sent[0]["previous_response_id"] == "resp_A"
    assert relay.sent[0]["input"] == [{"type": "function_call_output", "call_id": "call_r", "output": ORIG}]
    assert relay.record() is None


def test_next_turn_history_is_restored():
    b = body()
    relay = Relay("openai_responses", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("openai_responses", b))
    relay.stream([responses_events([("call", "fc_1", "call_r", R, {"key": KEY})]),
                  responses_events([("message", "msg_2", "Disk full.")], rid="resp_B")])
    fp, rec = relay.record()
    final_output = [{"type": "message", "id": "msg_2", "status": "completed", "role": "assistant",
                     "content": [{"type": "output_text", "text": "Disk full.", "annotations": []}]}]
    nxt = dict(b, input=b["input"] + final_output + [{"role": "user", "content": "fix it"}])
    assert retrieval.splice("openai_responses", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    cont = relay.sent[-1]["input"]
    assert json.dumps(nxt["input"][:len(cont)]) == json.dumps(cont)
    assert nxt["input"][len(cont):] == final_output + [{"role": "user", "content": "fix it"}]


def test_non_streaming_mixed_call_passes_the_other_call():
    relay = Relay("openai_responses", body(False), {KEY: ORIG})
    final = relay.json([responses_json([("call", "fc_1", "call_r", R, {"key": KEY}),
                                        ("call", "fc_2", "call_b", "bash", {"cmd": "df"})])])
    assert [i["call_id"] for i in final["output"]] == ["call_b"]
    assert relay.sent == []
    fp, rec = relay.record()
    assert json.loads(rec)["insert"][1] == {"type": "function_call_output", "call_id": "call_r", "output": ORIG}


def test_next_turn_when_the_client_left_out_a_reasoning_item():
    b = body()
    relay = Relay("openai_responses", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("openai_responses", b))
    relay.stream([responses_events([("message", "msg_1", "Looking."), ("call", "fc_1", "call_r", R, {"key": KEY})]),
                  responses_events([("message", "msg_2", "Disk full.")], rid="resp_B")])
    fp, rec = relay.record()
    record = json.loads(rec)
    record["sigs"].insert(1, "reasoning:rs_1")  # as if round 2 had begun with a reasoning item
    record["n_shown"] = 1
    shown = [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
              "content": [{"type": "output_text", "text": "Looking.", "annotations": []}]}]
    final = [{"type": "message", "id": "msg_2", "status": "completed", "role": "assistant",
              "content": [{"type": "output_text", "text": "Disk full.", "annotations": []}]}]
    nxt = dict(b, input=b["input"] + shown + final + [{"role": "user", "content": "fix it"}])  # no reasoning item
    assert retrieval.splice("openai_responses", nxt, lambda fps: {fp: json.dumps(record)} if fp in fps else {}) == 1
    cont = relay.sent[-1]["input"]
    assert nxt["input"][:len(cont)] == cont
    assert nxt["input"][len(cont):] == final + [{"role": "user", "content": "fix it"}]
    # A message the record never showed is not skipped like a reasoning item: the history goes as it is.
    other = dict(b, input=b["input"] + shown + [{"type": "message", "role": "assistant", "content": "?"}])
    before = json.dumps(other)
    retrieval.splice("openai_responses", other, lambda fps: {fp: json.dumps(record)} if fp in fps else {})
    assert json.dumps(other) == before
