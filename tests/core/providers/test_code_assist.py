"""Cloud Code Assist: Gemini inside an envelope, the request under `request`, every answer under `response`."""
from __future__ import annotations

from headroom.core import retrieval
from headroom.core.markers import key_for, make_marker
from headroom.core.pipeline import compress_body
from headroom.core.providers import get_provider, provider_for
from headroom.core.retrieval.sse import encode
from tests.core.retrieval.helpers import R, Relay, make_original

ORIG = make_original()
KEY = key_for(ORIG)
MARKER, _ = make_marker("61 lines omitted", ORIG)
CA = get_provider("code_assist")


def body():
    # As the Gemini CLI's converter.ts toGenerateContentRequest builds it.
    return {"model": "gemini-2.5-pro", "project": "proj-1", "user_prompt_id": "p1", "request": {
        "contents": [
            {"role": "user", "parts": [{"text": "why did the job fail?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "read_log", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "read_log", "response": {"output": MARKER}}}]}],
        "tools": [{"functionDeclarations": [{"name": "read_log", "parameters": {"type": "object"}}]}],
        "generationConfig": {"temperature": 0}, "session_id": "s1"}}


def envelope(parts, finish=None, usage=None):
    cand = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    inner = {"candidates": [cand], "modelVersion": "gemini-2.5-pro"}
    if usage:
        inner["usageMetadata"] = {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1],
                                  "totalTokenCount": sum(usage),
                                  "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage[0]}]}
    return {"response": inner, "traceId": "t-1"}


def test_its_paths_are_its_own_and_the_request_is_the_wrapped_one():
    assert provider_for("cloudcode-pa.googleapis.com", "/v1internal:streamGenerateContent?alt=sse") == "code_assist"
    assert provider_for("cloudcode-pa.googleapis.com", "/v1internal:generateContent") == "code_assist"
    assert provider_for("generativelanguage.googleapis.com", "/v1beta/models/g:generateContent") == "gemini"
    b = body()
    assert CA.request_of(b) is b["request"] and CA.history(b) is b["request"]["contents"]
    assert CA.request_of({"contents": []}) is None and CA.history({"contents": []}) is None
    assert CA.model_of(b, "/v1internal:generateContent") == "gemini-2.5-pro"
    assert CA.first_user_text(b) == "why did the job fail?"


def test_tool_outputs_are_found_and_compressed_inside_the_request():
    b = body()
    b["request"]["contents"][2]["parts"][0]["functionResponse"]["response"]["output"] = ORIG * 20
    (unit,) = CA.find_units(b)
    assert unit.path[:2] == ("request", "contents")
    out = compress_body("code_assist", b)
    assert out.changed and set(b) == {"model", "project", "user_prompt_id", "request"}


def test_usage_is_read_through_the_envelope():
    u = CA.usage_of(envelope([{"text": "x"}], "STOP", (120, 7)))
    assert (u.input, u.output) == (120, 7)
    assert CA.usage_of({"candidates": []}) is None and CA.usage_of({"error": {"code": 500}}) is None


def test_a_streamed_retrieval_is_hidden_continued_in_the_envelope_and_spliced_back():
    b = body()
    relay = Relay("code_assist", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("code_assist", b))
    out = relay.stream([[encode(envelope([{"text": "Let me look."}])),
                         encode(envelope([{"functionCall": {"name": R, "args": {"key": KEY}}}], "STOP", (100, 5)))],
                        [encode(envelope([{"text": "Disk "}])), encode(envelope([{"text": "full."}], "STOP", (900, 3)))]])
    assert all(set(e.json()) == {"response", "traceId"} for e in out)  # every event in the envelope
    raw = b"".join(e.raw for e in out)
    assert R.encode() not in raw
    texts = [p.get("text", "") for e in out for c in e.json()["response"]["candidates"] for p in c["content"]["parts"]]
    assert "".join(texts) == "Let me look.Disk full."
    last = [e.json()["response"]["usageMetadata"] for e in out if "usageMetadata" in e.json()["response"]][-1]
    assert last["promptTokenCount"] == 1000 and last["candidatesTokenCount"] == 8
    (cont,) = relay.sent
    assert set(cont) == set(b) and "tools" not in cont and "contents" not in cont  # Google refuses unknown fields
    assert cont["request"]["contents"][:3] == b["request"]["contents"]
    assert [c["role"] for c in cont["request"]["contents"][3:]] == ["model", "user"]
    # The next turn as the CLI stores it: thoughts dropped, text merged.
    fp, rec = relay.record()
    nxt = body()
    nxt["request"]["contents"] += [{"role": "model", "parts": [{"text": "Let me look.Disk full."}]},
                                   {"role": "user", "parts": [{"text": "fix it"}]}]
    assert retrieval.splice("code_assist", nxt, lambda fps: {fp: rec} if fp in fps else {}) == 1
    contents = nxt["request"]["contents"]
    assert contents[3:5] == cont["request"]["contents"][3:5]
    assert contents[5] == {"role": "model", "parts": [{"text": "Disk full."}]}


def test_a_json_answer_keeps_its_envelope():
    b = body()
    relay = Relay("code_assist", b, {KEY: ORIG})
    final = relay.json([envelope([{"functionCall": {"name": R, "args": {"key": KEY}}}], "STOP", (100, 5)),
                        envelope([{"text": "Disk full."}], "STOP", (900, 3))])
    assert final["traceId"] == "t-1"
    assert final["response"]["candidates"][0]["content"]["parts"] == [{"text": "Disk full."}]
    usage = final["response"]["usageMetadata"]
    assert usage["promptTokenCount"] == 1000
    (answer,) = relay.sent[0]["request"]["contents"][-1]["parts"]
    assert answer["functionResponse"]["response"] == {"content": ORIG}


def test_a_stream_error_is_googles_error_object_with_its_code():
    obj = CA.error_event("headroom: upstream answered 500").json()
    assert obj == {"error": {"code": 500, "message": "headroom: upstream answered 500", "status": "INTERNAL"}}
