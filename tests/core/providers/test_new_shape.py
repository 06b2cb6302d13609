"""A fifth API shape is one Provider: a made-up shape defined here works through the pipeline, usage, the
holdout, the need counter, the retrieval exchange and driver, and the Retrieve addon, with no other file
touched."""
from __future__ import annotations

import asyncio
import json
import re

import pytest

from headroom.core import holdout, needed, retrieval
from headroom.core.markers import RETRIEVE_TOOL_NAME, find_markers
from headroom.core.pipeline import compress_body
from headroom.core.providers import (Provider, Questions, ToolCall, clip_query, get_provider, provider_for, register,
                                     unregister)
from headroom.core.retrieval.base import Exchange, fingerprint, role_candidates, serialise, splice_records
from headroom.core.retrieval.sse import SSEParser, encode
from headroom.core.retrieval.tool import DESCRIPTION, Call, schema
from headroom.core.usage import Usage, as_count, usage_from_body
from tests.core.retrieval.helpers import Relay

NAME = "toy"


# --- the made-up shape: {"turns": [{"role": "user"|"model"|"tool", ...}], "tools": [{"name": ...}]} -----

def signature(turn: dict) -> str:
    return str(turn.get("text", "")) + "\x1f" + ",".join(str(c.get("id")) for c in turn.get("calls") or [])


class ToyExchange(Exchange):
    provider = NAME

    def __init__(self, body: dict, *, prev_fp: str = ""):
        self.continued: list[dict] = []
        self.prefix_text = ""
        super().__init__(body, prev_fp=prev_fp)

    def _reset_round(self) -> None:
        super()._reset_round()
        self.text, self.calls = "", []

    def _take(self, call: dict) -> bool:
        self.calls.append(call)
        if self._is_retrieve(call.get("name")):
            self.hidden.append(Call(str(call["id"]), json.dumps(call.get("args") or {})))
            return True
        self.visible_calls += 1
        return False

    def feed(self, ev):  # events: {"text": ...}, {"call": {...}}, then {"usage": {...}}
        obj = ev.json()
        if isinstance(obj, dict) and isinstance(obj.get("call"), dict) and self._take(obj["call"]):
            return []
        if isinstance(obj, dict) and "text" in obj:
            self.text += obj["text"]
        if isinstance(obj, dict) and "usage" in obj and self.hidden:
            self.holding = True
        return self._emit(ev)

    def feed_response(self, resp: dict) -> list[Call]:
        self.last_response = resp
        turn = resp.get("turn") or {}
        self.text = turn.get("text", "")
        for call in turn.get("calls") or []:
            self._take(call)
        return self.end_round()

    def final_response(self) -> dict:
        resp = json.loads(json.dumps(self.last_response))
        turn = resp["turn"]
        turn["text"] = self.prefix_text + turn.get("text", "")
        turn["calls"] = [c for c in turn.get("calls") or [] if not self._is_retrieve(c.get("name"))]
        return resp

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict:
        self._close_round()
        model = {"role": "model", "text": self.text, "calls": self.calls}
        tools = [{"role": "tool", "id": c.call_id, "output": results[c.call_id]} for c in self.hidden]
        self.continued += [model, *tools]
        self.prefix_text += self.text
        return self._next_round(dict(self.body, turns=[*self.body["turns"], model, *tools]))

    def record(self, results=None):
        if not self.continued:
            return None
        visible = {"text": self.prefix_text + self.text,
                   "calls": [c for c in self.calls if not self._is_retrieve(c.get("name"))]}
        return fingerprint(NAME, self.prev_fp, signature(visible)), serialise({"replace": self.continued,
                                                                               "strip": self.prefix_text})


def _rebuild(turn: dict, rec: dict):
    return rec["replace"] + [dict(turn, text=turn.get("text", "")[len(rec["strip"]):])], None


class Toy(Provider):
    name = NAME
    history_field = "turns"
    exchange_class = ToyExchange

    def handles(self, host, path):
        return path.endswith("/toy/v1/generate")

    def find_units(self, body):
        q, calls = Questions(), {}
        for i, turn in enumerate(body.get("turns") or []):
            if turn.get("role") == "user":
                q.ask(clip_query(turn.get("text", "")))
            for c in turn.get("calls") or []:
                calls[c["id"]] = c["name"]
            if turn.get("role") == "tool" and turn.get("output"):
                q.unit(("turns", i, "output"), turn["output"], calls.get(turn.get("id")), q.current)
        return q.finish()

    def first_user_text(self, body):
        return next((t["text"] for t in body.get("turns") or [] if t.get("role") == "user"), "")

    def conversation(self, body):
        for i, turn in enumerate(body.get("turns") or []):
            if turn.get("role") == "tool":
                yield i, False, ("result", turn.get("id"), turn.get("output", ""))
                continue
            yield i, turn.get("role") == "model", ("text", turn.get("text", ""))
            for c in turn.get("calls") or []:
                yield i, True, ("call", ToolCall(c["id"], c["name"], c.get("args") or {}))

    def usage_of(self, obj):
        u = obj.get("usage") if isinstance(obj, dict) else None
        if not isinstance(u, dict):
            return None
        return Usage(input=as_count(u.get("in")), output=as_count(u.get("out")), reported=True)

    def tool_definition(self):
        return {"name": RETRIEVE_TOOL_NAME, "description": DESCRIPTION, "schema": schema()}

    def watches(self, path):
        return True

    def splice_candidates(self, items):
        return role_candidates(NAME, items, "model", signature)

    def apply_record(self, items, found):
        return splice_records(items, found, _rebuild)


# --- the test ---------------------------------------------------------------------------------------

LOG = "".join(f"2026-11-24 04:{i:02d}:00 INFO worker {i} ok\n" for i in range(60)) + "FATAL disk full\n"


@pytest.fixture
def toy():
    yield register(Toy())
    unregister(NAME)


def request(*later: dict) -> dict:
    return {"model": "toy-1", "tools": [{"name": "bash"}], "turns": [
        {"role": "user", "text": "why did the worker stop?"},
        {"role": "model", "text": "", "calls": [{"id": "c1", "name": "bash", "args": {"cmd": "cat w.log"}}]},
        {"role": "tool", "id": "c1", "output": LOG}, *later]}


def test_the_registry_knows_it_and_requests_find_it(toy):
    assert get_provider(NAME) is toy
    assert provider_for("llm.example.test", "/toy/v1/generate") == NAME
    assert provider_for("llm.example.test", "/toy/v1/generate", "GET") is None


def test_its_tool_outputs_are_compressed_and_what_they_dropped_can_be_retrieved(toy):
    body = request()
    out = compress_body(NAME, body)
    assert out.changed and body["turns"][2]["output"] == LOG  # the input is never mutated
    compressed = out.body["turns"][2]["output"]
    assert "FATAL disk full" in compressed and len(compressed) < len(LOG)
    [marker] = find_markers(compressed)
    store = dict(out.drops)

    sent = out.body
    assert retrieval.add_tool(NAME, sent) and retrieval.client_has_tool(NAME, sent)
    assert sent["tools"][-1]["name"] == RETRIEVE_TOOL_NAME and not retrieval.add_tool(NAME, sent)

    # The model asks for the dropped lines; the proxy answers and continues; the client never sees the call.
    ex = retrieval.make_exchange(NAME, sent, retrieval.prev_fingerprint(NAME, body))
    calls = ex.feed_response({"turn": {"role": "model", "text": "Let me look. ", "calls": [
        {"id": "r1", "name": RETRIEVE_TOOL_NAME, "args": {"key": marker.key}}]}, "usage": {"in": 90, "out": 4}})
    results = {c.call_id: retrieval.answer_call(c.arguments, store.get) for c in calls}
    assert "worker 30 ok" in results["r1"]
    cont = ex.continuation(results)
    assert cont["turns"][-1] == {"role": "tool", "id": "r1", "output": results["r1"]}
    assert ex.feed_response({"turn": {"role": "model", "text": "The disk filled up.", "calls": []},
                             "usage": {"in": 300, "out": 6}}) == []
    final = ex.final_response()
    assert final["turn"] == {"role": "model", "text": "Let me look. The disk filled up.", "calls": []}

    # The next turn carries the visible answer only: the hidden exchange is put back where it was.
    fp, rec = ex.record(results)
    nxt = request(dict(final["turn"]), {"role": "user", "text": "thanks"})
    assert retrieval.splice(NAME, nxt, lambda fps: {f: rec for f in fps if f == fp}) == 1
    assert [t["role"] for t in nxt["turns"]] == ["user", "model", "tool", "model", "tool", "model", "user"]
    assert nxt["turns"][4]["output"] == results["r1"] and nxt["turns"][5]["text"] == "The disk filled up."


def test_the_retrieval_driver_runs_its_exchange(toy):
    out = compress_body(NAME, request())
    [marker] = find_markers(out.body["turns"][2]["output"])
    relay = Relay(NAME, out.body, dict(out.drops))
    final = relay.json([{"turn": {"role": "model", "text": "", "calls": [
                            {"id": "r1", "name": RETRIEVE_TOOL_NAME, "args": {"key": marker.key}}]}},
                        {"turn": {"role": "model", "text": "The disk filled up.", "calls": []}}])
    assert final["turn"] == {"role": "model", "text": "The disk filled up.", "calls": []}
    assert "worker 30 ok" in relay.sent[0]["turns"][-1]["output"] and relay.record() is not None


def test_its_streams_hide_the_call_too(toy):
    ex = retrieval.make_exchange(NAME, request(), "")
    raw = b"".join(encode(e).raw for e in ({"text": "Looking. "}, {"call": {"id": "r1", "name": RETRIEVE_TOOL_NAME,
                                                                           "args": {"key": "0" * 16}}},
                                           {"usage": {"in": 5, "out": 1}}))
    shown = [e for ev in SSEParser().feed(raw) for e in ex.feed(ev)]
    assert [e.json() for e in shown] == [{"text": "Looking. "}]
    assert [c.call_id for c in ex.end_round()] == ["r1"] and ex.can_continue()


def test_usage_holdout_and_needs_dispatch_to_it(toy):
    body = request()
    resp = json.dumps({"turn": {"role": "model", "text": "ok"}, "usage": {"in": 12, "out": 3}}).encode()
    assert usage_from_body(NAME, resp, content_type="application/json")[0] == Usage(12, 0, 0, 3, True)
    assert holdout.first_user_text(NAME, body) == "why did the worker stop?"
    assert holdout.arm_for(NAME, body, "/toy/v1/generate", 1.0) == holdout.CONTROL
    assert holdout.arm_for(NAME, body, "/toy/v1/generate", 1.0, holdout.OUTPUT) == holdout.CONTROL
    # A shape that says nothing of output shaping is left unshaped (the base's defaults), never broken.
    from headroom.core import shaper

    shaped = shaper.shape(NAME, body, level=3)
    assert (shaped.body, shaped.turn_kind, shaped.changes) == (body, shaper.OTHER, ())
    assert re.fullmatch(r"[0-9a-f]{16}", needed.conversation_id(NAME, body))
    retrieved = request({"role": "model", "text": "", "calls": [{"id": "r", "name": RETRIEVE_TOOL_NAME,
                                                                   "args": {"key": "ab" * 8}}]})
    assert needed.retrieved_keys(NAME, retrieved) == {"ab" * 8}


@pytest.mark.parametrize("stream", [True, False])
def test_the_retrieve_addon_watches_its_answers_on_mitmproxys_connection(toy, stream):
    """A stream is watched as it streams; a JSON answer is answered in the addon's response hook."""
    from mitmproxy.test import taddons, tflow, tutils

    from headroom.addon.retrieve import _STREAMED, _WHOLE, Retrieve
    from headroom.addon.state import STATE_KEY, LLMRequest

    out = compress_body(NAME, {**request(), "stream": stream})

    async def go():
        a = Retrieve()
        with taddons.context(a):
            await a.running()
            try:
                a.store.put_many(dict(out.drops))
                f = tflow.tflow(req=tutils.treq(host="llm.example.test", port=443, path=b"/toy/v1/generate"))
                f.metadata[STATE_KEY] = LLMRequest(provider=NAME, host="llm.example.test", path="/toy/v1/generate",
                                                   body=out.body, outcome=out)
                await a.request(f)
                return f
            finally:
                await a.done()

    f = asyncio.run(go())
    assert f.request.host == "llm.example.test" and f.request.path == "/toy/v1/generate"
    assert (_STREAMED if stream else _WHOLE) in f.metadata
    assert f.metadata[STATE_KEY].body["tools"][-1]["name"] == RETRIEVE_TOOL_NAME
