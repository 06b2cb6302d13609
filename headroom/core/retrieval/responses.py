"""headroom_retrieve on the OpenAI Responses API: hide the function_call item in JSON and SSE, continue,
splice back.

With `previous_response_id` the continuation chains on the server's stored response (input = just the
function_call_output), and the client's next turn chains on the last response id, which already holds
the hidden exchange: nothing to splice. Without it the whole input is sent, and the hidden items are put
back into later turns' input like the other providers' messages.
"""
from __future__ import annotations

import json

from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.retrieval.base import Exchange, deep, fingerprint, message_fp, serialise, sum_usage
from headroom.core.retrieval.sse import Event
from headroom.core.retrieval.tool import Call

__all__ = ["ResponsesExchange", "apply_record", "candidates", "signature"]

PROVIDER = "openai_responses"
_FINAL = ("response.completed", "response.incomplete", "response.failed")


def signature(item) -> str:
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


def _is_hidden_item(item) -> bool:
    return isinstance(item, dict) and item.get("type") == "function_call" and item.get("name") == RETRIEVE_TOOL_NAME


def _scrub(resp: dict) -> bool:
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
    provider = PROVIDER

    def __init__(self, body: dict, *, prev_fp: str = ""):
        self.continued: list = []  # items added to the input by continued rounds (all of them, exact)
        self.shown: list = []  # visible output items of continued rounds, in the client's order
        self.chained = bool(body.get("previous_response_id"))
        super().__init__(body, prev_fp=prev_fp)

    def _reset_round(self) -> None:
        super()._reset_round()
        self.items: dict[int, dict] = {}
        self.order: list[int] = []
        self.hidden_idx: set[int] = set()
        self.vis_map: dict[int, int] = {}
        self.response_id = None

    def _visible_out(self) -> list:
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

    def _merge_final(self, resp: dict) -> None:
        _scrub(resp)
        resp["output"] = self.shown + [o for o in resp.get("output") or [] if not _is_hidden_item(o)]
        self._add_prior_usage(resp)

    def end_round(self) -> list[Call]:
        self.hidden = [Call(str(self.items[i].get("call_id", "")), str(self.items[i].get("arguments", "")))
                       for i in self.order if i in self.hidden_idx]
        return list(self.hidden)

    def _collect_usage(self, obj: dict) -> None:
        if obj.get("type") in _FINAL:
            sum_usage(self.prior_usage, (obj.get("response") or {}).get("usage"))

    def _finish_obj(self, obj: dict, position: int) -> bool:
        if obj.get("type") in _FINAL:
            self._merge_final(obj.get("response") or {})
        if "sequence_number" in obj:
            obj["sequence_number"] = position
        return True

    # --- non-streaming ------------------------------------------------------------------------------

    def feed_response(self, resp: dict) -> list[Call]:
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

    def final_response(self) -> dict:
        resp = deep(self.last_response)
        self._merge_final(resp)
        return resp

    # --- continuation -------------------------------------------------------------------------------

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict:
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
                                 "output": (results or {}).get(it.get("call_id"), "")} for it in hidden],
        }
        return fingerprint(PROVIDER, self.prev_fp, signature(visible[0])), serialise(rec)


def candidates(items) -> list[tuple[int, str]]:
    if not isinstance(items, list):
        return []
    out = []
    for i, it in enumerate(items):
        if i and not (isinstance(it, dict) and it.get("role") in ("user", "system", "developer")
                      or (isinstance(it, dict) and it.get("type") == "function_call_output")):
            out.append((i, fingerprint(PROVIDER, message_fp(items[i - 1]), signature(it))))
    return out


def apply_record(items: list, found: dict[int, str]) -> list:
    out: list = []
    i = 0
    while i < len(items):
        rec_raw = found.get(i)
        if rec_raw is None:
            out.append(items[i])
            i += 1
            continue
        rec = json.loads(rec_raw)
        window = items[i:i + len(rec["sigs"])]
        if [signature(x) for x in window] != rec["sigs"]:
            out.append(items[i])  # the client changed its history: leave it as it is
            i += 1
            continue
        out.extend(rec["replace"])
        final = window[rec["n_shown"]:]
        out.extend(final)
        out.extend(rec["insert"])
        i += len(window)
    return out
