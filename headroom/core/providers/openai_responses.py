"""OpenAI Responses (and Codex): tool outputs are `function_call_output`, `custom_tool_call_output`,
`local_shell_call_output` and `apply_patch_call_output` items of `input`. Messages, reasoning, encrypted
items and Codex's own items (`additional_tools`, `configuration_update`, ...) are opaque."""
from __future__ import annotations

from headroom.core.providers import Questions, args_json, clip_query, text_of

__all__ = ["OUTPUT_TYPES", "find_units", "model_of"]

OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output", "local_shell_call_output",
                "apply_patch_call_output")
_CALL_TYPES = {"function_call", "custom_tool_call", "local_shell_call", "apply_patch_call"}
# Calls whose items carry no `name`: the tool is the item type.
_IMPLICIT_NAMES = {"local_shell_call": "local_shell", "apply_patch_call": "apply_patch",
                   "local_shell_call_output": "local_shell", "apply_patch_call_output": "apply_patch"}


def model_of(body: dict, path: str = "") -> str | None:
    m = body.get("model")
    return m if isinstance(m, str) else None


def find_units(body: dict) -> list[Unit]:
    items = body.get("input")
    if not isinstance(items, list):
        return []
    q = Questions()
    calls: dict[str, tuple[str | None, str]] = {}  # call_id -> (tool name, arguments or input)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind in (None, "message") and item.get("role") == "user":
            q.ask(clip_query(text_of(item.get("content"))))
        elif kind in _CALL_TYPES:
            name = _IMPLICIT_NAMES.get(kind, item.get("name"))
            args = next((item[k] for k in ("arguments", "input", "action") if item.get(k) is not None), None)
            calls[str(item.get("call_id"))] = (name if isinstance(name, str) else None, args_json(args))
        elif kind in OUTPUT_TYPES:
            name, args = calls.get(str(item.get("call_id")), (None, ""))
            if name is None:
                name = _IMPLICIT_NAMES.get(kind)
            output = item.get("output")
            if isinstance(output, str):
                if output:
                    q.unit(("input", i, "output"), output, name, q.current, tool_args=args)
            elif isinstance(output, list):  # a list of content parts: only the text ones are tool output text
                for j, part in enumerate(output):
                    if (isinstance(part, dict) and part.get("type") in ("input_text", "output_text")
                            and isinstance(part.get("text"), str) and part["text"]):
                        q.unit(("input", i, "output", j, "text"), part["text"], name, q.current, tool_args=args)
    return q.finish()
