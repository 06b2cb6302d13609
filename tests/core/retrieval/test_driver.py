"""The retrieval driver on its own: which actions it returns, in which order, on each path of an answer."""
from __future__ import annotations

import json

from headroom.core.markers import key_for, make_marker
from headroom.core.retrieval.driver import AnswerCalls, ContinueUpstream, Done, Retrieval, SendToClient
from tests.core.retrieval.helpers import R, anthropic_events, chat_events, chat_json, make_original

ORIG = make_original()
KEY = key_for(ORIG)
MARKER, _ = make_marker("61 lines omitted", ORIG)
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "why?"},
                                        {"role": "tool", "tool_call_id": "c0", "content": MARKER}]}
JSON_HEADERS = (("content-type", "application/json"), ("content-length", "999"))


def sse(events) -> bytes:
    return b"".join(e.raw for e in events)


def kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_a_stream_without_calls_is_passed_on_and_done_with_no_record():
    d = Retrieval("openai_chat", BODY, stream=True)
    raw = sse(chat_events("hello"))
    actions = d.receive_data(raw) + d.end_of_body()
    assert b"".join(a.data for a in actions if isinstance(a, SendToClient)) == raw
    assert actions[-1] == Done(None) and d.done


def test_a_stream_with_a_call_asks_for_answers_then_continues():
    d = Retrieval("openai_chat", BODY, stream=True)
    actions = d.receive_data(sse(chat_events("", [("call_r", R, {"key": KEY})]))) + d.end_of_body()
    assert kinds(actions)[-1] == "AnswerCalls" and [c.call_id for c in actions[-1].calls] == ["call_r"]
    (cont,) = d.answered({"call_r": ORIG})
    assert isinstance(cont, ContinueUpstream) and json.loads(cont.data)["messages"][-1]["content"] == ORIG
    assert d.continuation_response(200, ()) == []
    end = d.receive_data(sse(chat_events("Disk full."))) + d.end_of_body()
    assert isinstance(end[-1], Done) and end[-1].record is not None and end[-1].response is None


def test_a_refused_continuation_ends_the_stream_with_an_error_event_and_keeps_the_record():
    d = Retrieval("anthropic", {"model": "m", "messages": BODY["messages"][:1]}, stream=True)
    d.receive_data(sse(anthropic_events([("tool_use", "tu", R, {"key": KEY})])))
    (ask,) = d.end_of_body()
    d.answered({c.call_id: ORIG for c in ask.calls})
    actions = d.continuation_response(529, (), b"overloaded " * 500)
    error = actions[0].events[0].json()
    assert error["type"] == "error" and error["error"]["message"].startswith(
        "headroom: upstream answered 529 to the retrieval continuation: overloaded")
    assert len(error["error"]["message"]) < 2100 and isinstance(actions[-1], Done) and actions[-1].record


def test_a_json_answer_is_sent_once_at_the_end_after_its_record_is_ready():
    d = Retrieval("openai_chat", BODY, stream=False, headers=JSON_HEADERS)
    assert d.receive_data(json.dumps(chat_json(None, [("call_r", R, {"key": KEY})])).encode()) == []
    (ask,) = d.end_of_body()
    assert isinstance(ask, AnswerCalls)
    assert isinstance(d.answered({"call_r": ORIG})[0], ContinueUpstream)
    (done,) = d.continuation_response(200, (), json.dumps(chat_json("Disk full.")).encode())
    assert isinstance(done, Done) and done.record is not None and done.response.status == 200
    assert dict(done.response.headers)["content-length"] == str(len(done.response.body))
    assert json.loads(done.response.body)["choices"][0]["message"]["content"] == "Disk full."


def test_json_failures_answer_the_client_and_keep_nothing():
    def after_a_call():
        d = Retrieval("openai_chat", BODY, stream=False, headers=JSON_HEADERS, host="api.openai.com")
        d.receive_data(json.dumps(chat_json(None, [("call_r", R, {"key": KEY})])).encode())
        d.end_of_body()
        d.answered({"call_r": ORIG})
        return d

    (done,) = after_a_call().continuation_failed("timed out")
    assert done.record is None and done.response.status == 502
    assert json.loads(done.response.body)["error"]["message"] == (
        "headroom: the retrieval continuation to api.openai.com failed: timed out")
    (done,) = after_a_call().continuation_response(400, (("content-type", "application/json"),), b'{"e": 1}')
    assert (done.response.status, done.response.body, done.record) == (400, b'{"e": 1}', None)
    (done,) = after_a_call().continuation_response(200, (), b"not json")
    assert (done.response.status, done.response.body) == (502, b"not json")


def test_a_first_answer_that_is_not_json_passes_as_it_came():
    d = Retrieval("openai_chat", BODY, stream=False, headers=JSON_HEADERS)
    d.receive_data(b"<html>bad gateway</html>")
    (done,) = d.end_of_body()
    assert (done.response.status, done.response.body, done.record) == (200, b"<html>bad gateway</html>", None)


def test_a_refused_continuation_in_a_responses_stream_is_an_error_event_numbered_in_its_place():
    from tests.core.retrieval.helpers import responses_events

    body = {"model": "m", "stream": True, "input": [{"role": "user", "content": "why?"}]}
    d = Retrieval("openai_responses", body, stream=True)
    shown = d.receive_data(sse(responses_events([("message", "msg_1", "Looking."),
                                                 ("call", "fc_1", "call_r", R, {"key": KEY})])))
    (ask,) = [a for a in d.end_of_body() if isinstance(a, AnswerCalls)]
    d.answered({c.call_id: ORIG for c in ask.calls})
    actions = d.continuation_response(500, (), b"boom")
    events = [e for a in shown + actions if isinstance(a, SendToClient) for e in a.events]
    numbers = [e.json()["sequence_number"] for e in events]
    assert numbers == list(range(len(numbers)))  # the SDK's events, the error among them, in order
    error = next(e.json() for e in events if e.json()["type"] == "error")
    assert error["message"].startswith("headroom: upstream answered 500") and error["param"] is None
