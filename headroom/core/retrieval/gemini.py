"""headroom_retrieve on Gemini generateContent: hide the functionCall part in JSON and SSE (alt=sse),
continue with a functionResponse, splice back."""
from __future__ import annotations

from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.retrieval.base import (Exchange, canonical, deep, fingerprint, role_candidates, serialise,
                                          splice_records, sum_usage)
from headroom.core.retrieval.sse import Event
from headroom.core.retrieval.tool import Call

__all__ = ["GeminiExchange", "apply_record", "candidates", "signature"]

PROVIDER = "gemini"


def _is_hidden(part) -> bool:
    return isinstance(part, dict) and isinstance(part.get("functionCall"), dict) and \
        part["functionCall"].get("name") == RETRIEVE_TOOL_NAME


def signature(content: dict) -> str:
    texts, calls = [], []
    for p in content.get("parts") or []:
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("text"), str) and not p.get("thought"):
            texts.append(p["text"])
        elif isinstance(p.get("functionCall"), dict):
            fc = p["functionCall"]
            calls.append(str(fc.get("id") or "") + fc.get("name", "") + canonical(fc.get("args") or {}))
    return "".join(texts) + "\x1f" + ",".join(calls)


def _merge_text(parts: list) -> list:
    """Adjacent plain text parts (a stream's fragments) as one part, as the model's turn."""
    out: list = []
    for p in parts:
        if out and set(p) == {"text"} and set(out[-1]) == {"text"}:
            out[-1] = {"text": out[-1]["text"] + p["text"]}
        else:
            out.append(dict(p))
    return out


class GeminiExchange(Exchange):
    provider = PROVIDER
    usage_field = "usageMetadata"

    def __init__(self, body: dict, *, prev_fp: str = ""):
        self.continued: list[dict] = []
        self.shown: list[dict] = []  # visible parts of continued rounds
        self.n_calls = 0
        super().__init__(body, prev_fp=prev_fp)

    def _reset_round(self) -> None:
        super()._reset_round()
        self.parts: list[dict] = []
        self.hidden_pos: list[int] = []
        self.call_ids: dict[int, str] = {}

    def _take(self, parts: list) -> tuple[list, bool]:
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

    def _collect_usage(self, obj: dict) -> None:
        if isinstance(obj.get("usageMetadata"), dict):
            self._last_usage = obj["usageMetadata"]

    def _drop_held(self) -> None:
        self._last_usage = None
        super()._drop_held()
        if self._last_usage:  # cumulative: only the round's last report counts
            sum_usage(self.prior_usage, self._last_usage)

    def _finish_obj(self, obj: dict, position: int) -> bool:
        if not (self.prior_usage and isinstance(obj.get("usageMetadata"), dict)):
            return False
        obj["usageMetadata"] = sum_usage(deep(obj["usageMetadata"]), self.prior_usage)
        return True

    # --- non-streaming ------------------------------------------------------------------------------

    def feed_response(self, resp: dict) -> list[Call]:
        self.last_response = resp
        cands = resp.get("candidates") or []
        if cands and isinstance(cands[0], dict) and isinstance(cands[0].get("content"), dict):
            self._take(cands[0]["content"].get("parts") or [])
        return self.end_round()

    def final_response(self) -> dict:
        resp = deep(self.last_response)
        cands = resp.get("candidates") or []
        if cands and isinstance(cands[0].get("content"), dict):
            content = cands[0]["content"]
            content["parts"] = self.shown + [p for p in content.get("parts") or [] if not _is_hidden(p)]
        self._add_prior_usage(resp)
        return resp

    # --- continuation -------------------------------------------------------------------------------

    def _model_turn(self) -> dict:
        parts = []
        for i, p in enumerate(self.parts):
            if i in self.call_ids and not p["functionCall"].get("id"):
                p = dict(p, functionCall=dict(p["functionCall"], id=self.call_ids[i]))
            parts.append(p)
        return {"role": "model", "parts": _merge_text(parts)}

    def _responses(self, results: dict[str, str]) -> list[dict]:
        return [{"functionResponse": {"id": self.call_ids[i], "name": RETRIEVE_TOOL_NAME,
                                      "response": {"content": results.get(self.call_ids[i], "")}}}
                for i in self.hidden_pos]

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict:
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
        model = self._model_turn()
        rec = {
            "replace": self.continued,
            "n_shown": len(self.shown),
            "strip": "".join(p.get("text", "") for p in self.shown if set(p) == {"text"}),
            # Hidden calls of a final round that also called the client's tools: back at the end of the turn.
            "parts": [p for p in model["parts"] if _is_hidden(p)] if self.hidden_pos else [],
            "results": self._responses(results or {}),
        }
        return fingerprint(PROVIDER, self.prev_fp, signature(visible)), serialise(rec)


def candidates(contents: list) -> list[tuple[int, str]]:
    return role_candidates(PROVIDER, contents, "model", signature)


def _join_results(c, results: list) -> dict | None:
    """The next user (or function) turn with the hidden calls' responses in front of its own parts."""
    if not (isinstance(c, dict) and c.get("role") in ("user", "function")):
        return None
    return dict(c, parts=results + list(c.get("parts") or []))


def _rebuild(c: dict, rec: dict) -> tuple[list, list | None]:
    parts = list(c.get("parts") or [])
    shown = rec["n_shown"]
    if shown and len(parts) >= shown:
        parts = parts[shown:]
    elif rec["strip"] and len(parts) == 1 and str(parts[0].get("text", "")).startswith(rec["strip"]):
        parts = [dict(parts[0], text=parts[0]["text"][len(rec["strip"]):])]  # the client merged the text
    parts += rec["parts"]
    return rec["replace"] + [dict(c, parts=parts)], rec["results"] or None


def apply_record(contents: list, found: dict[int, str]) -> list:
    return splice_records(contents, found, _rebuild, _join_results,
                          lambda results: {"role": "user", "parts": results})
