"""Builders of provider responses (SSE and JSON) with retrieve calls, and a loop that executes the retrieval
driver's actions against scripted upstream rounds."""
from __future__ import annotations

import json

from headroom.core import retrieval
from headroom.core.retrieval.driver import AnswerCalls, ContinueUpstream, Done, Retrieval, SendToClient
from headroom.core.retrieval.sse import Event, encode

R = "headroom_retrieve"


def chat_events(text="", calls=(), *, cid="chatcmpl-A", created=1, usage=(10, 5)):
    """calls: (id, name, arguments-dict) tuples."""
    def chunk(delta, finish=None, **extra):
        return encode({"id": cid, "object": "chat.completion.chunk", "created": created, "model": "m",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})
    evs = [chunk({"role": "assistant", "content": ""})]
    for piece in ([text[: len(text) // 2], text[len(text) // 2:]] if text else []):
        evs.append(chunk({"content": piece}))
    for i, (call_id, name, args) in enumerate(calls):
        evs.append(chunk({"tool_calls": [{"index": i, "id": call_id, "type": "function",
                                          "function": {"name": name, "arguments": ""}}]}))
        a = json.dumps(args)
        evs.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": a[:5]}}]}))
        evs.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": a[5:]}}]}))
    evs.append(chunk({}, "tool_calls" if calls else "stop"))
    evs.append(encode({"id": cid, "object": "chat.completion.chunk", "created": created, "model": "m", "choices": [],
                       "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                 "total_tokens": sum(usage)}}))
    evs.append(encode("[DONE]"))
    return evs


def chat_json(text=None, calls=(), *, usage=(10, 5)):
    msg = {"role": "assistant", "content": text, "refusal": None}
    if calls:
        msg["tool_calls"] = [{"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                             for i, n, a in calls]
    return {"id": "chatcmpl-J", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}}


def anthropic_events(blocks, *, mid="msg_A", usage=(10, 5)):
    """blocks: ("text", str) | ("tool_use", id, name, input) | ("thinking", text, signature)."""
    evs = [encode({"type": "message_start", "message": {"id": mid, "type": "message", "role": "assistant",
                   "content": [], "model": "m", "usage": {"input_tokens": usage[0], "output_tokens": 1}}},
                  "message_start")]
    stop = "end_turn"
    for i, b in enumerate(blocks):
        if b[0] == "text":
            evs.append(encode({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}, "content_block_start"))
            evs.append(encode({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": b[1]}}, "content_block_delta"))
        elif b[0] == "thinking":
            evs.append(encode({"type": "content_block_start", "index": i, "content_block": {"type": "thinking", "thinking": ""}}, "content_block_start"))
            evs.append(encode({"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": b[1]}}, "content_block_delta"))
            evs.append(encode({"type": "content_block_delta", "index": i, "delta": {"type": "signature_delta", "signature": b[2]}}, "content_block_delta"))
        else:
            stop = "tool_use"
            evs.append(encode({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": b[1], "name": b[2], "input": {}}}, "content_block_start"))
            evs.append(encode({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": json.dumps(b[3])}}, "content_block_delta"))
        evs.append(encode({"type": "content_block_stop", "index": i}, "content_block_stop"))
    evs.append(encode({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": usage[1]}}, "message_delta"))
    evs.append(encode({"type": "message_stop"}, "message_stop"))
    return evs


def anthropic_json(blocks, *, usage=(10, 5)):
    content = []
    for b in blocks:
        if b[0] == "text":
            content.append({"type": "text", "text": b[1]})
        else:
            content.append({"type": "tool_use", "id": b[1], "name": b[2], "input": b[3]})
    stop = "tool_use" if any(b[0] == "tool_use" for b in blocks) else "end_turn"
    return {"id": "msg_J", "type": "message", "role": "assistant", "model": "m", "content": content,
            "stop_reason": stop, "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}


def responses_items(items):
    """items: ("message", id, text) | ("call", id, call_id, name, args)."""
    out = []
    for it in items:
        if it[0] == "message":
            out.append({"type": "message", "id": it[1], "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": it[2], "annotations": []}]})
        else:
            out.append({"type": "function_call", "id": it[1], "call_id": it[2], "name": it[3],
                        "arguments": json.dumps(it[4]), "status": "completed"})
    return out


def responses_json(items, *, rid="resp_J", usage=(10, 5)):
    return {"id": rid, "object": "response", "status": "completed", "output": responses_items(items),
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1], "total_tokens": sum(usage)}}


def responses_events(items, *, rid="resp_A", usage=(10, 5)):
    full = responses_items(items)
    seq = iter(range(1000))

    def ev(t, **d):
        return encode({"type": t, "sequence_number": next(seq), **d}, t)

    base = {"id": rid, "object": "response", "status": "in_progress", "output": []}
    evs = [ev("response.created", response=base), ev("response.in_progress", response=base)]
    for i, item in enumerate(full):
        if item["type"] == "message":
            evs.append(ev("response.output_item.added", output_index=i, item={**item, "content": []}))
            evs.append(ev("response.output_text.delta", item_id=item["id"], output_index=i, content_index=0,
                          delta=item["content"][0]["text"]))
        else:
            evs.append(ev("response.output_item.added", output_index=i, item={**item, "arguments": ""}))
            evs.append(ev("response.function_call_arguments.delta", item_id=item["id"], output_index=i,
                          delta=item["arguments"]))
        evs.append(ev("response.output_item.done", output_index=i, item=item))
    evs.append(ev("response.completed", response={**base, "status": "completed", "output": full,
                                                  "usage": {"input_tokens": usage[0], "output_tokens": usage[1],
                                                            "total_tokens": sum(usage)}}))
    return evs


class Relay:
    """Executes the retrieval driver's actions without IO: scripted upstream rounds, a dict for a store."""

    def __init__(self, provider, body, store: dict, prev_fp=""):
        self.provider, self.body, self.prev_fp = provider, body, prev_fp
        self.store = store
        self.sent: list[dict] = []  # continuation bodies
        self.driver = None
        self.ex = retrieval.make_exchange(provider, body, prev_fp)  # for tests that feed an exchange directly
        self._record = None

    def _run(self, stream: bool, rounds: list[bytes], chunk: int):
        self.driver = d = Retrieval(self.provider, self.body, self.prev_fp, stream=stream,
                                    headers=[("content-type", "application/json")])
        self.ex = d.exchange
        rounds = list(rounds)
        shown: list[Event] = []
        responses: list[dict] = []

        def body_of(raw: bytes) -> list:
            out = []
            for i in range(0, len(raw), chunk):
                out += d.receive_data(raw[i:i + chunk])
            return out + d.end_of_body()

        actions = body_of(rounds.pop(0))
        while actions:
            action = actions.pop(0)
            if isinstance(action, SendToClient):
                shown += action.events
            elif isinstance(action, AnswerCalls):
                actions += d.answered({c.call_id: retrieval.answer_call(c.arguments, self.store.get, 3600)
                                       for c in action.calls})
            elif isinstance(action, ContinueUpstream):
                self.sent.append(json.loads(action.data))
                raw = rounds.pop(0)
                actions += d.continuation_response(200, [], None if stream else raw)
                if stream:
                    actions += body_of(raw)
            else:
                assert isinstance(action, Done) and not actions
                self._record = action.record
                if action.response is not None:
                    responses.append(json.loads(action.response.body))
        return shown, responses

    def stream(self, rounds: list[list[Event]], chunk=7) -> list[Event]:
        shown, _ = self._run(True, [b"".join(e.raw for e in r) for r in rounds], chunk)
        return shown

    def json(self, rounds: list[dict]) -> dict:
        _, (final,) = self._run(False, [json.dumps(r).encode() for r in rounds], 1 << 20)
        return final

    def record(self):
        return self._record


def make_original():
    return "".join(f"2026-11-24 04:{i:02d}:00 INFO worker {i} ok\n" for i in range(60)) + "FATAL disk full\n"
