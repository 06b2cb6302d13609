"""What every provider's retrieval exchange shares: rounds, hidden calls, held tails, usage sums, splicing.

An `Exchange` is one client request whose response the proxy watches for headroom_retrieve calls; each
provider module defines its own. The retrieval driver (core.retrieval.driver) is its only caller and
calls it in this order:

    for each upstream event: pass ex.feed(event) on to the client   # the call's own events held back
    calls = ex.end_round()                 # the headroom_retrieve calls of this round
    if calls:
        results = {call_id: answer}        # from the store
        if ex.can_continue(): body = ex.continuation(results, last_round=...); stream that round too
    ex.finish()                            # the held end of the response, usage summed over rounds
    ex.record(results)                     # (fingerprint, record) of the hidden exchange, for splicing

Non-streaming responses use `feed_response(json)` in place of feed/end_round, and `final_response()`.
"""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Callable, TypeVar

from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.retrieval.sse import Event, encode
from headroom.core.retrieval.tool import Call

__all__ = [
    "MAX_ROUNDS",
    "Exchange",
    "canonical",
    "fingerprint",
    "insert_at_calls",
    "message_fp",
    "role_candidates",
    "serialise",
    "splice_records",
    "strip_shown",
    "sum_usage",
]

# A model that keeps asking is told no more after this many answered rounds in one response (the last
# continuation is sent with tool_choice none), so a request can never loop upstream.
MAX_ROUNDS = 3


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def serialise(record: Any) -> str:
    """A record as stored: key order kept, so what is spliced back is byte-for-byte what was sent."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _without_cache_marks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_cache_marks(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_without_cache_marks(v) for v in value]
    return value


def message_fp(message: Any) -> str:
    """Fingerprint of one message as the client sent it: what a hidden exchange is anchored after.

    Cache breakpoints are left out: agents (Claude Code) move `cache_control` to the newest message
    every turn, so the same message carries it in one request and not in the next.
    """
    return hashlib.sha256(canonical(_without_cache_marks(message)).encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint(provider: str, prev_fp: str, signature: str) -> str:
    """The store key of a hidden exchange: provider, the message before the visible turn, and the turn's
    own signature (its text and call ids), so equal answers in different conversations never mix."""
    h = hashlib.sha256(f"{provider}\0{prev_fp}\0{signature}".encode("utf-8", "surrogatepass"))
    return "x" + h.hexdigest()[:31]


def sum_usage(into: dict[str, Any], more: Any) -> dict[str, Any]:
    """Add every number in `more` into `into` (nested dicts too): the client is billed for every round."""
    if not isinstance(more, dict):
        return into
    for k, v in more.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            into[k] = into.get(k, 0) + v if isinstance(into.get(k, 0), (int, float)) else v
        elif isinstance(v, dict):
            sub = into.get(k)
            into[k] = sum_usage(sub if isinstance(sub, dict) else {}, v)
        elif isinstance(v, list) and all(isinstance(x, dict) for x in v):
            sub = into.get(k)
            into[k] = _sum_entries(sub if isinstance(sub, list) else [], v)
    return into


def _sum_entries(into: list[Any], more: list[dict[str, Any]]) -> list[Any]:
    """Lists of counts keyed by their text fields (Gemini's promptTokensDetails, one entry per modality):
    an entry's numbers are added to the entry with the same text fields, or it is appended."""
    def key(entry: Any) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((k, v) for k, v in entry.items() if isinstance(v, str))) if isinstance(entry, dict) else ()

    out = [dict(e) if isinstance(e, dict) else e for e in into]
    for entry in more:
        same = next((e for e in out if isinstance(e, dict) and key(e) == key(entry)), None)
        if same is None:
            out.append(dict(entry))
        else:
            sum_usage(same, {k: v for k, v in entry.items() if not isinstance(v, str)})
    return out


def role_candidates(provider: str, items: list[Any], role: str, signature: Callable[[dict[str, Any]], str]) -> list[tuple[int, str]]:
    """(index, fingerprint) of every `role` turn that might have a hidden exchange: each is keyed by the
    turn before it and its own signature, as `Exchange.record` keyed it."""
    out = []
    for i, m in enumerate(items):
        if isinstance(m, dict) and m.get("role") == role:
            prev = message_fp(items[i - 1]) if i else ""
            out.append((i, fingerprint(provider, prev, signature(m))))
    return out


def splice_records(
    items: list[Any],
    found: dict[int, str],
    rebuild: Callable[[Any, dict[str, Any]], tuple[list[Any], list[Any] | None]],
    join_results: Callable[[Any, list[Any]], Any | None] | None = None,
    results_turn: Callable[[list[Any]], Any] | None = None,
) -> list[Any]:
    """`items` with the hidden exchanges put back: `found` maps a turn's index to its stored record.

    `rebuild(turn, record) -> (turns, results)` gives what stands in place of the turn and, where the
    format carries tool results in the next user turn, those results (else None). They are put in front
    of the next turn by `join_results(turn, results)` (None when that turn cannot take them), or else
    as a turn of their own, `results_turn(results)`.
    """
    def own_turn(results: list[Any]) -> Any:
        if results_turn is None:
            raise TypeError("rebuild gave tool results but there is no results_turn to hold them")
        return results_turn(results)

    out: list[Any] = []
    pending: list[Any] | None = None
    for i, m in enumerate(items):
        if pending is not None:
            joined = join_results(m, pending) if join_results else None
            if joined is None:
                out.append(own_turn(pending))
            else:
                m = joined
            pending = None
        rec_raw = found.get(i)
        if rec_raw is None:
            out.append(m)
            continue
        turns, pending = rebuild(m, json.loads(rec_raw))
        out.extend(turns)
    if pending is not None:
        out.append(own_turn(pending))
    return out


def strip_shown(parts: list[Any], shown: list[Any], text: Callable[[Any], str | None],
                thought: Callable[[Any], bool], with_text: Callable[[Any, str], Any]) -> list[Any] | None:
    """The client's stored parts of a model turn without what the proxy showed it in earlier, hidden rounds
    (`shown`, in the proxy's order), matched by content the client keeps; None when they do not match.

    Clients rewrite a turn when they store it: they merge or split its text (a stream's fragments), drop
    thought parts, keep or drop chunk boundaries, trim whitespace. So the earlier rounds' text is matched
    as one string across the client's text parts (the last one may run on into the final round's text,
    whitespace at its ends may be gone), their thoughts may be missing, and any other part they showed
    must be there, equal and in order. `text(part)` is a part's visible text (None: not a text part),
    `thought(part)` tells a thought, `with_text` makes a text part carrying other text.
    """
    need = "".join(t for p in shown if not thought(p) and (t := text(p)) is not None)
    others = [canonical(p) for p in shown if not thought(p) and text(p) is None]
    thoughts = {canonical(p) for p in shown if thought(p)}
    out = list(parts)
    held = "".join(t for p in out if not thought(p) and (t := text(p)) is not None)
    # The client may have trimmed its turn's text (the Gemini CLI does, when it stores it).
    need = next((n for n in (need, need.lstrip(), need.rstrip(), need.strip()) if held.startswith(n)), need)
    while out and (need or others):
        p = out[0]
        t = None if thought(p) else text(p)
        if thought(p):
            out.pop(0)  # before the earlier rounds' content has all gone by, a thought is theirs
        elif t is not None and need.startswith(t):
            need = need[len(t):]
            out.pop(0)
        elif t is not None and need and not others and t.startswith(need):
            out[0] = with_text(p, t[len(need):])  # the client merged the earlier text with the final round's
            need = ""
        elif t is None and others and canonical(p) == others[0]:
            others.pop(0)
            out.pop(0)
        else:
            return None
    if need or others:
        return None
    while out and thought(out[0]) and canonical(out[0]) in thoughts:
        out.pop(0)
    return out


def insert_at_calls(parts: list[Any], placed: list[Any], is_call: Callable[[Any], bool],
                    front: bool = False) -> list[Any]:
    """`parts` with each `[k, part]` of `placed` put back where it was: before the k-th call of `parts`
    (k counts the visible calls that preceded it), or after the last call; where there is none, at the
    end (a model's call follows its text) or, with `front`, at the front (tool results precede text).
    Gemini 3 carries a turn's thought signature on its first call, and a tool result's place must follow
    its call's, so the hidden calls go back in their order, never at the end. `placed` is in the order of
    the original turn, and each of its parts is one `is_call` recognises."""
    out = list(parts)
    for n, (k, part) in enumerate(placed):  # in their order: the n placed before this one are calls of out
        calls = [i for i, p in enumerate(out) if is_call(p)]
        at = k + n
        if at < len(calls):
            pos = calls[at]
        elif calls:
            pos = calls[-1] + 1
        else:
            pos = 0 if front else len(out)
        out.insert(pos, part)
    return out


class Exchange:
    provider = ""
    usage_field = "usage"  # where a non-streaming response reports its usage

    def __init__(self, body: dict[str, Any], *, prev_fp: str = ""):
        self.body = body  # the body of the current round's request (never mutated)
        self.prev_fp = prev_fp
        self.rounds = 0  # continuations sent so far
        self.prior_usage: dict[str, Any] = {}  # usage of rounds whose tail the client never saw
        self.emitted = 0
        self._reset_round()

    # --- per round ----------------------------------------------------------------------------------

    def _reset_round(self) -> None:
        self.hidden: list[Call] = []
        self.visible_calls = 0
        self.held: list[Event] = []
        self.holding = False

    def end_round(self) -> list[Call]:
        return list(self.hidden)

    def can_continue(self) -> bool:
        return bool(self.hidden) and not self.visible_calls and self.rounds < MAX_ROUNDS

    # --- what each shape's subclass does ------------------------------------------------------------

    def feed(self, ev: Event) -> list[Event]:
        """One upstream stream event in; the events the client sees for it out (the call's own held back)."""
        raise NotImplementedError

    def feed_response(self, resp: dict[str, Any]) -> list[Call]:
        """A whole (non-streamed) upstream answer in; the retrieve calls in it out."""
        raise NotImplementedError

    def final_response(self) -> dict[str, Any]:
        """The non-streamed answer the client gets, shaped as if the hidden rounds never happened."""
        raise NotImplementedError

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict[str, Any]:
        """The next round's request body, carrying `results` (the answers by call id)."""
        raise NotImplementedError

    def error_event(self, ev: Event) -> Event:
        """The shape's error event (Provider.error_event) as the client's stream carries it, at its place:
        a shape that numbers its events gives it the next number (see `_finish_obj`)."""
        self.emitted += 1
        return ev

    def _emit(self, ev: Event | None) -> list[Event]:
        if ev is None:
            return []
        if self.holding:
            self.held.append(ev)
            return []
        self.emitted += 1
        return [ev]

    def _drop_held(self) -> None:
        for ev in self.held:
            obj = ev.json()
            if isinstance(obj, dict):
                self._collect_usage(obj)
        self.held = []

    def _collect_usage(self, obj: dict[str, Any]) -> None:
        """Called with each dropped tail event: add its usage into prior_usage."""

    def finish(self) -> list[Event]:
        """Release the held tail of the round the client sees last, each event through `_finish_obj`."""
        out: list[Event] = []
        for ev in self.held:
            obj = ev.json()
            if isinstance(obj, dict) and self._finish_obj(obj, self.emitted + len(out)):
                ev = self._reencode(ev, obj)
            out.append(ev)
        self.held = []
        self.holding = False
        self.emitted += len(out)
        return out

    def _finish_obj(self, obj: dict[str, Any], position: int) -> bool:
        """Fix up one held event's JSON (in place) for the client, `position` being its place in the
        stream the client sees; True when it must be re-encoded."""
        return False

    def _add_prior_usage(self, resp: dict[str, Any]) -> None:
        """A whole response object (JSON, or a stream's final one) billed for every round, in place."""
        if self.prior_usage and isinstance(resp.get(self.usage_field), dict):
            resp[self.usage_field] = sum_usage(resp[self.usage_field], self.prior_usage)

    # --- continuation ---------------------------------------------------------------------------------

    def _close_round(self) -> None:
        """Before a continuation: the round's usage becomes prior usage, its held tail is dropped."""
        if hasattr(self, "last_response"):
            sum_usage(self.prior_usage, self.last_response.get(self.usage_field))
        self._drop_held()

    def _next_round(self, body: dict[str, Any]) -> dict[str, Any]:
        """After a continuation is built: it is the current request, and a fresh round begins."""
        self.body = body
        self.rounds += 1
        self._reset_round()
        return body

    @staticmethod
    def _is_retrieve(name: Any) -> bool:
        return bool(name == RETRIEVE_TOOL_NAME)

    @staticmethod
    def _reencode(ev: Event, obj: dict[str, Any]) -> Event:
        return encode(obj, ev.event)

    # --- the splice record ---------------------------------------------------------------------------

    def record(self, results: dict[str, str] | None = None) -> tuple[str, str] | None:
        """(fingerprint, serialised record) of the hidden exchange to splice into later turns, or None."""
        return None


_T = TypeVar("_T")


def deep(value: _T) -> _T:
    return copy.deepcopy(value)
