"""OpenAI Chat Completions: tool outputs are `role: "tool"` (or legacy "function") messages."""
from __future__ import annotations

from typing import Any

from headroom.core.providers import Questions, args_json, clip_query, text_of

__all__ = ["find_units", "model_of"]


def model_of(body: dict, path: str = "") -> str | None:
    m = body.get("model")
    return m if isinstance(m, str) else None


def find_units(body: dict) -> list[Unit]:
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


def _content_units(q: Questions, base: tuple, msg: dict, name: Any, args: str) -> None:
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
