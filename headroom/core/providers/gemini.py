"""Gemini generateContent / streamGenerateContent (AI Studio, Vertex, Cloud Code Assist wrappers):
tool outputs are `functionResponse` parts, whose `response` is an object.

String fields of the response that carry the output ("output", "content", "result", ...) are compressed
as text; a response with no such field but a large JSON body is compressed as JSON and put back as an
object (the JSON compressors keep documents valid JSON in the same schema).

The headroom_retrieve functionCall part is hidden from JSON and SSE (alt=sse) answers, continued with a
functionResponse, and spliced back into later turns.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.providers.base import Provider, Questions, ToolCall, Unit, args_json, clip_query
from headroom.core.retrieval.base import (Exchange, canonical, deep, fingerprint, insert_at_calls, role_candidates,
                                          serialise, splice_records, strip_shown, sum_usage)
from headroom.core.retrieval.sse import Event, encode
from headroom.core.retrieval.tool import DESCRIPTION, Call, schema
from headroom.core.shaper import MECHANICAL, OTHER, lower_effort
from headroom.core.usage import Usage, as_count

__all__ = ["BUDGET_FLOOR", "BUDGET_FLOOR_PRO", "OUTPUT_FIELDS", "PROVIDER", "Gemini", "GeminiExchange",
           "WHOLE_JSON_MIN_CHARS", "apply_record", "candidates", "find_units", "model_of", "shape_output", "signature",
           "turn_kind"]

NAME = "gemini"
_PATH = re.compile(r":(generateContent|streamGenerateContent)$")


# --- requests: tool outputs and questions ------------------------------------------------------------


OUTPUT_FIELDS = ("output", "content", "result", "stdout", "stderr", "text", "data", "error")
WHOLE_JSON_MIN_CHARS = 1024  # below this a response object is not worth re-serialising
_MODEL_IN_PATH = re.compile(r"/models/([^/:]+):")


def _decode_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def find_units(body: dict[str, Any]) -> list[Unit]:
    base: tuple[Any, ...] = ()
    contents = body.get("contents")
    if not isinstance(contents, list) and isinstance(body.get("request"), dict):
        base = ("request",)  # Cloud Code Assist wraps the generateContent request
        contents = body["request"].get("contents")
    if not isinstance(contents, list):
        return []
    q = Questions()
    calls: dict[str, str] = {}  # function name -> arguments of its latest call (Gemini pairs them by name)
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            continue
        texts = []
        for j, part in enumerate(parts):
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str) and not part.get("thought"):
                texts.append(part["text"])
            fc = part.get("functionCall")
            if isinstance(fc, dict) and isinstance(fc.get("name"), str):
                calls[fc["name"]] = args_json(fc.get("args"))
            fr = part.get("functionResponse")
            if not isinstance(fr, dict) or not isinstance(fr.get("response"), dict):
                continue
            name = fr.get("name") if isinstance(fr.get("name"), str) else None
            response = fr["response"]
            path = (*base, "contents", i, "parts", j, "functionResponse", "response")
            fields = [k for k in OUTPUT_FIELDS if isinstance(response.get(k), str) and response[k]]
            is_error = "error" in response and "output" not in response
            args = calls.get(name or "", "")
            if fields:
                for k in fields:
                    q.unit((*path, k), response[k], name, q.current, is_error, tool_args=args)
            else:
                whole = json.dumps(response, ensure_ascii=False, separators=(",", ":"))  # as it goes on the wire
                if len(whole) >= WHOLE_JSON_MIN_CHARS:
                    q.unit(path, whole, name, q.current, is_error, decode=_decode_object, tool_args=args)
        if isinstance(content, dict) and content.get("role", "user") == "user" and texts:
            q.ask(clip_query("\n".join(texts)))
    return q.finish()


def model_of(body: dict[str, Any], path: str = "") -> str | None:
    m = _MODEL_IN_PATH.search(path or "")
    if m:
        return m.group(1)
    model = body.get("model")
    return model.rsplit("/", 1)[-1] if isinstance(model, str) else None


# --- retrieval: the hidden call in answers, the continuation, splicing ---------------------------------


def _is_hidden(part: Any) -> bool:
    return isinstance(part, dict) and isinstance(part.get("functionCall"), dict) and \
        part["functionCall"].get("name") == RETRIEVE_TOOL_NAME


def signature(content: dict[str, Any]) -> str:
    """What identifies a model turn however the client stores it: its visible text, joined (clients merge
    and split text parts) and trimmed (the Gemini CLI trims what it stores), and its calls by name and
    arguments (clients write their own call ids, and drop thought parts and signatures)."""
    texts, calls = [], []
    for p in content.get("parts") or []:
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("text"), str) and not p.get("thought"):
            texts.append(p["text"])
        elif isinstance(p.get("functionCall"), dict):
            fc = p["functionCall"]
            calls.append(str(fc.get("name", "")) + canonical(fc.get("args") or {}))
    return "".join(texts).strip() + "\x1f" + ",".join(calls)


def _text(part: Any) -> str | None:
    return part["text"] if isinstance(part, dict) and isinstance(part.get("text"), str) else None


def _thought(part: Any) -> bool:
    return isinstance(part, dict) and bool(part.get("thought"))


def _with_text(part: Any, text: str) -> Any:
    return dict(part, text=text)


def _is_call(part: Any) -> bool:
    return isinstance(part, dict) and isinstance(part.get("functionCall"), dict)


def _is_response(part: Any) -> bool:
    return isinstance(part, dict) and isinstance(part.get("functionResponse"), dict)


def _merge_text(parts: list[Any]) -> list[Any]:
    """Adjacent plain text parts (a stream's fragments) as one part, as the model's turn."""
    out: list[Any] = []
    for p in parts:
        if out and set(p) == {"text"} and set(out[-1]) == {"text"}:
            out[-1] = {"text": out[-1]["text"] + p["text"]}
        else:
            out.append(dict(p))
    return out


class GeminiExchange(Exchange):
    provider = NAME
    usage_field = "usageMetadata"

    def __init__(self, body: dict[str, Any], *, prev_fp: str = ""):
        self.continued: list[dict[str, Any]] = []
        self.shown: list[dict[str, Any]] = []  # visible parts of continued rounds
        self.n_calls = 0
        super().__init__(body, prev_fp=prev_fp)

    def _reset_round(self) -> None:
        super()._reset_round()
        self.parts: list[dict[str, Any]] = []
        self.hidden_pos: list[int] = []
        self.call_ids: dict[int, str] = {}

    def _take(self, parts: list[Any]) -> tuple[list[Any], bool]:
        """Record this chunk's parts; return the visible ones and whether any was hidden."""
        visible, hid = [], False
        for p in parts:
            if not isinstance(p, dict):
                visible.append(p)
                continue
            self.parts.append(deep(p))
            if _is_hidden(p):
                pos = len(self.parts) - 1
                self.hidden_pos.append(pos)
                self.n_calls += 1
                self.call_ids[pos] = str(p["functionCall"].get("id") or f"headroom-{self.n_calls}")
                hid = True
            else:
                if isinstance(p.get("functionCall"), dict):
                    self.visible_calls += 1
                visible.append(p)
        return visible, hid

    # --- streaming (alt=sse) ------------------------------------------------------------------------

    def feed(self, ev: Event) -> list[Event]:
        obj = ev.json()
        if not isinstance(obj, dict):
            return self._emit(ev)
        cands = obj.get("candidates") or []
        cand = cands[0] if cands and isinstance(cands[0], dict) else None
        changed = False
        if cand is not None and isinstance(cand.get("content"), dict):
            before = cand["content"].get("parts") or []
            visible, hid = self._take(before)
            if hid:
                cand["content"]["parts"] = visible
                changed = True
        if self.hidden_pos and not self.holding:
            # From the hidden call on, the round's end is held; what is visible in this chunk goes now.
            out: list[Event] = []
            ending = cand is not None and cand.get("finishReason") or "usageMetadata" in obj
            if cand is not None and cand.get("content", {}).get("parts") and ending:
                now = deep(obj)
                now["candidates"][0].pop("finishReason", None)
                now.pop("usageMetadata", None)
                out = self._emit(self._reencode(ev, now))
                cand["content"]["parts"] = []
            self.holding = True
            self.held.append(self._reencode(ev, obj))
            return out
        if self.rounds and not self.holding and isinstance(obj.get("usageMetadata"), dict):
            obj["usageMetadata"] = sum_usage(deep(obj["usageMetadata"]), self.prior_usage)
            changed = True
        return self._emit(self._reencode(ev, obj) if changed else ev)

    def end_round(self) -> list[Call]:
        self.hidden = [Call(self.call_ids[i], canonical(self.parts[i]["functionCall"].get("args") or {}))
                       for i in self.hidden_pos]
        return list(self.hidden)

    def _collect_usage(self, obj: dict[str, Any]) -> None:
        if isinstance(obj.get("usageMetadata"), dict):
            self._last_usage = obj["usageMetadata"]

    def _drop_held(self) -> None:
        self._last_usage = None
        super()._drop_held()
        if self._last_usage:  # cumulative: only the round's last report counts
            sum_usage(self.prior_usage, self._last_usage)

    def _finish_obj(self, obj: dict[str, Any], position: int) -> bool:
        if not (self.prior_usage and isinstance(obj.get("usageMetadata"), dict)):
            return False
        obj["usageMetadata"] = sum_usage(deep(obj["usageMetadata"]), self.prior_usage)
        return True

    # --- non-streaming ------------------------------------------------------------------------------

    def feed_response(self, resp: dict[str, Any]) -> list[Call]:
        self.last_response = resp
        cands = resp.get("candidates") or []
        if cands and isinstance(cands[0], dict) and isinstance(cands[0].get("content"), dict):
            self._take(cands[0]["content"].get("parts") or [])
        return self.end_round()

    def final_response(self) -> dict[str, Any]:
        resp = deep(self.last_response)
        cands = resp.get("candidates") or []
        if cands and isinstance(cands[0].get("content"), dict):
            content = cands[0]["content"]
            content["parts"] = self.shown + [p for p in content.get("parts") or [] if not _is_hidden(p)]
        self._add_prior_usage(resp)
        return resp

    # --- continuation -------------------------------------------------------------------------------

    def _model_turn(self) -> dict[str, Any]:
        parts = []
        for i, p in enumerate(self.parts):
            if i in self.call_ids and not p["functionCall"].get("id"):
                p = dict(p, functionCall=dict(p["functionCall"], id=self.call_ids[i]))
            parts.append(p)
        return {"role": "model", "parts": _merge_text(parts)}

    def _responses(self, results: dict[str, str]) -> list[dict[str, Any]]:
        return [{"functionResponse": {"id": self.call_ids[i], "name": RETRIEVE_TOOL_NAME,
                                      "response": {"content": results.get(self.call_ids[i], "")}}}
                for i in self.hidden_pos]

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict[str, Any]:
        self._close_round()
        model = self._model_turn()
        user = {"role": "user", "parts": self._responses(results)}
        body = dict(self.body)
        body["contents"] = list(self.body.get("contents") or []) + [model, user]
        if last_round:
            body["toolConfig"] = {"functionCallingConfig": {"mode": "NONE"}}
        self.continued += [model, user]
        self.shown += _merge_text([p for i, p in enumerate(self.parts) if i not in self.call_ids])
        return self._next_round(body)

    def record(self, results: dict[str, str] | None = None) -> tuple[str, str] | None:
        if not self.continued and not self.hidden_pos:
            return None
        final_visible = [p for i, p in enumerate(self.parts) if i not in self.call_ids]
        visible = {"parts": self.shown + final_visible}
        # Hidden calls of a final round that also called the client's tools go back where they were among
        # its calls (the first call of a turn carries its thought signature), their answers likewise.
        calls: list[list[Any]] = []
        answers: list[list[Any]] = []
        seen = 0
        model_parts = self._model_turn()["parts"]
        hidden = [p for p in model_parts if _is_hidden(p)]
        responses = self._responses(results or {})
        for i, p in enumerate(self.parts):
            if i in self.call_ids:
                calls.append([seen, hidden[len(calls)]])
                answers.append([seen, responses[len(answers)]])
            elif _is_call(p):
                seen += 1
        rec = {"v": 2, "replace": self.continued, "shown": self.shown, "calls": calls, "results": answers}
        return fingerprint(NAME, self.prev_fp, signature(visible)), serialise(rec)


def candidates(contents: list[Any]) -> list[tuple[int, str]]:
    return role_candidates(NAME, contents, "model", signature)


def _join_results(c: Any, results: list[Any]) -> dict[str, Any] | None:
    """The next user (or function) turn with the hidden calls' responses among its own, in call order."""
    if not (isinstance(c, dict) and c.get("role") in ("user", "function")):
        return None
    return dict(c, parts=insert_at_calls(list(c.get("parts") or []), results, _is_response, front=True))


def _rebuild(c: dict[str, Any], rec: dict[str, Any]) -> tuple[list[Any], list[Any] | None]:
    """The hidden rounds exactly as they went upstream, then the client's own turn without what it holds
    of them, with the final round's hidden calls back in place. The client's turn as it is (the model may
    retrieve again) when its parts do not match the record: never a corrupted or empty turn."""
    if not isinstance(c.get("parts"), list) or rec.get("v") != 2:
        return [c], None
    parts = strip_shown(c["parts"], rec["shown"], _text, _thought, _with_text)
    if parts is None:
        return [c], None
    parts = insert_at_calls(parts, rec["calls"], _is_call)
    if not parts:
        return [c], None
    return rec["replace"] + [dict(c, parts=parts)], rec["results"] or None


def apply_record(contents: list[Any], found: dict[int, str]) -> list[Any]:
    return splice_records(contents, found, _rebuild, _join_results,
                          lambda results: {"role": "user", "parts": [p for _, p in results]})

# --- the conversation as events (core.needed) ----------------------------------------------------


def _response_text(response: Any) -> str:
    """A functionResponse's text as its lines: its string fields (where tools put their output), else the JSON."""
    if isinstance(response, dict):
        texts = [v for v in response.values() if isinstance(v, str)]
        if texts:
            return "\n".join(texts)
    return json.dumps(response, ensure_ascii=False)


# --- the Provider ------------------------------------------------------------------------------------


def _contents(body: dict[str, Any]) -> list[Any] | None:
    contents = body.get("contents")
    if not isinstance(contents, list) and isinstance(body.get("request"), dict):
        contents = body["request"].get("contents")  # Cloud Code Assist wraps the request
    return contents if isinstance(contents, list) else None


def _usage(u: dict[str, Any]) -> Usage:
    return Usage(input=as_count(u.get("promptTokenCount")) + as_count(u.get("toolUsePromptTokenCount")),
                 cache_read=as_count(u.get("cachedContentTokenCount")),
                 output=as_count(u.get("candidatesTokenCount")) + as_count(u.get("thoughtsTokenCount")),
                 reported=True)


class Gemini(Provider):
    name = NAME
    precedence = 40
    history_field = "contents"
    exchange_class = GeminiExchange
    declares_unwatched = False  # a call the relay could not see in the answer must never be asked for

    def handles(self, host: str, path: str) -> bool:
        return _PATH.search(path) is not None

    def find_units(self, body: dict[str, Any]) -> list[Unit]:
        return find_units(body)

    def model_of(self, body: dict[str, Any], path: str = "") -> str | None:
        return model_of(body, path)

    def first_user_text(self, body: dict[str, Any]) -> str:
        for c in _contents(body) or ():
            if isinstance(c, dict) and c.get("role", "user") == "user" and isinstance(c.get("parts"), list):
                texts = [p["text"] for p in c["parts"]
                         if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")]
                if texts:
                    return "\n".join(texts)
        return ""

    def conversation(self, body: dict[str, Any]) -> Iterator[tuple[int, bool, tuple[Any, ...]]]:
        pending: dict[str, list[str]] = {}  # function name -> ids of its calls not yet answered (paired by name)
        for i, content in enumerate(_contents(body) or ()):
            if not isinstance(content, dict):
                continue
            model = content.get("role") == "model"
            for j, part in enumerate(content.get("parts") or ()):
                if not isinstance(part, dict):
                    continue
                if isinstance(part.get("text"), str) and not part.get("thought"):
                    yield i, model, ("text", part["text"])
                fc, fr = part.get("functionCall"), part.get("functionResponse")
                if isinstance(fc, dict):
                    ident = str(fc.get("id") or f"{i}.{j}")
                    pending.setdefault(str(fc.get("name")), []).append(ident)
                    yield i, True, ("call", ToolCall(ident, str(fc.get("name") or ""), fc.get("args") or {}))
                elif isinstance(fr, dict):
                    waiting = pending.get(str(fr.get("name"))) or [""]
                    ident = str(fr.get("id") or waiting.pop(0))
                    yield i, False, ("result", ident, _response_text(fr.get("response")))

    def usage_of(self, obj: Any) -> Usage | None:
        u = obj.get("usageMetadata") if isinstance(obj, dict) else None
        return _usage(u) if isinstance(u, dict) else None

    def stream_ends(self, data: str, obj: Any) -> bool:
        # Gemini has no end event: the chunk that gives a finishReason is the last.
        cands = obj.get("candidates") if isinstance(obj, dict) else None
        return isinstance(cands, list) and any(isinstance(c, dict) and c.get("finishReason") for c in cands)

    def tool_definition(self) -> dict[str, Any]:
        return {"functionDeclarations": [{"name": RETRIEVE_TOOL_NAME, "description": DESCRIPTION,
                                          "parameters": schema()}]}

    def tool_names(self, tools: list[Any]) -> set[str]:
        names: set[str] = set()
        for t in tools:
            if not isinstance(t, dict):
                continue
            for key in ("functionDeclarations", "function_declarations"):
                for d in t.get(key) or []:
                    if isinstance(d, dict):
                        names.add(str(d.get("name")))
        return names

    def accepts_tool(self, request: dict[str, Any]) -> bool:
        # JSON mode (a response MIME type of JSON, or a response schema) with function calling is refused
        # by Gemini 2.x ("Function calling with a response mime type ... is unsupported"): a request that
        # asks for JSON and declares no function of its own gets no tool added.
        config = request.get("generationConfig") or request.get("generation_config")
        tools = request.get("tools")
        if not isinstance(config, dict) or (isinstance(tools, list) and self.tool_names(tools)):
            return True
        mime = config.get("responseMimeType") or config.get("response_mime_type")
        schema_given = any(config.get(k) is not None for k in (
            "responseSchema", "response_schema", "responseJsonSchema", "response_json_schema"))
        return not (schema_given or mime == "application/json")

    def error_event(self, message: str) -> Event:
        # Google's error object, as its streams carry one: the SDKs read `code` (google-genai raises
        # APIError.raise_error(error.code, ...) for a chunk that starts with {"error":).
        return encode({"error": {"code": 500, "message": message, "status": "INTERNAL"}})

    def streams(self, body: dict[str, Any], path: str = "") -> bool:
        return path.partition("?")[0].endswith(":streamGenerateContent")  # the method says, not the body

    def watches(self, path: str) -> bool:
        # Gemini streams SSE only with alt=sse; its default stream is one JSON array, not watched here.
        route, _, query = path.partition("?")
        return route.endswith(":generateContent") or (route.endswith(":streamGenerateContent") and "alt=sse" in query)

    def splice_candidates(self, items: list[Any]) -> list[tuple[int, str]]:
        return candidates(items)

    def apply_record(self, items: list[Any], found: dict[int, str]) -> list[Any]:
        return apply_record(items, found)

    # --- output shaping ---------------------------------------------------------------------------------

    def turn_kind(self, body: dict[str, Any]) -> str:
        return turn_kind(body)

    def shape_output(self, body: dict[str, Any], instruction: str, mechanical: bool,
                     path: str = "") -> tuple[dict[str, Any], tuple[str, ...]]:
        return shape_output(body, instruction, mechanical, model_of(body, path))


# --- output shaping (core.shaper) ---------------------------------------------------------------------
#
# Where the instruction goes: a text part at the end of `systemInstruction` (or `system_instruction`, as
# the client spelled it), made when there is none; in the request a Cloud Code Assist body wraps. Gemini's
# implicit caching is by prefix (ai.google.dev/gemini-api/docs/caching): the system instruction comes first,
# the same bytes every turn, so from the second turn on the prefix hits as far as it did unshaped. A request
# using explicit `cachedContent` is not steered: its system instruction lives in the cache, and the API
# refuses a request that sets one beside it.
#
# Effort: `generationConfig.thinkingConfig.thinkingBudget` goes down to the model's floor when above it
# (ai.google.dev/gemini-api/docs/thinking: 2.5 Pro 128 to 32768, 2.5 Flash 0 to 24576, 2.5 Flash-Lite 512 to
# 24576; 0 turns thinking off and -1 is dynamic, both left alone); `thinkingLevel` ("minimal" < "low" <
# "medium" < "high", Gemini 3) goes down to "low". Never added, thinking never turned on or off.

BUDGET_FLOOR_PRO = 128
BUDGET_FLOOR = 512  # Flash-Lite's floor, inside every other model's range


def _request(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The generateContent request in `body` and the key it is wrapped under (Cloud Code Assist: "request")."""
    if "contents" not in body and isinstance(body.get("request"), dict):
        return body["request"], "request"
    return body, None


def _key(obj: dict[str, Any], camel: str, snake: str) -> str:
    return snake if snake in obj and camel not in obj else camel


def turn_kind(body: dict[str, Any]) -> str:
    """Mechanical: the last content is the user's (or "function") and all its parts are functionResponse
    parts, at least one, none whose response carries an "error" field."""
    contents = _contents(body)
    last = contents[-1] if contents else None
    if not isinstance(last, dict) or last.get("role", "user") not in ("user", "function"):
        return OTHER
    parts = last.get("parts")
    if not isinstance(parts, list) or not parts:
        return OTHER
    for part in parts:
        fr = part.get("functionResponse") if isinstance(part, dict) else None
        if not isinstance(fr, dict):
            return OTHER
        if isinstance(fr.get("response"), dict) and "error" in fr["response"]:
            return OTHER
    return MECHANICAL


def _budget_floor(model: str | None) -> int:
    return BUDGET_FLOOR_PRO if model and "pro" in model.lower() else BUDGET_FLOOR


def shape_output(body: dict[str, Any], instruction: str, mechanical: bool,
                 model: str | None = None) -> tuple[dict[str, Any], tuple[str, ...]]:
    request, wrapper = _request(body)
    out = dict(request)
    changes: list[str] = []
    if instruction and ("cachedContent" in request or "cached_content" in request):
        changes.append("skipped:cached_content")
    elif instruction:
        key = _key(request, "systemInstruction", "system_instruction")
        system = request.get(key)
        ours = {"text": instruction}
        if system is None:
            out[key] = {"parts": [ours]}
            changes.append("instruction")
        elif isinstance(system, dict) and isinstance(system.get("parts"), list):
            if not (system["parts"] and system["parts"][-1] == ours):
                out[key] = {**system, "parts": [*system["parts"], ours]}
                changes.append("instruction")
    gkey = _key(request, "generationConfig", "generation_config")
    config = request.get(gkey)
    tkey = _key(config, "thinkingConfig", "thinking_config") if isinstance(config, dict) else ""
    thinking = config.get(tkey) if isinstance(config, dict) else None
    if mechanical and isinstance(config, dict) and isinstance(thinking, dict):
        lowered = dict(thinking)
        bkey = _key(thinking, "thinkingBudget", "thinking_budget")
        budget, floor = thinking.get(bkey), _budget_floor(model)
        if isinstance(budget, int) and not isinstance(budget, bool) and budget > floor:
            lowered[bkey] = floor
            changes.append(f"thinking_budget:{budget}->{floor}")
        lkey = _key(thinking, "thinkingLevel", "thinking_level")
        level = thinking.get(lkey)
        if isinstance(level, str) and (low := lower_effort(level.lower())):
            lowered[lkey] = low.upper() if level.isupper() else low
            changes.append(f"thinking_level:{level}->{lowered[lkey]}")
        if lowered != thinking:
            out[gkey] = {**config, tkey: lowered}
    if not any(not c.startswith("skipped:") for c in changes):
        return body, tuple(changes)
    return ({**body, wrapper: out} if wrapper else out), tuple(changes)


PROVIDER = Gemini()
