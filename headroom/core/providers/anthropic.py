"""Anthropic Messages: tool outputs are `tool_result` blocks in user messages (string content, or a
list whose text blocks are compressed; images and documents are left alone).

A block carrying `cache_control` is compressed like any other, and keeps its `cache_control`: agents
such as Claude Code mark their newest tool result, and the mark moves on next turn. Skipping marked
blocks would send each output once uncompressed (a cache write) and compressed from the next turn on,
changing the prompt at that point every turn; compressing it the same way every turn (deterministic,
prefix-stable) keeps the provider's cache hitting."""
from __future__ import annotations

from headroom.core.providers import Questions, Unit, args_json, clip_query

__all__ = ["find_units", "model_of"]


def model_of(body: dict, path: str = "") -> str | None:
    m = body.get("model")
    return m if isinstance(m, str) else None


def _user_text(content) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(
        b["text"] for b in content
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def find_units(body: dict) -> list[Unit]:
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
