"""OpenAI Chat Completions: tool outputs are `role: "tool"` (or legacy "function") messages."""
from __future__ import annotations

from typing import Any

from headroom.core.providers import Unit, clip_query, text_of

__all__ = ["find_units", "model_of"]


def model_of(body: dict, path: str = "") -> str | None:
    m = body.get("model")
    return m if isinstance(m, str) else None


def find_units(body: dict) -> list[Unit]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    units: list[Unit] = []
    names: dict[str, str] = {}  # tool_call id -> function name, from earlier assistant messages
    query = ""
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role == "user":
            query = clip_query(text_of(msg.get("content"))) or query
        elif role == "assistant":
            for call in msg.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("function"), dict):
                    names[str(call.get("id"))] = str(call["function"].get("name") or "") or None
        elif role in ("tool", "function"):
            name = names.get(str(msg.get("tool_call_id"))) if role == "tool" else msg.get("name")
            units.extend(_content_units(("messages", i), msg, name, query))
    return units


def _content_units(base: tuple, msg: dict, name: Any, query: str) -> list[Unit]:
    content = msg.get("content")
    name = name if isinstance(name, str) else None
    if isinstance(content, str):
        return [Unit((*base, "content"), content, name, query)] if content else []
    out = []
    if isinstance(content, list):
        for j, part in enumerate(content):
            if (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
                    and part["text"]):
                out.append(Unit((*base, "content", j, "text"), part["text"], name, query))
    return out
