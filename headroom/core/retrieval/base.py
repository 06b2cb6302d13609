"""What every provider's retrieval exchange shares: rounds, hidden calls, held tails, usage sums, splicing.

An `Exchange` is one client request whose response the proxy watches for headroom_retrieve calls. The
IO side (addon.retrieve's relay) drives it:

    for each upstream event: send ex.feed(event) to the client     # the call's own events held back
    calls = ex.end_round()                 # the headroom_retrieve calls of this round
    if calls:
        results = {call_id: answer}        # from the store
        if ex.can_continue(): body = ex.continuation(results, last_round=...); stream that round too
    send ex.finish()                       # the held end of the response, usage summed over rounds
    ex.record(results)                     # (fingerprint, record) of the hidden exchange, for splicing

Non-streaming responses use `feed_response(json)` in place of feed/end_round, and `final_response()`.
"""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from headroom.core.markers import RETRIEVE_TOOL_NAME
from headroom.core.retrieval.sse import Event, encode
from headroom.core.retrieval.tool import Call

__all__ = ["MAX_ROUNDS", "Exchange", "canonical", "serialise", "fingerprint", "message_fp", "sum_usage"]

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


def sum_usage(into: dict, more: Any) -> dict:
    """Add every number in `more` into `into` (nested dicts too): the client is billed for every round."""
    if not isinstance(more, dict):
        return into
    for k, v in more.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            into[k] = into.get(k, 0) + v if isinstance(into.get(k, 0), (int, float)) else v
        elif isinstance(v, dict):
            sub = into.get(k) if isinstance(into.get(k), dict) else {}
            into[k] = sum_usage(sub, v)
    return into


class Exchange:
    provider = ""

    def __init__(self, body: dict, *, prev_fp: str = ""):
        self.body = body  # the body of the current round's request (never mutated)
        self.prev_fp = prev_fp
        self.rounds = 0  # continuations sent so far
        self.prior_usage: dict = {}  # usage of rounds whose tail the client never saw
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

    def _collect_usage(self, obj: dict) -> None:
        """Called with each dropped tail event: add its usage into prior_usage."""

    @staticmethod
    def _is_retrieve(name: Any) -> bool:
        return name == RETRIEVE_TOOL_NAME

    @staticmethod
    def _reencode(ev: Event, obj: dict) -> Event:
        return encode(obj, ev.event)

    # --- the splice record ---------------------------------------------------------------------------

    def record(self, results: dict[str, str] | None = None) -> tuple[str, str] | None:
        """(fingerprint, serialised record) of the hidden exchange to splice into later turns, or None."""
        return None


def deep(value):
    return copy.deepcopy(value)
