"""Reversible compression, the model's side: the headroom_retrieve tool and the proxy answering it.

Sans-IO, per provider: the tool's definition and insertion (`tool`), finding the model's calls in JSON
and SSE responses and building the continuation (`Exchange` subclasses), and putting hidden exchanges
back into later turns (`splice`). The IO (upstream requests, the store) is addon.retrieve's.
"""
from __future__ import annotations

from typing import Callable, Iterable

from headroom.core.retrieval import anthropic, gemini, openai_chat, responses
from headroom.core.retrieval.base import MAX_ROUNDS, Exchange, message_fp
from headroom.core.retrieval.tool import Call, add_tool, answer_call, client_has_tool, tool_definition

__all__ = [
    "ANSWERED",
    "MAX_ROUNDS",
    "Call",
    "Exchange",
    "add_tool",
    "answer_call",
    "client_has_tool",
    "history",
    "make_exchange",
    "prev_fingerprint",
    "splice",
    "tool_definition",
]

# Providers whose headroom_retrieve calls the proxy answers itself: (exchange, module, history field).
ANSWERED = {
    "openai_chat": (openai_chat.ChatExchange, openai_chat, "messages"),
    "anthropic": (anthropic.AnthropicExchange, anthropic, "messages"),
    "openai_responses": (responses.ResponsesExchange, responses, "input"),
    "gemini": (gemini.GeminiExchange, gemini, "contents"),
}


def history(provider: str, body: dict) -> list | None:
    field = ANSWERED[provider][2]
    value = body.get(field)
    if provider == "openai_responses" and isinstance(value, str):
        return [{"role": "user", "content": value}]
    return value if isinstance(value, list) else None


def prev_fingerprint(provider: str, body: dict) -> str:
    """Fingerprint of the request's last message as the client sent it (before any splice): a hidden
    exchange in this request's response is anchored after it."""
    items = history(provider, body)
    return message_fp(items[-1]) if items else ""


def make_exchange(provider: str, body: dict, prev_fp: str) -> Exchange:
    return ANSWERED[provider][0](body, prev_fp=prev_fp)


def splice(provider: str, body: dict, lookup: Callable[[Iterable[str]], dict[str, str]]) -> int:
    """Put hidden retrieval exchanges of earlier turns back into `body` (in place); how many.

    `lookup(fingerprints) -> {fingerprint: record}` is the store's get_exchanges.
    """
    if provider not in ANSWERED:
        return 0
    module = ANSWERED[provider][1]
    field = ANSWERED[provider][2]
    items = body.get(field)
    if not isinstance(items, list) or not items:
        return 0
    cands = module.candidates(items)
    if not cands:
        return 0
    records = lookup([fp for _, fp in cands])
    found = {i: records[fp] for i, fp in cands if fp in records}
    if not found:
        return 0
    body[field] = module.apply_record(items, found)
    return len(found)
