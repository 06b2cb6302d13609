"""Reversible compression, the model's side: the headroom_retrieve tool and the proxy answering it.

Sans-IO. What differs per API shape (the tool's format, the `Exchange` that hides its calls in answers
and builds the continuation, where hidden exchanges go back into later turns) is the shape's Provider
(core.providers); this package holds what they share: the tool (`tool`), the `Exchange` base and
fingerprints (`base`), SSE (`sse`), and the dispatch below. The IO (upstream requests, the store) is
the relay's.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from headroom.core.providers import get_provider
from headroom.core.retrieval.base import MAX_ROUNDS, Exchange, message_fp
from headroom.core.retrieval.tool import Call, add_tool, answer_call, client_has_tool, tool_definition

__all__ = [
    "MAX_ROUNDS",
    "Call",
    "Exchange",
    "add_tool",
    "answer_call",
    "answers",
    "client_has_tool",
    "history",
    "make_exchange",
    "prev_fingerprint",
    "splice",
    "tool_definition",
]


def answers(provider: str) -> bool:
    """Does the proxy answer this shape's headroom_retrieve calls itself?"""
    return get_provider(provider).exchange_class is not None


def history(provider: str, body: dict[str, Any]) -> list[Any] | None:
    return get_provider(provider).history(body)


def prev_fingerprint(provider: str, body: dict[str, Any]) -> str:
    """Fingerprint of the request's last message as the client sent it (before any splice): a hidden
    exchange in this request's response is anchored after it."""
    items = history(provider, body)
    return message_fp(items[-1]) if items else ""


def make_exchange(provider: str, body: dict[str, Any], prev_fp: str) -> Exchange:
    return get_provider(provider).exchange(body, prev_fp)


def splice(provider: str, body: dict[str, Any], lookup: Callable[[Iterable[str]], dict[str, str]]) -> int:
    """Put hidden retrieval exchanges of earlier turns back into `body` (in place); how many.

    `lookup(fingerprints) -> {fingerprint: record}` is the store's get_exchanges.
    """
    p = get_provider(provider)
    if p.exchange_class is None:
        return 0
    request, items = p.request_of(body), p.history(body)
    if request is None or not items:
        return 0
    cands = p.splice_candidates(items)
    if not cands:
        return 0
    records = lookup([fp for _, fp in cands])
    found = {i: records[fp] for i, fp in cands if fp in records}
    if not found:
        return 0
    request[p.history_field] = p.apply_record(items, found)
    return len(found)
