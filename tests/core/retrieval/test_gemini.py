"""Gemini generateContent: the functionCall part is hidden, answered with a functionResponse, spliced back."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

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
    assert [p["functionResponse"]["name"] for p in nxt["contents"][4]["parts"]] == ["bash", R]
    assert nxt["contents"][4]["parts"][1]["functionResponse"]["response"] == {"content": ORIG}


# --- the replay against what clients really store (issue 16) ------------------------------------------

SIG = "c2lnbmF0dXJl"


def _retrieval_then(final_parts, first=None):
    """A streamed exchange: round 1 thinks, says a little and retrieves; round 2 answers with `final_parts`.
    Returns (the continuation sent upstream, the record lookup, the parts the client was shown)."""
    b = body()
    relay = Relay("gemini", b, {KEY: ORIG}, prev_fp=retrieval.prev_fingerprint("gemini", b))
    first = first or [{"text": "checking", "thought": True}, {"text": "Let me "}, {"text": "look."},
                      {"functionCall": {"name": R, "args": {"key": KEY}}, "thoughtSignature": SIG}]
    out = relay.stream([[chunk(first[:2]), chunk(first[2:], "STOP", (100, 5))],
                        [chunk(final_parts[:1]), chunk(final_parts[1:], "STOP", (900, 3))]])
    fp, rec = relay.record()
    return relay.sent[-1], (lambda fps: {fp: rec} if fp in fps else {}), visible_parts(out)


def _next(stored_model_turn, user_turn):
    nxt = body()
    nxt["contents"] += [stored_model_turn, user_turn]
    return nxt


def _assert_valid(contents):
    """What Google rejects: an empty parts list, a model turn whose calls are not answered one for one."""
    for i, c in enumerate(contents):
        assert c["parts"], f"turn {i} has no parts"
        calls = [p["functionCall"]["name"] for p in c["parts"] if "functionCall" in p]
        if calls and c["role"] == "model":
            answers = [p["functionResponse"]["name"] for p in contents[i + 1]["parts"] if "functionResponse" in p]
            assert answers == calls, (i, calls, answers)


def test_the_cli_drops_thoughts_and_merges_text_the_answer_survives():
    cont, lookup, shown = _retrieval_then([{"text": "Disk "}, {"text": "full."}])
    # The Gemini CLI's history: thoughts dropped, the whole stream's text merged into one part.
    stored = {"role": "model", "parts": [{"text": "Let me look.Disk full."}]}
    nxt = _next(stored, {"role": "user", "parts": [{"text": "fix it"}]})
    assert retrieval.splice("gemini", nxt, lookup) == 1
    assert nxt["contents"][3:5] == cont["contents"][3:5]  # the hidden round exactly as it went upstream
    assert nxt["contents"][5] == {"role": "model", "parts": [{"text": "Disk full."}]}
    _assert_valid(nxt["contents"])


def test_a_client_that_keeps_every_chunk_gets_no_duplicated_text():
    cont, lookup, shown = _retrieval_then([{"text": "Disk "}, {"text": "full."}])
    stored = {"role": "model", "parts": [dict(p) for p in shown]}  # every chunk's parts, thought included
    nxt = _next(stored, {"role": "user", "parts": [{"text": "fix it"}]})
    assert retrieval.splice("gemini", nxt, lookup) == 1
    assert nxt["contents"][5] == {"role": "model", "parts": [{"text": "Disk "}, {"text": "full."}]}
    texts = "".join(p.get("text", "") for c in nxt["contents"][3:6] for p in c["parts"] if not p.get("thought"))
    assert texts == "Let me look.Disk full."


def test_client_call_ids_and_a_mixed_round_keep_order_and_the_signature():
    # Round 2 calls headroom_retrieve first (it carries the turn's thought signature) and the client's tool.
    final = [{"functionCall": {"name": R, "args": {"key": KEY}}, "thoughtSignature": SIG},
             {"functionCall": {"name": "read_file", "args": {"path": "a.py"}}}]
    cont, lookup, shown = _retrieval_then(final)
    assert [p["functionCall"]["name"] for p in shown if "functionCall" in p] == ["read_file"]
    # The CLI writes its own ids into the call and its response.
    stored = {"role": "model", "parts": [{"text": "Let me look."},
                                         {"functionCall": {"id": "read_file_1764_0", "name": "read_file",
                                                           "args": {"path": "a.py"}}}]}
    answer = {"role": "user", "parts": [{"functionResponse": {"id": "read_file_1764_0", "name": "read_file",
                                                              "response": {"output": "x = 1"}}}]}
    nxt = _next(stored, answer)
    nxt["contents"].append({"role": "model", "parts": [{"text": "done"}]})
    assert retrieval.splice("gemini", nxt, lookup) == 1
    turn, answers = nxt["contents"][5], nxt["contents"][6]
    assert turn["parts"][0]["functionCall"]["name"] == R and turn["parts"][0]["thoughtSignature"] == SIG
    assert turn["parts"][1]["functionCall"]["id"] == "read_file_1764_0"
    assert answers["parts"][0]["functionResponse"]["id"] == turn["parts"][0]["functionCall"]["id"]
    assert answers["parts"][1] == answer["parts"][0]
    _assert_valid(nxt["contents"])


def test_a_turn_that_does_not_match_is_sent_as_the_client_has_it():
    cont, lookup, shown = _retrieval_then([{"text": "Disk full."}])
    # Same signature (the fingerprint matched) but the stored parts carry something the record never showed.
    stored = {"role": "model", "parts": [{"executableCode": {"code": "1"}}, {"text": "Let me look.Disk full."}]}
    nxt = _next(stored, {"role": "user", "parts": [{"text": "fix it"}]})
    before = json.dumps(nxt)
    retrieval.splice("gemini", nxt, lookup)
    assert json.dumps(nxt) == before


_piece = st.text(alphabet="abc ", min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(first=st.lists(_piece, min_size=0, max_size=3), final=st.lists(_piece, min_size=1, max_size=3),
       cuts=st.lists(st.integers(0, 30), max_size=4), keep_thoughts=st.booleans())
def test_any_way_a_client_splits_merges_or_drops_thoughts_replays_the_same_history(first, final, cuts, keep_thoughts):
    first_parts = [{"text": "hmm", "thought": True}] + [{"text": t} for t in first] + \
        [{"functionCall": {"name": R, "args": {"key": KEY}}, "thoughtSignature": SIG}]
    final_parts = [{"text": "so", "thought": True}] + [{"text": t} for t in final]
    cont, lookup, shown = _retrieval_then(final_parts, first=first_parts)
    # The client re-cuts all the visible text it saw at arbitrary points, with or without its thoughts.
    whole = "".join(first + final)
    bounds = sorted({c for c in cuts if 0 < c < len(whole)})
    texts = [whole[a:b] for a, b in zip([0, *bounds], [*bounds, len(whole)])]
    parts = [{"text": t} for t in texts]
    if keep_thoughts:
        parts = [{"text": "hmm", "thought": True}] + parts
    nxt = _next({"role": "model", "parts": parts}, {"role": "user", "parts": [{"text": "more"}]})
    assert retrieval.splice("gemini", nxt, lookup) == 1
    _assert_valid(nxt["contents"])
    assert nxt["contents"][3:5] == cont["contents"][3:5]
    replayed = nxt["contents"][5]["parts"]
    assert "".join(p["text"] for p in replayed if not p.get("thought")) == "".join(final)
    assert not any(p.get("text") == "hmm" for p in replayed)
