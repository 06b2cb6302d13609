"""The headroom_retrieve tool: its schema, adding it in a provider's format, and answering a call.

Sans-IO: a call is answered from whatever `get(key) -> str | None` the caller passes (the store's).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from headroom.core.markers import KEY_RE, RETRIEVE_TOOL_NAME
from headroom.core.providers import get_provider

__all__ = [
    "Call",
    "DESCRIPTION",
    "add_tool",
    "answer_call",
    "client_has_tool",
    "parse_arguments",
    "schema",
    "tool_definition",
]

DESCRIPTION = (
    "Fetch content that Headroom compressed away from an earlier tool output. Tool outputs may contain "
    "markers like `[headroom: lines 40-159 omitted: ...; key=<20 digits>]`. When the "
    "omitted part matters for the task, call this with that key to get the original text back. Pass `grep` "
    "to get only the lines containing a substring, or `lines` (e.g. \"40-80\", 1-based, inclusive, counted "
    "within the omitted part) to get a range; both are optional."
)

_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "description": "The key from the headroom marker: the 20 digits after `key=`."},
        "grep": {"type": "string", "description": "Optional: return only the lines containing this substring."},
        "lines": {"type": "string", "description": "Optional: a line range like \"40-80\" within the omitted part."},
    },
    "required": ["key"],
}

# The most a single answer returns: a model asking for a huge original gets its start and how to narrow
# it, rather than a request that overflows its context window.
MAX_ANSWER_CHARS = 400_000


@dataclass(frozen=True)
class Call:
    """One headroom_retrieve call the model made: its id as the provider names it and its raw arguments."""

    call_id: str
    arguments: str  # the JSON text the model wrote (OpenAI, Responses) or json.dumps(input) (Anthropic)


def schema() -> dict[str, Any]:
    """The tool's JSON schema (a fresh dict each time, safe to mutate)."""
    fresh: dict[str, Any] = json.loads(json.dumps(_SCHEMA))
    return fresh


def tool_definition(provider: str) -> dict[str, Any]:
    """The tool in `provider`'s own format (a fresh dict each time, safe to mutate)."""
    return get_provider(provider).tool_definition()


def _tool_names(provider: str, tools: list[Any]) -> set[str]:
    return get_provider(provider).tool_names(tools)


def client_has_tool(provider: str, body: dict[str, Any]) -> bool:
    """Does the client itself define a tool named headroom_retrieve (e.g. from an MCP server)?"""
    request = get_provider(provider).request_of(body)
    tools = request.get("tools") if isinstance(request, dict) else None
    return isinstance(tools, list) and RETRIEVE_TOOL_NAME in _tool_names(provider, tools)


def add_tool(provider: str, body: dict[str, Any]) -> bool:
    """Append the tool after the client's tools (where the shape's request keeps them), in place. False
    (body untouched) when a tool of that name is already there, `tools` is something this code does not
    understand, or the request is one the API refuses tools in."""
    shape = get_provider(provider)
    request = shape.request_of(body)
    if not isinstance(request, dict) or not shape.accepts_tool(request):
        return False
    tools = request.get("tools")
    if tools is None:
        tools = request["tools"] = []
    if not isinstance(tools, list) or RETRIEVE_TOOL_NAME in _tool_names(provider, tools):
        return False
    tools.append(tool_definition(provider))
    return True


# The key after "key=" when a model pastes the marker, else a key standing alone (not part of a longer
# number or hash). A marker of the earlier grammar has 16 hex digits; one from before an upgrade still works.
_KEY_AFTER = re.compile(r"key=(" + KEY_RE + r")(?![0-9a-f])")
_KEY_ALONE = re.compile(r"(?<![0-9a-f])(" + KEY_RE + r")(?![0-9a-f])")
_RANGE = re.compile(r"^\s*(\d+)\s*(?:[-:\u2013]|\.\.)\s*(\d+)?\s*$|^\s*(\d+)\s*$")


def parse_arguments(arguments: str | dict[str, Any]) -> tuple[str | None, str | None, tuple[int, int] | None, str | None]:
    """(key, grep, (first, last) line range, error) from a call's arguments, forgiving of what models do:
    uppercase hex in an earlier key, "key=…" or the whole marker pasted as the key, a range written "40..80" or "40"."""
    args = arguments
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return None, None, None, "the arguments were not valid JSON; call it as {\"key\": \"<the 20 digits after key=>\"}"
    if not isinstance(args, dict):
        return None, None, None, "the arguments must be an object like {\"key\": \"<the 20 digits after key=>\"}"
    given = str(args.get("key") or args.get("hash") or "").lower()
    m = _KEY_AFTER.search(given) or _KEY_ALONE.search(given)
    if m is None:
        return None, None, None, "no key given; pass the 20 digits after `key=` in a headroom marker"
    grep = args.get("grep")
    grep = str(grep) if grep not in (None, "") else None
    span = None
    raw = args.get("lines")
    if raw not in (None, ""):
        r = _RANGE.match(str(raw))
        if r is None:
            return None, None, None, f"`lines` must look like \"40-80\", not {raw!r}"
        first = int(r.group(1) or r.group(3))
        last = int(r.group(2)) if r.group(2) else (first if r.group(3) else 10**12)
        if first < 1 or last < first:
            return None, None, None, f"`lines` must be a range like \"40-80\" with 1 <= first <= last, not {raw!r}"
        span = (first, last)
    return m.group(1), grep, span, None


def answer_call(arguments: str | dict[str, Any], get: Callable[[str], str | None], ttl_seconds: int | None = None) -> str:
    """The tool result for one call: the original (or the asked-for part of it), or a plain sentence
    saying why there is none. Never raises for anything the model wrote."""
    key, grep, span, error = parse_arguments(arguments)
    if error or key is None:
        return f"headroom_retrieve: {error}."
    original = get(key)
    if original is None:
        kept = f" (originals are kept for {_human_duration(ttl_seconds)})" if ttl_seconds else ""
        return (f"headroom_retrieve: nothing is stored under key {key}: it is unknown or has expired{kept}. "
                "Carry on with the compressed content, or re-run the tool that produced it.")
    text = original
    if span is not None or grep is not None:
        lines = original.splitlines(keepends=True)
        if span is not None:
            first, last = span
            if first > len(lines):
                return f"headroom_retrieve: key {key} has only {len(lines)} lines; `lines` {first}-{last} is past the end."
            lines = lines[first - 1:last]
            text = "".join(lines)
        if grep is not None:
            base = span[0] if span else 1
            hits = [f"{base + i}: {ln}" for i, ln in enumerate(lines) if grep in ln]
            if not hits:
                return f"headroom_retrieve: no line of key {key} contains {grep!r}."
            text = "".join(h if h.endswith("\n") else h + "\n" for h in hits)
    if len(text) > MAX_ANSWER_CHARS:
        total = text.count("\n") + 1
        text = (text[:MAX_ANSWER_CHARS] + f"\n[headroom_retrieve: cut at {MAX_ANSWER_CHARS} characters of "
                f"about {total} lines; ask again with `lines` or `grep` for the rest]")
    return text


def _human_duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        n, unit = seconds // 86400, "day"
    elif seconds % 3600 == 0:
        n, unit = seconds // 3600, "hour"
    else:
        n, unit = seconds, "second"
    return f"{n} {unit}{'s' if n != 1 else ''}"
