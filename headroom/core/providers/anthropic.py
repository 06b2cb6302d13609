"""Anthropic Messages: tool outputs are `tool_result` blocks in user messages (string content, or a
list whose text blocks are compressed; images and documents are left alone).

A block carrying `cache_control` is compressed like any other, and keeps its `cache_control`: agents
such as Claude Code mark their newest tool result, and the mark moves on next turn. Skipping marked
blocks would send each output once uncompressed (a cache write) and compressed from the next turn on,
changing the prompt at that point every turn; compressing it the same way every turn (deterministic,
prefix-stable) keeps the provider's cache hitting.

The headroom_retrieve tool_use block is hidden from JSON and SSE answers, continued with a tool_result,
and spliced back into later turns."""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.providers.base import (Provider, Questions, ToolCall, Unit, args_json, clip_query,
                                          first_message_text, text_parts)
from headroom.core.retrieval.base import (Exchange, canonical, deep, fingerprint, insert_at_calls, role_candidates,
                                          serialise, splice_records, strip_shown, sum_usage)
from headroom.core.retrieval.sse import Event, encode
from headroom.core.retrieval.tool import DESCRIPTION, Call, schema
from headroom.core.shaper import MECHANICAL, OTHER, is_instruction, lower_effort
from headroom.core.usage import Usage, as_count

__all__ = ["PROVIDER", "THINKING_BUDGET_FLOOR", "Anthropic", "AnthropicExchange", "apply_record", "candidates",
           "find_units", "shape_output", "signature", "turn_kind"]

NAME = "anthropic"
_PATH = re.compile(r"(^|/)v1/messages$|:(rawPredict|streamRawPredict)$")


# --- requests: tool outputs and questions ------------------------------------------------------------


def _user_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(
        b["text"] for b in content
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def find_units(body: dict[str, Any]) -> list[Unit]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    q = Questions()
    calls: dict[str, tuple[str | None, str]] = {}  # tool_use id -> (tool name, input)
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if msg.get("role") == "assistant" and isinstance(content, list):
            for b in content:
                if isinstance(b, dict) and b.get("type") in ("tool_use", "server_tool_use"):
                    name = b.get("name") if isinstance(b.get("name"), str) else None
                    calls[str(b.get("id"))] = (name, args_json(b.get("input")))
            continue
        if msg.get("role") != "user":
            continue
        # The query of a tool result is the user's text from *earlier* messages: text next to the
        # results in this same message (often a reminder appended after them) must not change them.
        if isinstance(content, list):
            for k, block in enumerate(content):
                if not isinstance(block, dict) or block.get("type") != "tool_result":
                    continue
                name, args = calls.get(str(block.get("tool_use_id")), (None, ""))
                err = block.get("is_error") is True
                inner = block.get("content")
                base = ("messages", i, "content", k, "content")
                if isinstance(inner, str):
                    if inner:
                        q.unit(base, inner, name, q.current, err, tool_args=args)
                elif isinstance(inner, list):
                    for j, part in enumerate(inner):
                        if (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
                                and part["text"]):
                            q.unit((*base, j, "text"), part["text"], name, q.current, err, tool_args=args)
        q.ask(clip_query(_user_text(content)))
    return q.finish()


# --- retrieval: the hidden call in answers, the continuation, splicing ---------------------------------


_INPUT_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def signature(message: dict[str, Any]) -> str:
    """What identifies an assistant message however the client stores it: its text, joined, and its calls
    by name and input (a client may re-id calls or drop thinking blocks)."""
    content = message.get("content")
    if isinstance(content, str):
        return content + "\x1f"
    texts, calls = [], []
    for b in content or []:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text":
            texts.append(str(b.get("text", "")))
        elif b.get("type") in ("tool_use", "server_tool_use"):
            calls.append(str(b.get("name", "")) + canonical(b.get("input") or {}))
    return "".join(texts) + "\x1f" + ",".join(calls)


def _is_hidden(block: Any) -> bool:
    """A headroom_retrieve call: the proxy answers it, the client never sees it."""
    return isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == RETRIEVE_TOOL_NAME


def _finish_block(block: dict[str, Any], partial_json: str) -> dict[str, Any]:
    if block.get("type") in ("tool_use", "server_tool_use"):
        try:
            block["input"] = json.loads(partial_json) if partial_json.strip() else {}
        except ValueError:
            block["input"] = {}
    return block


class AnthropicExchange(Exchange):
    provider = NAME

    def __init__(self, body: dict[str, Any], *, prev_fp: str = ""):
        self.round_input: dict[str, Any] = {}  # this round's input token fields, from its message_start
        self.continued: list[dict[str, Any]] = []
        self.shown_blocks = 0  # visible blocks the client got in continued rounds (start of its message)
        super().__init__(body, prev_fp=prev_fp)

    def _reset_round(self) -> None:
        super()._reset_round()
        self.blocks: dict[int, dict[str, Any]] = {}  # upstream index -> reconstructed block
        self.partial: dict[int, str] = {}
        self.order: list[int] = []
        self.hidden_idx: set[int] = set()
        self.vis_map: dict[int, int] = {}
        self.round_visible = 0

    # --- streaming ----------------------------------------------------------------------------------

    def feed(self, ev: Event) -> list[Event]:
        obj = ev.json()
        if not isinstance(obj, dict):
            return self._emit(ev)
        kind = obj.get("type")
        if kind == "message_start":
            usage = (obj.get("message") or {}).get("usage") or {}
            self.round_input = {k: usage[k] for k in _INPUT_FIELDS if isinstance(usage.get(k), int)}
            if self.rounds:
                return []  # the client already has the message; this round's input is added at the end
            return self._emit(ev)
        if kind in ("content_block_start", "content_block_delta", "content_block_stop"):
            idx = obj.get("index", 0)
            if kind == "content_block_start":
                block = deep(obj.get("content_block") or {})
                self.blocks[idx] = block
                self.partial[idx] = ""
                self.order.append(idx)
                if _is_hidden(block):
                    self.hidden_idx.add(idx)
                else:
                    self.vis_map[idx] = self.shown_blocks + self.round_visible
                    self.round_visible += 1
                    if block.get("type") == "tool_use":
                        self.visible_calls += 1
            elif kind == "content_block_delta":
                self._apply_delta(idx, obj.get("delta") or {})
            else:
                _finish_block(self.blocks.get(idx, {}), self.partial.get(idx, ""))
            if idx in self.hidden_idx:
                return []
            new_idx = self.vis_map.get(idx, idx)
            if new_idx != idx:
                obj["index"] = new_idx
                return self._emit(self._reencode(ev, obj))
            return self._emit(ev)
        if kind == "message_delta" and self.hidden_idx:
            self.holding = True
        elif kind == "message_delta" and self.rounds:
            obj["usage"] = self._total_usage(obj.get("usage") or {})
            return self._emit(self._reencode(ev, obj))
        return self._emit(ev)

    def _apply_delta(self, idx: int, delta: dict[str, Any]) -> None:
        block = self.blocks.setdefault(idx, {})
        t = delta.get("type")
        if t == "text_delta":
            block["text"] = block.get("text", "") + delta.get("text", "")
        elif t == "input_json_delta":
            self.partial[idx] = self.partial.get(idx, "") + delta.get("partial_json", "")
        elif t == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif t == "signature_delta":
            block["signature"] = delta.get("signature", "")
        elif t == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))

    def end_round(self) -> list[Call]:
        self.hidden = [Call(str(self.blocks[i].get("id", "")), canonical(self.blocks[i].get("input") or {}))
                       for i in self.order if i in self.hidden_idx]
        return list(self.hidden)

    def _collect_usage(self, obj: dict[str, Any]) -> None:
        if obj.get("type") == "message_delta":
            usage = obj.get("usage") or {}
            self.round_input.update({k: usage[k] for k in _INPUT_FIELDS if isinstance(usage.get(k), int)})
            sum_usage(self.prior_usage, {"output_tokens": usage.get("output_tokens", 0)})
            sum_usage(self.prior_usage, self.round_input)
            self.round_input = {}

    def _total_usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        """The final message_delta's usage over every round. Clients (and Stats) take message_delta's
        fields over message_start's, so the input of the rounds they never saw is counted here."""
        usage = deep(usage)
        this_round = dict(self.round_input)
        this_round.update({k: usage[k] for k in _INPUT_FIELDS if isinstance(usage.get(k), int)})
        for k, v in this_round.items():
            usage[k] = v + self.prior_usage.get(k, 0)
        usage["output_tokens"] = usage.get("output_tokens", 0) + self.prior_usage.get("output_tokens", 0)
        return usage

    def _finish_obj(self, obj: dict[str, Any], position: int) -> bool:
        if obj.get("type") != "message_delta":
            return False
        delta = obj.get("delta") or {}
        if not self.visible_calls and delta.get("stop_reason") == "tool_use":
            delta["stop_reason"] = "end_turn"
        if self.rounds:
            obj["usage"] = self._total_usage(obj.get("usage") or {})
        return True

    # --- non-streaming ------------------------------------------------------------------------------

    def feed_response(self, resp: dict[str, Any]) -> list[Call]:
        self.last_response = resp
        for i, block in enumerate(resp.get("content") or []):
            if not isinstance(block, dict):
                continue
            self.blocks[i] = deep(block)
            self.order.append(i)
            if _is_hidden(block):
                self.hidden_idx.add(i)
            else:
                self.round_visible += 1
                if block.get("type") == "tool_use":
                    self.visible_calls += 1
        return self.end_round()

    def final_response(self) -> dict[str, Any]:
        resp = deep(self.last_response)
        content = [b for b in resp.get("content") or [] if not _is_hidden(b)]
        resp["content"] = self.shown + content
        if self.hidden_idx and not self.visible_calls and resp.get("stop_reason") == "tool_use":
            resp["stop_reason"] = "end_turn"
        self._add_prior_usage(resp)
        return resp

    @property
    def shown(self) -> list[dict[str, Any]]:
        """Visible blocks of continued rounds (non-streaming: put in front of the final content)."""
        out = []
        for m in self.continued:
            if m.get("role") == "assistant":
                out += [b for b in m["content"] if not _is_hidden(b)]
        return out

    # --- continuation -------------------------------------------------------------------------------

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict[str, Any]:
        self._close_round()
        content = [self.blocks[i] for i in self.order]
        assistant = {"role": "assistant", "content": content}
        user = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": c.call_id,
                                             "content": results[c.call_id]} for c in self.hidden]}
        body = dict(self.body)
        body["messages"] = list(self.body.get("messages") or []) + [assistant, user]
        if last_round:
            body["tool_choice"] = {"type": "none"}
        self.continued += [assistant, user]
        self.shown_blocks += self.round_visible
        return self._next_round(body)

    def record(self, results: dict[str, str] | None = None) -> tuple[str, str] | None:
        hidden = [i for i in self.order if i in self.hidden_idx]
        if not self.continued and not hidden:
            return None
        visible = self.shown + [self.blocks[i] for i in self.order if i not in self.hidden_idx]
        sig = signature({"content": visible})
        blocks: list[list[Any]] = []
        answers: list[list[Any]] = []
        seen = 0
        for i in self.order:
            if i in self.hidden_idx:
                b = self.blocks[i]
                blocks.append([seen, b])
                answers.append([seen, {"type": "tool_result", "tool_use_id": b.get("id"),
                                       "content": (results or {}).get(str(b.get("id")), "")}])
            elif self.blocks[i].get("type") == "tool_use":
                seen += 1
        rec = {"v": 2, "replace": self.continued, "shown": self.shown, "blocks": blocks, "results": answers}
        return fingerprint(NAME, self.prev_fp, sig), serialise(rec)


def _text(block: Any) -> str | None:
    return block["text"] if isinstance(block, dict) and block.get("type") == "text" and \
        isinstance(block.get("text"), str) else None


def _thought(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in ("thinking", "redacted_thinking")


def _with_text(block: Any, text: str) -> Any:
    return dict(block, text=text)


def _is_call(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_use"


def _is_result(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_result"


def candidates(messages: list[Any]) -> list[tuple[int, str]]:
    return role_candidates(NAME, messages, "assistant", signature)


def _join_results(m: Any, results: list[Any]) -> dict[str, Any] | None:
    """The next user message with the hidden calls' results among its own, in call order (and before its
    text, where the API wants tool results)."""
    if not (isinstance(m, dict) and m.get("role") == "user"):
        return None
    content = m.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    return dict(m, content=insert_at_calls(blocks, results, _is_result, front=True))


def _rebuild(m: dict[str, Any], rec: dict[str, Any]) -> tuple[list[Any], list[Any] | None]:
    """The hidden rounds as they went upstream, then the client's message without what it holds of them
    (thinking blocks it dropped, text it merged), the final round's hidden calls back in place; the
    client's message as it is when it does not match the record."""
    content = m.get("content")
    if rec.get("v") != 2 or not isinstance(content, (str, list)):
        return [m], None
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    kept = strip_shown(blocks, rec["shown"], _text, _thought, _with_text)
    if kept is None:
        return [m], None
    kept = insert_at_calls(kept, rec["blocks"], _is_call)
    if not kept:
        return [m], None
    return rec["replace"] + [dict(m, content=kept)], rec["results"] or None


def apply_record(messages: list[Any], found: dict[int, str]) -> list[Any]:
    return splice_records(messages, found, _rebuild, _join_results,
                          lambda results: {"role": "user", "content": [b for _, b in results]})

# --- the Provider ------------------------------------------------------------------------------------


def _usage(u: dict[str, Any]) -> Usage:
    # Anthropic's input_tokens EXCLUDES cached tokens: add them back so `input` means all input everywhere.
    read, write = as_count(u.get("cache_read_input_tokens")), as_count(u.get("cache_creation_input_tokens"))
    return Usage(input=as_count(u.get("input_tokens")) + read + write, cache_read=read, cache_write=write,
                 output=as_count(u.get("output_tokens")), reported=True)


class Anthropic(Provider):
    name = NAME
    precedence = 30
    history_field = "messages"
    exchange_class = AnthropicExchange

    def handles(self, host: str, path: str) -> bool:
        if _PATH.search(path) is None:
            return False
        # Vertex rawPredict is Anthropic-shaped only for the anthropic publisher.
        return not path.endswith("awPredict") or "/publishers/anthropic/" in path

    def find_units(self, body: dict[str, Any]) -> list[Unit]:
        return find_units(body)

    def first_user_text(self, body: dict[str, Any]) -> str:
        return first_message_text(body)

    def conversation(self, body: dict[str, Any]) -> Iterator[tuple[int, bool, tuple[Any, ...]]]:
        for i, msg in enumerate(body.get("messages") or ()):
            if not isinstance(msg, dict):
                continue
            model = msg.get("role") == "assistant"
            content = msg.get("content")
            if isinstance(content, str):
                yield i, model, ("text", content)
                continue
            for b in content if isinstance(content, list) else ():
                if not isinstance(b, dict):
                    continue
                t = b.get("type")
                if t == "text" and isinstance(b.get("text"), str):
                    yield i, model, ("text", b["text"])
                elif t in ("tool_use", "server_tool_use"):
                    yield i, model, ("call", ToolCall(str(b.get("id")), str(b.get("name") or ""), b.get("input") or {}))
                elif t == "tool_result":
                    yield i, model, ("result", str(b.get("tool_use_id")), "\n".join(text_parts(b.get("content"))))

    def usage_of(self, obj: Any) -> Usage | None:
        if not isinstance(obj, dict):
            return None
        if isinstance(obj.get("message"), dict):  # message_start
            obj = obj["message"]
        u = obj.get("usage")
        return _usage(u) if isinstance(u, dict) else None

    def stream_ends(self, data: str, obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("type") == "message_stop"

    def stream_usage(self, previous: Usage | None, obj: Any) -> Usage | None:
        found = self.usage_of(obj)
        if found is None or previous is None:
            return found
        # message_delta carries the cumulative output count and, in newer API versions, input fields too;
        # fields it leaves out keep message_start's values.
        u = obj.get("usage") or {}
        read = as_count(u["cache_read_input_tokens"]) if "cache_read_input_tokens" in u else previous.cache_read
        write = (as_count(u["cache_creation_input_tokens"]) if "cache_creation_input_tokens" in u
                 else previous.cache_write)
        base = (as_count(u["input_tokens"]) if "input_tokens" in u
                else previous.input - previous.cache_read - previous.cache_write)
        output = as_count(u["output_tokens"]) if "output_tokens" in u else previous.output
        return Usage(base + read + write, read, write, output, True)

    def tool_definition(self) -> dict[str, Any]:
        return {"name": RETRIEVE_TOOL_NAME, "description": DESCRIPTION, "input_schema": schema()}

    def watches(self, path: str) -> bool:
        route = path.partition("?")[0].rstrip("/")
        if route.endswith("awPredict"):  # Vertex: the generation call, not its count-tokens:rawPredict
            return route.endswith((":rawPredict", ":streamRawPredict")) and "/count-tokens:" not in route
        return route.endswith("/messages")

    def splice_candidates(self, items: list[Any]) -> list[tuple[int, str]]:
        return candidates(items)

    def cache_prefix(self, body: dict[str, Any]) -> tuple[list[Any], int]:
        return cache_prefix(body)

    def explicit_cache(self, body: dict[str, Any]) -> bool:
        return cache_prefix(body)[1] > 0

    def apply_record(self, items: list[Any], found: dict[int, str]) -> list[Any]:
        return apply_record(items, found)

    def error_event(self, message: str) -> Event:
        return encode({"type": "error", "error": {"type": "api_error", "message": message}}, "error")

    # --- output shaping ---------------------------------------------------------------------------------

    def turn_kind(self, body: dict[str, Any]) -> str:
        return turn_kind(body)

    def shape_output(self, body: dict[str, Any], instruction: str, mechanical: bool,
                     path: str = "") -> tuple[dict[str, Any], tuple[str, ...]]:
        return shape_output(body, instruction, mechanical)


# --- output shaping (core.shaper) ---------------------------------------------------------------------
#
# Where the instruction goes: a new text block at the end of `system`, after every block and so after any
# cache_control breakpoint, without a cache_control of its own. Anthropic caches the prefix tools -> system ->
# messages up to each breakpoint: a breakpoint on the client's last system block still covers the same bytes
# (the new block comes after it), and the breakpoints in `messages` cover the new block too, which is the same
# bytes every turn, so from the second turn on every breakpoint the client set hits as it did unshaped (the
# first shaped turn writes). No breakpoint is added: the API allows four, and the client may use them all. A
# string `system` becomes [its text block, the instruction] (on every turn alike).
#
# Effort: `output_config.effort` ("low" < "medium" < "high" < "xhigh" < "max", platform.claude.com/docs/en/
# build-with-claude/effort) goes to "low"; a manual `thinking` {"type": "enabled"} budget_tokens goes down to
# the Messages API's floor, 1024 ("must be >= 1024 and less than max_tokens", the API reference). An adaptive
# or disabled `thinking` is left alone, and neither is ever added. Changing thinking parameters between turns
# invalidates the cached messages (prompt-caching docs: "changes to thinking parameters ... invalidate message
# cache breakpoints"; users report the same for effort), so each switch between a mechanical and another turn
# costs a cache write of the conversation: HEADROOM_OUTPUT_SHAPER_EFFORT=0 keeps the steering without it, and
# the holdout's cache-read share per arm shows what it cost.

THINKING_BUDGET_FLOOR = 1024


BILLING_HEADER = "x-anthropic-billing-header:"


def _billing_header(block: Any) -> bool:
    """Claude Code's attribution block (`x-anthropic-billing-header: cc_version=...; cch=<per-request hash>;`),
    first in `system`, different on every request and without cache_control: the API reads it as a header,
    not as prompt, or no Claude Code turn would ever read its cache. Not part of the cached prefix."""
    return isinstance(block, dict) and str(block.get("text", "")).startswith(BILLING_HEADER)


def cache_prefix(body: dict[str, Any]) -> tuple[list[Any], int]:
    """Anthropic caches tools -> system -> messages, block by block, up to the last block that carries
    cache_control (or to the end with a top-level cache_control, automatic caching); without either nothing
    is cached (platform.claude.com/docs/en/build-with-claude/prompt-caching)."""
    parts: list[Any] = []
    covered = 0

    def add(block: Any) -> None:
        nonlocal covered
        parts.append(block)
        if isinstance(block, dict) and block.get("cache_control"):
            covered = len(parts)

    for tool in body.get("tools") or []:
        add(tool)
    system = body.get("system")
    for block in [system] if isinstance(system, str) else system if isinstance(system, list) else []:
        if not _billing_header(block):
            add(block)
    for m in body.get("messages") or []:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        for block in [content] if isinstance(content, str) else content if isinstance(content, list) else []:
            add({"role": m.get("role"), **block} if isinstance(block, dict) else {"role": m.get("role"), "text": block})
    if body.get("cache_control"):
        covered = len(parts)
    return parts, covered


def turn_kind(body: dict[str, Any]) -> str:
    """Mechanical: the last message is the user's and holds only tool_result blocks (at least one, none with
    is_error) and, at most, text blocks that are nothing but harness-injected elements (Claude Code's
    <system-reminder> beside a tool result is not the user asking something)."""
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if not isinstance(last, dict) or last.get("role") != "user" or not isinstance(last.get("content"), list):
        return OTHER
    results = 0
    for block in last["content"]:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            if block.get("is_error") is True:
                return OTHER
            results += 1
        elif not (kind == "text" and isinstance(block.get("text"), str) and not clip_query(block["text"])):
            return OTHER
    return MECHANICAL if results else OTHER


def shape_output(body: dict[str, Any], instruction: str, mechanical: bool) -> tuple[dict[str, Any], tuple[str, ...]]:
    out = dict(body)
    changes: list[str] = []
    if instruction:
        ours = {"type": "text", "text": instruction}
        system = body.get("system")
        if system is None or system == "" or system == []:
            out["system"] = [ours]
        elif isinstance(system, str):
            out["system"] = [{"type": "text", "text": system}, ours]
        elif isinstance(system, list) and system[-1] != ours:
            kept = [b for b in system if not (isinstance(b, dict) and is_instruction(b.get("text")))]
            out["system"] = [*kept, ours]
        if out.get("system") is not system:
            changes.append("instruction")
    if mechanical:
        config = body.get("output_config")
        if isinstance(config, dict) and (low := lower_effort(config.get("effort"))):
            out["output_config"] = {**config, "effort": low}
            changes.append(f"effort:{config['effort']}->{low}")
        thinking = body.get("thinking")
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        if (isinstance(thinking, dict) and thinking.get("type") == "enabled" and isinstance(budget, int)
                and not isinstance(budget, bool) and budget > THINKING_BUDGET_FLOOR):
            out["thinking"] = {**thinking, "budget_tokens": THINKING_BUDGET_FLOOR}
            changes.append(f"thinking_budget:{budget}->{THINKING_BUDGET_FLOOR}")
    return (out, tuple(changes)) if changes else (body, ())


PROVIDER = Anthropic()
