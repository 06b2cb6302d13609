"""OpenAI Chat Completions: tool outputs are `role: "tool"` (or legacy "function") messages; the
headroom_retrieve call is hidden from JSON and SSE answers, continued, and spliced back into later turns."""
from __future__ import annotations

import re
from typing import Any, Iterator

from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.providers.base import (Provider, Questions, ToolCall, Unit, args_json, clip_query,
                                          first_message_text, json_args, text_of, text_parts)
from headroom.core.retrieval.base import (Exchange, deep, fingerprint, role_candidates, serialise, splice_records,
                                          strip_shown, sum_usage)
from headroom.core.retrieval.sse import Event
from headroom.core.retrieval.tool import DESCRIPTION, Call, schema
from headroom.core.shaper import MECHANICAL, OTHER, appended, lower_effort
from headroom.core.usage import Usage, as_count

__all__ = ["PROVIDER", "ChatExchange", "OpenAIChat", "apply_record", "candidates", "find_units", "shape_output",
           "signature", "turn_kind"]

NAME = "openai_chat"
_PATH = re.compile(r"(^|/)chat/completions$")

# --- requests: tool outputs and questions ------------------------------------------------------------


def find_units(body: dict[str, Any]) -> list[Unit]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    q = Questions()
    calls: dict[str, tuple[str | None, str]] = {}  # tool_call id -> (function name, arguments)
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role == "user":
            q.ask(clip_query(text_of(msg.get("content"))))
        elif role == "assistant":
            for call in msg.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("function"), dict):
                    fn = call["function"]
                    calls[str(call.get("id"))] = (str(fn.get("name") or "") or None, args_json(fn.get("arguments")))
        elif role in ("tool", "function"):
            name, args = calls.get(str(msg.get("tool_call_id")), (None, "")) if role == "tool" else (msg.get("name"), "")
            _content_units(q, ("messages", i), msg, name, args)
    return q.finish()


def _content_units(q: Questions, base: tuple[Any, ...], msg: dict[str, Any], name: Any, args: str) -> None:
    content = msg.get("content")
    name = name if isinstance(name, str) else None
    if isinstance(content, str):
        if content:
            q.unit((*base, "content"), content, name, q.current, tool_args=args)
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
                    and part["text"]):
                q.unit((*base, "content", j, "text"), part["text"], name, q.current, tool_args=args)


# --- retrieval: the hidden call in answers, the continuation, splicing ---------------------------------


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def signature(message: dict[str, Any]) -> str:
    """What identifies an assistant message however the client re-serialises it: its text and its calls by
    name and arguments (a client may give calls ids of its own)."""
    calls = [str(fn.get("name", "")) + str(fn.get("arguments", "")) for tc in message.get("tool_calls") or []
             if isinstance(tc, dict) and isinstance(fn := tc.get("function"), dict)]
    return _text(message.get("content")) + "\x1f" + ",".join(calls)


class ChatExchange(Exchange):
    provider = NAME

    def __init__(self, body: dict[str, Any], *, prev_fp: str = ""):
        self.first_meta: dict[str, Any] | None = None
        self.continued: list[dict[str, Any]] = []  # per continued round: assistant message + tool messages
        self.prefix_text = ""  # text of continued rounds, shown to the client before the final text
        super().__init__(body, prev_fp=prev_fp)

    def _reset_round(self) -> None:
        super()._reset_round()
        self.text = ""
        self.calls: dict[int, dict[str, Any]] = {}  # upstream index -> {"id", "name", "arguments", "hidden", "vis"}
        self.order: list[int] = []
        self.final_message: dict[str, Any] | None = None

    # --- streaming ----------------------------------------------------------------------------------

    def feed(self, ev: Event) -> list[Event]:
        if ev.data.strip() == "[DONE]":
            return self._emit(ev)
        obj = ev.json()
        if not isinstance(obj, dict):
            return self._emit(ev)
        changed = False
        if self.first_meta is None:
            self.first_meta = {k: obj[k] for k in ("id", "created") if k in obj}
        elif self.rounds:
            for k, v in self.first_meta.items():
                if obj.get(k) != v:
                    obj[k] = v
                    changed = True
        finishing = False
        for choice in obj.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                self.text += delta["content"]
            tcs = delta.get("tool_calls")
            if isinstance(tcs, list):
                kept = []
                for tc in tcs:
                    if not isinstance(tc, dict):
                        kept.append(tc)
                        continue
                    idx = tc.get("index", 0)
                    call = self.calls.get(idx)
                    fn = tc.get("function") or {}
                    if call is None:
                        call = self.calls[idx] = {"id": tc.get("id") or "", "name": fn.get("name") or "",
                                                  "arguments": "", "hidden": self._is_retrieve(fn.get("name"))}
                        self.order.append(idx)
                        if not call["hidden"]:
                            call["vis"] = self.visible_calls
                            self.visible_calls += 1
                    call["arguments"] += fn.get("arguments") or ""
                    if call["hidden"]:
                        changed = True
                        continue
                    if call["vis"] != idx:
                        tc = dict(tc, index=call["vis"])
                        changed = True
                    kept.append(tc)
                if changed:
                    if kept:
                        delta["tool_calls"] = kept
                    else:
                        delta.pop("tool_calls")
            if choice.get("finish_reason") is not None:
                finishing = True
        if finishing and self.hidden_ids():
            self.holding = True
        if self.prior_usage and not self.holding and isinstance(obj.get("usage"), dict):
            obj["usage"] = sum_usage(deep(obj["usage"]), self.prior_usage)
            changed = True
        if changed and self._empty(obj):
            return []
        return self._emit(self._reencode(ev, obj) if changed else ev)

    @staticmethod
    def _empty(obj: dict[str, Any]) -> bool:
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            if any(v not in (None, "", []) for k, v in delta.items() if k != "role") or choice.get("finish_reason"):
                return False
            if choice.get("logprobs"):
                return False
        return not obj.get("usage")

    def hidden_ids(self) -> list[int]:
        return [i for i in self.order if self.calls[i]["hidden"]]

    def end_round(self) -> list[Call]:
        self.hidden = [Call(self.calls[i]["id"], self.calls[i]["arguments"]) for i in self.hidden_ids()]
        return list(self.hidden)

    def _collect_usage(self, obj: dict[str, Any]) -> None:
        sum_usage(self.prior_usage, obj.get("usage"))

    def _finish_obj(self, obj: dict[str, Any], position: int) -> bool:
        """The model's finish, with every round's usage added up."""
        for choice in obj.get("choices") or []:
            if not self.visible_calls and choice.get("finish_reason") == "tool_calls":
                choice["finish_reason"] = "stop"
        if obj.get("usage") and self.prior_usage:
            obj["usage"] = sum_usage(deep(obj["usage"]), self.prior_usage)
        return True

    # --- non-streaming ------------------------------------------------------------------------------

    def feed_response(self, resp: dict[str, Any]) -> list[Call]:
        self.last_response = resp
        choices = resp.get("choices") or []
        msg = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
        if not isinstance(msg, dict):
            return []
        content = msg.get("content")
        self.text = content if isinstance(content, str) else ""
        for i, tc in enumerate(msg.get("tool_calls") or []):
            fn = tc.get("function") or {}
            hidden = self._is_retrieve(fn.get("name"))
            self.calls[i] = {"id": tc.get("id") or "", "name": fn.get("name") or "",
                             "arguments": fn.get("arguments") or "", "hidden": hidden}
            self.order.append(i)
            if not hidden:
                self.visible_calls += 1
        return self.end_round()

    def final_response(self) -> dict[str, Any]:
        resp = deep(self.last_response)
        choices = resp.get("choices") or []
        if choices and isinstance(choices[0].get("message"), dict):
            msg = choices[0]["message"]
            if self.hidden_ids():
                kept = [tc for tc in msg.get("tool_calls") or [] if not self._is_retrieve((tc.get("function") or {}).get("name"))]
                if kept:
                    msg["tool_calls"] = kept
                else:
                    msg.pop("tool_calls", None)
                    if choices[0].get("finish_reason") == "tool_calls":
                        choices[0]["finish_reason"] = "stop"
            if self.prefix_text:
                msg["content"] = self.prefix_text + (msg.get("content") or "")
        self._add_prior_usage(resp)
        return resp

    # --- continuation -------------------------------------------------------------------------------

    def _assistant_message(self) -> dict[str, Any]:
        return {
            "role": "assistant",
            "content": self.text or None,
            "tool_calls": [{"id": self.calls[i]["id"], "type": "function",
                            "function": {"name": self.calls[i]["name"], "arguments": self.calls[i]["arguments"]}}
                           for i in self.order],
        }

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict[str, Any]:
        """The next request: the same body plus the assistant turn with the call and the tool results."""
        self._close_round()
        assistant = self._assistant_message()
        tools = [{"role": "tool", "tool_call_id": c.call_id, "content": results[c.call_id]} for c in self.hidden]
        body = dict(self.body)
        body["messages"] = list(self.body.get("messages") or []) + [assistant] + tools
        if last_round:
            body["tool_choice"] = "none"
        self.continued += [assistant] + tools
        self.prefix_text += self.text
        return self._next_round(body)

    def record(self, results: dict[str, str] | None = None) -> tuple[str, str] | None:
        hidden = self.hidden_ids()
        if not self.continued and not hidden:
            return None
        visible = [self.calls[i]["name"] + self.calls[i]["arguments"] for i in self.order
                   if not self.calls[i]["hidden"]]
        sig = (self.prefix_text + self.text) + "\x1f" + ",".join(visible)
        rec = {
            "v": 2,
            "replace": self.continued,
            "strip": self.prefix_text,
            "calls": [[self.order.index(i), {"id": self.calls[i]["id"], "type": "function",
                       "function": {"name": self.calls[i]["name"], "arguments": self.calls[i]["arguments"]}}]
                      for i in hidden],
            "results": [{"role": "tool", "tool_call_id": self.calls[i]["id"],
                         "content": (results or {}).get(self.calls[i]["id"], "")} for i in hidden],
        }
        return fingerprint(NAME, self.prev_fp, sig), serialise(rec)


def candidates(messages: list[Any]) -> list[tuple[int, str]]:
    """(index, fingerprint) of every assistant message that might have a hidden exchange."""
    return role_candidates(NAME, messages, "assistant", signature)


def _rebuild(m: dict[str, Any], rec: dict[str, Any]) -> tuple[list[Any], None]:
    """The continued rounds, the message without their text, its hidden calls, then their tool messages;
    the message as the client has it when its text does not start with theirs."""
    v = dict(m)
    content = v.get("content")
    if rec.get("v") != 2:
        return [m], None
    if rec["strip"]:
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list):
            return [m], None
        kept = strip_shown(parts, [{"type": "text", "text": rec["strip"]}], _part_text, lambda p: False,
                           lambda p, t: dict(p, text=t))
        if kept is None:
            return [m], None
        v["content"] = (_text(kept) or None) if isinstance(content, str) else (kept or None)
    if rec["calls"]:
        calls = list(v.get("tool_calls") or [])
        for pos, call in rec["calls"]:
            calls.insert(min(pos, len(calls)), call)
        v["tool_calls"] = calls
    return rec["replace"] + [v] + rec["results"], None


def _part_text(part: Any) -> str | None:
    return part["text"] if isinstance(part, dict) and isinstance(part.get("text"), str) else None


def apply_record(messages: list[Any], found: dict[int, str]) -> list[Any]:
    """`messages` with the hidden exchanges put back: `found` maps an assistant message's index to its record."""
    return splice_records(messages, found, _rebuild)

# --- the Provider ------------------------------------------------------------------------------------

def _usage(u: dict[str, Any]) -> Usage:
    details = u.get("prompt_tokens_details") or {}
    return Usage(input=as_count(u.get("prompt_tokens")), cache_read=as_count(details.get("cached_tokens")),
                 output=as_count(u.get("completion_tokens")), reported=True)


class OpenAIChat(Provider):
    name = NAME
    precedence = 10
    history_field = "messages"
    exchange_class = ChatExchange

    def handles(self, host: str, path: str) -> bool:
        return _PATH.search(path) is not None

    def find_units(self, body: dict[str, Any]) -> list[Unit]:
        return find_units(body)

    def first_user_text(self, body: dict[str, Any]) -> str:
        return first_message_text(body)

    def conversation(self, body: dict[str, Any]) -> Iterator[tuple[int, bool, tuple[Any, ...]]]:
        for i, msg in enumerate(body.get("messages") or ()):
            if not isinstance(msg, dict):
                continue
            role = msg.get("role")
            model = role == "assistant"
            if role in ("tool", "function"):
                ident = str(msg.get("tool_call_id") if role == "tool" else msg.get("name"))
                yield i, False, ("result", ident, "\n".join(text_parts(msg.get("content"))))
                continue
            for text in text_parts(msg.get("content")):
                yield i, model, ("text", text)
            for c in msg.get("tool_calls") or () if model else ():
                fn = c.get("function") if isinstance(c, dict) else None
                if isinstance(fn, dict):
                    yield i, True, ("call", ToolCall(str(c.get("id")), str(fn.get("name") or ""),
                                                  json_args(fn.get("arguments"))))

    def usage_of(self, obj: Any) -> Usage | None:
        u = obj.get("usage") if isinstance(obj, dict) else None
        return _usage(u) if isinstance(u, dict) else None

    def stream_ends(self, data: str, obj: Any) -> bool:
        return data.strip() == "[DONE]"

    def tool_definition(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": RETRIEVE_TOOL_NAME, "description": DESCRIPTION,
                                                 "parameters": schema()}}

    def tool_names(self, tools: list[Any]) -> set[str]:
        names: set[str] = set()
        for t in tools:
            if not isinstance(t, dict):
                continue
            fn = t.get("function")
            if isinstance(fn, dict):
                names.add(str(fn.get("name")))
            names.add(str(t.get("name")))  # custom tools carry the name at the top level
        return names

    def watches(self, path: str) -> bool:
        return path.partition("?")[0].rstrip("/").endswith("/chat/completions")

    def splice_candidates(self, items: list[Any]) -> list[tuple[int, str]]:
        return candidates(items)

    def apply_record(self, items: list[Any], found: dict[int, str]) -> list[Any]:
        return apply_record(items, found)

    # --- output shaping ---------------------------------------------------------------------------------

    def turn_kind(self, body: dict[str, Any]) -> str:
        return turn_kind(body)

    def shape_output(self, body: dict[str, Any], instruction: str, mechanical: bool,
                     path: str = "") -> tuple[dict[str, Any], tuple[str, ...]]:
        return shape_output(body, instruction, mechanical)


# --- output shaping (core.shaper) ---------------------------------------------------------------------
#
# Where the instruction goes: at the end of the last message of the leading run of system / developer
# messages (appended to its text after a blank line, or as a text part of its own), or as a new system message
# first when there is none. OpenAI caches by exact prefix, automatically, from 1024 tokens on (platform.openai
# .com/docs/guides/prompt-caching): the system prompt comes first, and with the instruction it is the same
# bytes every turn, so from the second turn on the prefix hits as far as it did unshaped. Other servers that
# speak this API cache by prefix too, where they cache at all.
#
# Effort: `reasoning_effort` ("none" < "minimal" < "low" < "medium" < "high" < "xhigh", the API reference's
# ReasoningEffort) goes down to "low", which every reasoning model accepts; never added.


def turn_kind(body: dict[str, Any]) -> str:
    """Mechanical: the messages after the model's last one are all tool results (role "tool", or the legacy
    "function"), at least one. Chat has no error flag on a tool message, so a failed tool reads as clean."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return OTHER
    i = len(messages)
    while i > 0 and isinstance(messages[i - 1], dict) and messages[i - 1].get("role") in ("tool", "function"):
        i -= 1
    if i == len(messages) or i == 0 or not isinstance(messages[i - 1], dict):
        return OTHER
    return MECHANICAL if messages[i - 1].get("role") == "assistant" else OTHER


def _with_instruction(message: dict[str, Any], instruction: str) -> dict[str, Any] | None:
    content = message.get("content")
    if isinstance(content, str):
        text = appended(content, instruction)
        return None if text is None else {**message, "content": text}
    if isinstance(content, list):
        ours = {"type": "text", "text": instruction}
        return None if content and content[-1] == ours else {**message, "content": [*content, ours]}
    return None  # content of a form not known here: left as sent


def shape_output(body: dict[str, Any], instruction: str, mechanical: bool) -> tuple[dict[str, Any], tuple[str, ...]]:
    out = dict(body)
    changes: list[str] = []
    messages = body.get("messages")
    if instruction and isinstance(messages, list):
        lead = 0
        while (lead < len(messages) and isinstance(messages[lead], dict)
               and messages[lead].get("role") in ("system", "developer")):
            lead += 1
        if lead == 0:
            out["messages"] = [{"role": "system", "content": instruction}, *messages]
            changes.append("instruction")
        elif (changed := _with_instruction(messages[lead - 1], instruction)) is not None:
            out["messages"] = [*messages[:lead - 1], changed, *messages[lead:]]
            changes.append("instruction")
    if mechanical and (low := lower_effort(body.get("reasoning_effort"))):
        out["reasoning_effort"] = low
        changes.append(f"effort:{body['reasoning_effort']}->{low}")
    return (out, tuple(changes)) if changes else (body, ())


PROVIDER = OpenAIChat()
