"""For tests of the output shaper: undo exactly what the shaper may change in a body, so a test can assert
that the rest is the client's body as sent ("nothing else changed").

`unshape(provider, shaped, original)` takes the instruction back out of its one place and the effort
fields back to the client's values; what remains must equal `original`. Written from the documented
placement (core/providers/*), not from the shaper's code, so a shaper that changes anything else fails.
"""
from __future__ import annotations

import copy
from typing import Any

from headroom.core.shaper import SEPARATOR, is_instruction

__all__ = ["instruction_of", "unshape"]


def _gemini_request(body: dict) -> dict:
    return body["request"] if "contents" not in body and isinstance(body.get("request"), dict) else body


def instruction_of(provider: str, body: dict[str, Any]) -> str | None:
    """The text at the tail of the system prompt of a shaped body, where the shaper puts its instruction."""
    if provider == "anthropic":
        system = body.get("system")
        return system[-1].get("text") if isinstance(system, list) and system else None
    if provider == "openai_chat":
        lead = [m for m in body.get("messages", []) if m.get("role") in ("system", "developer")]
        if not lead:
            return None
        content = lead[-1].get("content")
        if isinstance(content, list):
            return content[-1].get("text")
        return content.rsplit(SEPARATOR, 1)[-1] if isinstance(content, str) else None
    if provider == "openai_responses":
        ours = [i for i in body.get("input", []) if isinstance(i, dict) and i.get("role") == "developer"
                and isinstance(i.get("content"), list) and i["content"] and is_instruction(i["content"][0].get("text"))]
        return ours[-1]["content"][0]["text"] if ours else None
    if provider == "gemini":
        req = _gemini_request(body)
        si = req.get("systemInstruction") or req.get("system_instruction")
        return si["parts"][-1].get("text") if si and si.get("parts") else None
    raise ValueError(provider)


def _effort_back(shaped: dict, original: dict, *path: str) -> None:
    """Put the value at `path` back as the client sent it (or remove it if the client sent none)."""
    src: Any = original
    dst: Any = shaped
    for key in path[:-1]:
        if not isinstance(src, dict) or key not in src or not isinstance(dst, dict) or key not in dst:
            return
        src, dst = src[key], dst[key]
    if isinstance(src, dict) and path[-1] in src and isinstance(dst, dict):
        dst[path[-1]] = src[path[-1]]


def unshape(provider: str, shaped: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(shaped)
    if provider == "anthropic":
        system = out.get("system")
        if isinstance(system, list) and system and is_instruction(system[-1].get("text")):
            system.pop()
            before = original.get("system")
            if not system and "system" not in original:
                del out["system"]
            elif isinstance(before, str) and len(system) == 1:
                out["system"] = system[0]["text"]
            elif before in ("", []):
                out["system"] = before
        _effort_back(out, original, "output_config", "effort")
        _effort_back(out, original, "thinking", "budget_tokens")
    elif provider == "openai_chat":
        messages = out.get("messages", [])
        lead = 0
        while lead < len(messages) and messages[lead].get("role") in ("system", "developer"):
            lead += 1
        if lead:
            last = messages[lead - 1]
            content = last.get("content")
            if is_instruction(content):
                messages.pop(lead - 1)
            elif isinstance(content, str) and is_instruction(content.rsplit(SEPARATOR, 1)[-1]):
                last["content"] = content.rsplit(SEPARATOR, 1)[0]
            elif isinstance(content, list) and content and is_instruction(content[-1].get("text")):
                content.pop()
        _effort_back(out, original, "reasoning_effort")
    elif provider == "openai_responses":
        items = out.get("input")
        if isinstance(items, list):
            out["input"] = [i for i in items if not (isinstance(i, dict) and i.get("role") == "developer" and isinstance(
                i.get("content"), list) and i["content"] and is_instruction(i["content"][0].get("text")))]
        _effort_back(out, original, "reasoning", "effort")
    elif provider == "gemini":
        req, orig = _gemini_request(out), _gemini_request(original)
        for key in ("systemInstruction", "system_instruction"):
            si = req.get(key)
            if isinstance(si, dict) and si.get("parts") and is_instruction(si["parts"][-1].get("text")):
                si["parts"].pop()
                if key not in orig:
                    del req[key]
        for g in ("generationConfig", "generation_config"):
            for t in ("thinkingConfig", "thinking_config"):
                for k in ("thinkingBudget", "thinking_budget", "thinkingLevel", "thinking_level"):
                    if req is out:
                        _effort_back(out, original, g, t, k)
                    else:
                        _effort_back(out, original, "request", g, t, k)
    else:
        raise ValueError(provider)
    return out
