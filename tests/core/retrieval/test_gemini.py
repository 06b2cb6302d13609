"""Gemini generateContent: the functionCall part is hidden, answered with a functionResponse, spliced back."""
from __future__ import annotations

import json

from headroom.core import retrieval
from headroom.core.markers import key_for, make_marker
from headroom.core.retrieval.sse import encode
from tests.core.retrieval.helpers import R, Relay, make_original

ORIG = make_original()
KEY = key_for(ORIG)
MARKER, _ = make_marker("61 lines omitted", ORIG)


def body():
    return {"contents": [
        {"role": "user", "parts": [{"text": "why did the job fail?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "read_log", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "read_log", "response": {"content": MARKER}}}]}]}


def chunk(parts, finish=None, usage=None):
    cand = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    obj = {"candidates": [cand], "modelVersion": "gemini-x"}
    if usage:
        obj["usageMetadata"] = {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1],
                                "totalTokenCount": sum(usage)}
    return encode(obj)


def visible_parts(events):
    parts = []
    for ev in events:
        for c in (ev.json() or {}).get("candidates") or []:
            parts += c.get("content", {}).get("parts") or []
    return parts


def test_stream_hides_call_and_continues_with_function_response():
    b = body()
    relay = Relay("gemini", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("gemini", b))
    out = relay.stream([
        [chunk([{"text": "Let me "}]), chunk([{"text": "look."}, {"functionCall": {"name": R, "args": {"key": KEY}}}],
                                            "STOP", (100, 5))],
        [chunk([{"text": "Disk "}]), chunk([{"text": "full."}], "STOP", (900, 3))]])
    raw = b"".join(e.raw for e in out)
    assert R.encode() not in raw
    assert "".join(p.get("text", "") for p in visible_parts(out)) == "Let me look.Disk full."
    last_usage = [e.json()["usageMetadata"] for e in out if "usageMetadata" in (e.json() or {})][-1]
    assert last_usage["promptTokenCount"] == 1000 and last_usage["candidatesTokenCount"] == 8
    (cont,) = relay.sent
    assert cont["contents"][:3] == b["contents"]
    model, user = cont["contents"][3:]
    assert model["parts"][0] == {"text": "Let me look."} and model["parts"][1]["functionCall"]["name"] == R
    call_id = model["parts"][1]["functionCall"]["id"]
    assert user == {"role": "user", "parts": [{"functionResponse": {"id": call_id, "name": R,
                                                                     "response": {"content": ORIG}}}]}
    # Next turn: the agent's joined text as one part; the hidden exchange goes back in.
    fp, rec = relay.record()
    nxt = body()
    nxt["contents"] += [{"role": "model", "parts": [{"text": "Let me look."}, {"text": "Disk full."}]},
                        {"role": "user", "parts": [{"text": "fix it"}]}]
    assert retrieval.splice("gemini", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    assert json.dumps(nxt["contents"][:5]) == json.dumps(cont["contents"])
    assert nxt["contents"][5] == {"role": "model", "parts": [{"text": "Disk full."}]}


def test_non_streaming_and_no_call_untouched():
    relay = Relay("gemini", body(), {KEY: ORIG})
    resp = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}
    assert relay.json([resp]) == resp
    evs = [chunk([{"text": "a"}]), chunk([{"text": "b"}], "STOP", (1, 1))]
    relay = Relay("gemini", body(), {})
    assert [e.raw for e in relay.stream([evs])] == [e.raw for e in evs]


def test_mixed_call_passes_the_other_and_splices_the_result_next_turn():
    b = body()
    relay = Relay("gemini", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("gemini", b))
    resp = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "bash", "args": {"cmd": "df"}}},
        {"functionCall": {"name": R, "args": {"key": KEY}}}]}, "finishReason": "STOP"}]}
    final = relay.json([resp])
    assert final["candidates"][0]["content"]["parts"] == [{"functionCall": {"name": "bash", "args": {"cmd": "df"}}}]
    fp, rec = relay.record()
    nxt = body()
    nxt["contents"] += [final["candidates"][0]["content"],
                        {"role": "user", "parts": [{"functionResponse": {"name": "bash", "response": {"out": "100%"}}}]}]
    retrieval.splice("gemini", nxt, lambda fps: {fp: rec} if fp in fps else {})
    assert [p["functionCall"]["name"] for p in nxt["contents"][3]["parts"]] == ["bash", R]
    assert nxt["contents"][4]["parts"][0]["functionResponse"]["response"] == {"content": ORIG}
