"""OpenAI Responses (and Codex): tool outputs are `function_call_output`, `custom_tool_call_output`,
`local_shell_call_output` and `apply_patch_call_output` items of `input`. Messages, reasoning, encrypted
items and Codex's own items (`additional_tools`, `configuration_update`, ...) are opaque.

The headroom_retrieve function_call item is hidden from JSON and SSE answers, continued, and spliced back.
With `previous_response_id` the continuation chains on the server's stored response (input = just the
function_call_output), and the client's next turn chains on the last response id, which already holds
the hidden exchange: nothing to splice. Without it the whole input is sent, and the hidden items are put
back into later turns' input like the other providers' messages.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.providers.base import (Provider, Questions, ToolCall, Unit, args_json, clip_query, json_args,
                                          text_of, text_parts)
from headroom.core.retrieval.base import Exchange, deep, fingerprint, message_fp, serialise, sum_usage
from headroom.core.retrieval.sse import Event, encode
from headroom.core.retrieval.tool import DESCRIPTION, Call, schema
from headroom.core.shaper import MECHANICAL, OTHER, lower_effort
from headroom.core.usage import Usage, as_count

__all__ = ["OUTPUT_TYPES", "PROVIDER", "OpenAIResponses", "ResponsesExchange", "apply_record", "candidates",
           "find_units", "shape_output", "signature", "turn_kind"]

NAME = "openai_responses"
_PATH = re.compile(r"(^|/)responses$")


# --- requests: tool outputs and questions ------------------------------------------------------------


OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output", "local_shell_call_output",
                "apply_patch_call_output")
_CALL_TYPES = {"function_call", "custom_tool_call", "local_shell_call", "apply_patch_call"}
# Calls whose items carry no `name`: the tool is the item type.
_IMPLICIT_NAMES = {"local_shell_call": "local_shell", "apply_patch_call": "apply_patch",
                   "local_shell_call_output": "local_shell", "apply_patch_call_output": "apply_patch"}


def find_units(body: dict[str, Any]) -> list[Unit]:
    items = body.get("input")
    if not isinstance(items, list):
        return []
    q = Questions()
    calls: dict[str, tuple[str | None, str]] = {}  # call_id -> (tool name, arguments or input)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind in (None, "message") and item.get("role") == "user":
            q.ask(clip_query(text_of(item.get("content"))))
        elif kind in _CALL_TYPES:
            name = _IMPLICIT_NAMES.get(kind, item.get("name"))
            args = next((item[k] for k in ("arguments", "input", "action") if item.get(k) is not None), None)
            calls[str(item.get("call_id"))] = (name if isinstance(name, str) else None, args_json(args))
        elif kind in OUTPUT_TYPES:
            name, args = calls.get(str(item.get("call_id")), (None, ""))
            if name is None:
                name = _IMPLICIT_NAMES.get(kind)
            output = item.get("output")
            if isinstance(output, str):
                if output:
                    q.unit(("input", i, "output"), output, name, q.current, tool_args=args)
            elif isinstance(output, list):  # a list of content parts: only the text ones are tool output text
                for j, part in enumerate(output):
                    if (isinstance(part, dict) and part.get("type") in ("input_text", "output_text")
                            and isinstance(part.get("text"), str) and part["text"]):
                        q.unit(("input", i, "output", j, "text"), part["text"], name, q.current, tool_args=args)
    return q.finish()


# --- retrieval: the hidden call in answers, the continuation, splicing ---------------------------------


_FINAL = ("response.completed", "response.incomplete", "response.failed")


def signature(item: Any) -> str:
    if isinstance(item, str):
        return "user:" + item
    if not isinstance(item, dict):
        return ""
    if item.get("call_id") and item.get("type", "").endswith("_call"):
        return "call:" + str(item["call_id"])
    if item.get("type") == "reasoning":
        return "reasoning:" + str(item.get("id") or item.get("encrypted_content") or "")
    if item.get("role") == "assistant":
        content = item.get("content")
        if isinstance(content, str):
            return "assistant:" + content
        return "assistant:" + "".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
    return str(item.get("type") or item.get("role") or "")


def _is_hidden_item(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "function_call" and item.get("name") == RETRIEVE_TOOL_NAME


def _scrub(resp: dict[str, Any]) -> bool:
    """Drop the injected tool from the tools a response object echoes back; True if it was there."""
    tools = resp.get("tools")
    if not isinstance(tools, list):
        return False
    kept = [t for t in tools if not (isinstance(t, dict) and t.get("name") == RETRIEVE_TOOL_NAME)]
    if len(kept) == len(tools):
        return False
    resp["tools"] = kept
    return True


class ResponsesExchange(Exchange):
    provider = NAME

    def __init__(self, body: dict[str, Any], *, prev_fp: str = ""):
        self.continued: list[Any] = []  # items added to the input by continued rounds (all of them, exact)
        self.shown: list[Any] = []  # visible output items of continued rounds, in the client's order
        self.chained = bool(body.get("previous_response_id"))
        super().__init__(body, prev_fp=prev_fp)

    def _reset_round(self) -> None:
        super()._reset_round()
        self.items: dict[int, dict[str, Any]] = {}
        self.order: list[int] = []
        self.hidden_idx: set[int] = set()
        self.vis_map: dict[int, int] = {}
        self.response_id = None

    def _visible_out(self) -> list[Any]:
        return [self.items[i] for i in self.order if i not in self.hidden_idx]

    # --- streaming ----------------------------------------------------------------------------------

    def feed(self, ev: Event) -> list[Event]:
        obj = ev.json()
        if not isinstance(obj, dict):
            return self._emit(ev)
        kind = obj.get("type", "")
        changed = isinstance(obj.get("response"), dict) and _scrub(obj["response"])
        if kind in ("response.created", "response.in_progress", "response.queued"):
            if self.rounds:
                return []
        elif kind == "response.output_item.added":
            idx = obj.get("output_index", len(self.order))
            item = obj.get("item") or {}
            self.items[idx] = deep(item)
            self.order.append(idx)
            if _is_hidden_item(item):
                self.hidden_idx.add(idx)
            else:
                self.vis_map[idx] = len(self.shown) + len(self.vis_map)
                if str(item.get("type", "")).endswith("_call"):
                    self.visible_calls += 1
        elif kind == "response.output_item.done":
            idx = obj.get("output_index")
            if idx in self.items and isinstance(obj.get("item"), dict):
                self.items[idx] = deep(obj["item"])
        elif kind in _FINAL:
            resp = obj.get("response") or {}
            self.response_id = resp.get("id")
            if self.hidden_idx:
                self.holding = True
                self._final_usage = resp.get("usage")
            elif self.rounds:
                self._merge_final(resp)
                changed = True
        if "output_index" in obj:
            idx = obj["output_index"]
            if idx in self.hidden_idx:
                return []
            new_idx = self.vis_map.get(idx, idx)
            if new_idx != idx:
                obj["output_index"] = new_idx
                changed = True
        if "sequence_number" in obj and not self.holding and obj["sequence_number"] != self.emitted:
            obj["sequence_number"] = self.emitted
            changed = True
        return self._emit(self._reencode(ev, obj) if changed else ev)

    def _merge_final(self, resp: dict[str, Any]) -> None:
        _scrub(resp)
        resp["output"] = self.shown + [o for o in resp.get("output") or [] if not _is_hidden_item(o)]
        self._add_prior_usage(resp)

    def end_round(self) -> list[Call]:
        self.hidden = [Call(str(self.items[i].get("call_id", "")), str(self.items[i].get("arguments", "")))
                       for i in self.order if i in self.hidden_idx]
        return list(self.hidden)

    def _collect_usage(self, obj: dict[str, Any]) -> None:
        if obj.get("type") in _FINAL:
            sum_usage(self.prior_usage, (obj.get("response") or {}).get("usage"))

    def error_event(self, ev: Event) -> Event:
        obj = ev.json()
        if isinstance(obj, dict):  # the SDKs' ResponseErrorEvent has a sequence_number, numbered like the rest
            obj["sequence_number"] = self.emitted
            ev = self._reencode(ev, obj)
        return super().error_event(ev)

    def _finish_obj(self, obj: dict[str, Any], position: int) -> bool:
        if obj.get("type") in _FINAL:
            self._merge_final(obj.get("response") or {})
        if "sequence_number" in obj:
            obj["sequence_number"] = position
        return True

    # --- non-streaming ------------------------------------------------------------------------------

    def feed_response(self, resp: dict[str, Any]) -> list[Call]:
        self.last_response = resp
        self.response_id = resp.get("id")
        for i, item in enumerate(resp.get("output") or []):
            self.items[i] = deep(item)
            self.order.append(i)
            if _is_hidden_item(item):
                self.hidden_idx.add(i)
            elif str(item.get("type", "")).endswith("_call"):
                self.visible_calls += 1
        return self.end_round()

    def final_response(self) -> dict[str, Any]:
        resp = deep(self.last_response)
        self._merge_final(resp)
        return resp

    # --- continuation -------------------------------------------------------------------------------

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict[str, Any]:
        self._close_round()
        outputs = [{"type": "function_call_output", "call_id": c.call_id, "output": results[c.call_id]}
                   for c in self.hidden]
        round_items = [self.items[i] for i in self.order]
        body = dict(self.body)
        if self.chained and self.response_id:
            body["previous_response_id"] = self.response_id
            body["input"] = outputs
        else:
            prior = self.body.get("input")
            if isinstance(prior, str):
                prior = [{"role": "user", "content": prior}]
            body["input"] = list(prior or []) + round_items + outputs
        if last_round:
            body["tool_choice"] = "none"
        self.continued += round_items + outputs
        self.shown += self._visible_out()
        return self._next_round(body)

    def record(self, results: dict[str, str] | None = None) -> tuple[str, str] | None:
        if self.chained:
            return None  # the server's stored chain already has the exchange
        hidden = [self.items[i] for i in self.order if i in self.hidden_idx]
        if not self.continued and not hidden:
            return None
        final_visible = self._visible_out()
        visible = self.shown + final_visible
        if not visible:
            return None
        rec = {
            "replace": self.continued,
            "n_shown": len(self.shown),
            "sigs": [signature(x) for x in visible],
            "insert": hidden + [{"type": "function_call_output", "call_id": it.get("call_id"),
                                 "output": (results or {}).get(str(it.get("call_id")), "")} for it in hidden],
        }
        return fingerprint(NAME, self.prev_fp, signature(visible[0])), serialise(rec)


def candidates(items: Any) -> list[tuple[int, str]]:
    if not isinstance(items, list):
        return []
    out = []
    for i, it in enumerate(items):
        if i and not (isinstance(it, dict) and it.get("role") in ("user", "system", "developer")
                      or (isinstance(it, dict) and it.get("type") == "function_call_output")):
            out.append((i, fingerprint(NAME, message_fp(items[i - 1]), signature(it))))
    return out


def apply_record(items: list[Any], found: dict[int, str]) -> list[Any]:
    out: list[Any] = []
    i = 0
    while i < len(items):
        rec_raw = found.get(i)
        if rec_raw is None:
            out.append(items[i])
            i += 1
            continue
        rec = json.loads(rec_raw)
        matched = _match(items, i, rec["sigs"], rec["n_shown"])
        if matched is None:
            out.append(items[i])  # the client changed its history: leave it as it is
            i += 1
            continue
        final_start, end = matched
        out.extend(rec["replace"])
        out.extend(items[final_start:end])
        out.extend(rec["insert"])
        i = end
    return out


def _match(items: list[Any], start: int, sigs: list[str], n_shown: int) -> tuple[int, int] | None:
    """Where the client's items from `start` hold the visible items `sigs` the proxy showed (a client may
    leave out reasoning items but the first, which anchors the record): (where the final round's items
    begin, where they end), or None."""
    j, final_start = start, start
    for k, sig in enumerate(sigs):
        if k == n_shown:
            final_start = j
        if j < len(items) and signature(items[j]) == sig:
            j += 1
        elif not (k and sig.startswith("reasoning:")):
            return None
    return (j if n_shown >= len(sigs) else final_start), j


# --- the conversation as events (core.needed) ----------------------------------------------------


_MODEL_ITEMS = _CALL_TYPES | {"reasoning"}  # items of the model's turns


def _tool_call(item: dict[str, Any]) -> ToolCall:
    kind = item["type"]
    if kind == "custom_tool_call":
        args: Any = item.get("input") if isinstance(item.get("input"), str) else ""
    elif kind == "local_shell_call":
        action = item.get("action")
        cmd = action.get("command") if isinstance(action, dict) else None
        args = {"cmd": " ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "")}
    elif kind == "apply_patch_call":
        args = item.get("operation") or item.get("input") or {}
    else:
        args = json_args(item.get("arguments"))
    name = item.get("name") or {"local_shell_call": "local_shell", "apply_patch_call": "apply_patch"}.get(kind, "")
    return ToolCall(str(item.get("call_id") or item.get("id")), str(name), args)


# --- the Provider ------------------------------------------------------------------------------------


def _usage(u: dict[str, Any]) -> Usage:
    details = u.get("input_tokens_details") or {}
    return Usage(input=as_count(u.get("input_tokens")), cache_read=as_count(details.get("cached_tokens")),
                 output=as_count(u.get("output_tokens")), reported=True)


class OpenAIResponses(Provider):
    name = NAME
    precedence = 20
    history_field = "input"
    exchange_class = ResponsesExchange

    def handles(self, host: str, path: str) -> bool:
        return _PATH.search(path) is not None

    def find_units(self, body: dict[str, Any]) -> list[Unit]:
        return find_units(body)

    def first_user_text(self, body: dict[str, Any]) -> str:
        items = body.get("input")
        if isinstance(items, str):  # the shorthand: the whole input is one user message
            return items
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and item.get("type") in (None, "message") and item.get("role") == "user":
                text = text_of(item.get("content"))
                if text:
                    return text
        return ""

    def conversation(self, body: dict[str, Any]) -> Iterator[tuple[int, bool, tuple[Any, ...]]]:
        items = body.get("input")
        if isinstance(items, str):
            yield 0, False, ("text", items)
            return
        for turn, item in enumerate(items if isinstance(items, list) else ()):
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            model = kind in _MODEL_ITEMS or (kind in (None, "message") and item.get("role") == "assistant")
            if kind in _CALL_TYPES:
                yield turn, True, ("call", _tool_call(item))
            elif isinstance(kind, str) and kind.endswith("_call_output"):
                yield turn, False, ("result", str(item.get("call_id")), "\n".join(text_parts(item.get("output"))))
            elif kind in (None, "message"):
                for text in text_parts(item.get("content")):
                    yield turn, model, ("text", text)

    def usage_of(self, obj: Any) -> Usage | None:
        if not isinstance(obj, dict):
            return None
        if isinstance(obj.get("response"), dict):  # a stream event wrapping the response object
            obj = obj["response"]
        u = obj.get("usage")
        return _usage(u) if isinstance(u, dict) else None

    def stream_ends(self, data: str, obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("type") in _FINAL

    def tool_definition(self) -> dict[str, Any]:
        return {"type": "function", "name": RETRIEVE_TOOL_NAME, "description": DESCRIPTION, "parameters": schema()}

    def watches(self, path: str) -> bool:
        return path.partition("?")[0].rstrip("/").endswith("/responses")

    def history(self, body: dict[str, Any]) -> list[Any] | None:
        value = body.get("input")
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
        return value if isinstance(value, list) else None

    def splice_candidates(self, items: list[Any]) -> list[tuple[int, str]]:
        return candidates(items)

    def apply_record(self, items: list[Any], found: dict[int, str]) -> list[Any]:
        return apply_record(items, found)

    def error_event(self, message: str) -> Event:
        return encode({"type": "error", "code": "headroom_retrieve_error", "message": message, "param": None,
                       "sequence_number": 0}, "error")

    # --- output shaping ---------------------------------------------------------------------------------

    def turn_kind(self, body: dict[str, Any]) -> str:
        return turn_kind(body)

    def shape_output(self, body: dict[str, Any], instruction: str, mechanical: bool,
                     path: str = "") -> tuple[dict[str, Any], tuple[str, ...]]:
        return shape_output(body, instruction, mechanical)


# --- output shaping (core.shaper) ---------------------------------------------------------------------
#
# Where the instruction goes: a developer message of its own in `input`, right after the leading system /
# developer items (Codex 0.169 sends no `instructions`, and a preamble of developer items), never into
# `instructions`: ChatGPT's Codex backend refuses instructions that are not
# its own prompt (400 "Instructions are not valid", openai/codex#3202, #3376). OpenAI caches by exact prefix
# (instructions, tools, then input): the new item is the same bytes at the same place every turn, so from
# the second turn on the prefix hits as far as it did unshaped. A request continuing a stored response
# (`previous_response_id`) is not steered: the server keeps its earlier input, where the instruction already
# is (a second copy per turn would pile up); nor is the `input` string shorthand (one message, no history).
#
# Effort: `reasoning.effort` ("none" < "minimal" < "low" < "medium" < "high" < "xhigh", the API reference's
# Reasoning object) goes down to "low", which every reasoning model accepts; never added.


def _is_call_output(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("type"), str) and item["type"].endswith("_call_output")


def _failed(item: dict[str, Any]) -> bool:
    output = item.get("output")  # some tools' outputs are objects that say whether the call succeeded
    return isinstance(output, dict) and output.get("success") is False


def turn_kind(body: dict[str, Any]) -> str:
    """Mechanical: the items after the model's last one are all tool call outputs (at least one, none saying
    it failed); with `previous_response_id`, an input of call outputs only."""
    items = body.get("input")
    if not isinstance(items, list) or not items:
        return OTHER
    i = len(items)
    while i > 0 and _is_call_output(items[i - 1]):
        if _failed(items[i - 1]):
            return OTHER
        i -= 1
    if i == len(items):
        return OTHER
    if i == 0:
        return MECHANICAL if body.get("previous_response_id") else OTHER
    before = items[i - 1]
    kind = before.get("type") if isinstance(before, dict) else None
    model = kind in _MODEL_ITEMS or kind in _CALL_TYPES or (
        kind in (None, "message") and isinstance(before, dict) and before.get("role") == "assistant")
    return MECHANICAL if model else OTHER


def _is_lead(item: Any) -> bool:
    # Any item of the system or developer role: Codex's preamble mixes messages with items of its own
    # (`additional_tools`), all role "developer"; the instruction goes after all of them.
    return isinstance(item, dict) and item.get("role") in ("system", "developer")


def shape_output(body: dict[str, Any], instruction: str, mechanical: bool) -> tuple[dict[str, Any], tuple[str, ...]]:
    out = dict(body)
    changes: list[str] = []
    items = body.get("input")
    if instruction and body.get("previous_response_id"):
        changes.append("skipped:previous_response")
    elif instruction and isinstance(items, list):
        ours = {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": instruction}]}
        lead = 0
        while lead < len(items) and _is_lead(items[lead]):
            lead += 1
        if not (lead and items[lead - 1] == ours):
            out["input"] = [*items[:lead], ours, *items[lead:]]
            changes.append("instruction")
    reasoning = body.get("reasoning")
    if mechanical and isinstance(reasoning, dict) and (low := lower_effort(reasoning.get("effort"))):
        out["reasoning"] = {**reasoning, "effort": low}
        changes.append(f"effort:{reasoning['effort']}->{low}")
    return (out, tuple(changes)) if any(not c.startswith("skipped:") for c in changes) else (body, tuple(changes))


PROVIDER = OpenAIResponses()
