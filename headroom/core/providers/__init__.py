"""API shapes: which provider a request is (from host + path), and where its tool outputs are.

One module per shape (openai_chat, openai_responses, anthropic, gemini). Each exposes
`find_units(body) -> list[Unit]` (the tool outputs of a parsed request body, in order, each with the
user's text that preceded it) and `model_of(body, path) -> str | None`. Nothing here mutates a body:
the pipeline writes compressed text back along each unit's `path`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Callable
from urllib.parse import urlsplit

__all__ = ["PROVIDERS", "Unit", "get_provider", "provider_for", "QUERY_MAX_CHARS", "Questions", "args_json"]

PROVIDERS = ("openai_chat", "openai_responses", "anthropic", "gemini")
QUERY_MAX_CHARS = 2000  # the question is what matters; a pasted 50 KB user message is not a better query
TOOL_ARGS_MAX_CHARS = 2000  # a path or a command; a Write's whole file content is not needed for a hint


@dataclass(frozen=True)
class Unit:
    """One tool output found in a request body."""

    path: tuple[str | int, ...]  # keys/indices from the body root to the value to replace
    text: str  # what gets compressed
    tool_name: str | None = None
    query: str = ""  # the user's text that preceded this tool call (prefix-stable, invariant 3)
    is_error: bool = False
    # Turns compressed text into the value stored at `path` (None: the text itself). Gemini uses it to
    # put a JSON-serialised functionResponse.response back as an object; it returns None to refuse.
    decode: Callable[[str], Any] | None = None
    # The arguments of the call this output answers, as compact JSON (Claude Code's Read `file_path`, a
    # Codex `cmd`): what a marker needs to tell the model how to fetch folded lines with its own tool.
    tool_args: str = ""
    # The user's questions that came after `query`, oldest first: a later question that names what this
    # output dropped re-expands it (the one allowed change of an earlier message, counted as a cache miss).
    later: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        out = ""
        for p in self.path:
            out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
        return out


# Paths of generation endpoints (query string removed). Anything else on an LLM host passes untouched:
# count_tokens, models, files, batches, /responses/compact, /responses/{id}, embeddings...
_CHAT = re.compile(r"(^|/)chat/completions$")
_RESPONSES = re.compile(r"(^|/)responses$")
_ANTHROPIC = re.compile(r"(^|/)v1/messages$|:(rawPredict|streamRawPredict)$")
_GEMINI = re.compile(r":(generateContent|streamGenerateContent)$")
_BEDROCK = re.compile(r"(^|\.)bedrock(-runtime)?[.-]", re.IGNORECASE)


def provider_for(host: str, path: str, method: str = "POST") -> str | None:
    """The provider shape of a request to `host` `path`, or None if it must pass untouched."""
    if method.upper() != "POST" or _BEDROCK.search(host or ""):  # a changed body breaks Bedrock's SigV4
        return None
    p = urlsplit(path).path.rstrip("/")
    h = (host or "").lower().rstrip(".")
    if h == "chatgpt.com" and not p.startswith("/backend-api/codex/"):
        return None  # the ChatGPT web app shares the host; only Codex's API paths are ours
    if _CHAT.search(p):
        return "openai_chat"
    if _RESPONSES.search(p):
        return "openai_responses"
    if _GEMINI.search(p):
        return "gemini"
    if _ANTHROPIC.search(p):
        # Vertex rawPredict is Anthropic-shaped only for the anthropic publisher.
        if p.endswith("awPredict") and "/publishers/anthropic/" not in p:
            return None
        return "anthropic"
    return None


def get_provider(name: str) -> ModuleType:
    if name not in PROVIDERS:
        raise KeyError(f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}")
    import importlib

    return importlib.import_module(f"headroom.core.providers.{name}")


def text_of(content: Any, part_types: tuple[str, ...] = ("text", "input_text")) -> str:
    """The plain text of a message content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content
            if isinstance(p, dict) and p.get("type") in part_types and isinstance(p.get("text"), str)
        )
    return ""


# Elements agent harnesses inject into user turns (Claude Code's <system-reminder>, <command-name>,
# Codex's <environment_context>, <user_instructions>): custom tags with a '-' or '_' in their name, never
# HTML. They are not the user's question, and the question is what relevance is judged against.
_HARNESS_ELEMENT = re.compile(r"<([a-z][a-z0-9]*[-_][a-z0-9_-]*)\b[^>]*>.*?</\1>", re.S)


def clip_query(text: str) -> str:
    """The user's question in `text`: harness-injected elements removed, its last QUERY_MAX_CHARS kept.
    Empty when nothing but injected elements remains (callers then keep the previous question)."""
    text = _HARNESS_ELEMENT.sub("", text).strip()
    return text if len(text) <= QUERY_MAX_CHARS else text[-QUERY_MAX_CHARS:]


def args_json(args: Any) -> str:
    """A call's arguments as compact, canonical JSON text (a JSON string of arguments is kept as sent)."""
    if isinstance(args, str):
        text = args
    elif args is None:
        return ""
    else:
        try:
            text = json.dumps(args, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            return ""
    return text[:TOOL_ARGS_MAX_CHARS]


class Questions:
    """The user's questions of a conversation in order, and which of them came after each tool output.

    A provider calls `ask(text)` for every user text it meets (empty and repeated ones are ignored) and
    `unit(...)` for every tool output; `finish()` gives each unit the questions asked after its own."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._units: list[tuple[Unit, int]] = []

    @property
    def current(self) -> str:
        return self.asked[-1] if self.asked else ""

    def ask(self, text: str) -> None:
        if text and text != self.current:
            self.asked.append(text)

    def unit(self, *args: Any, **kwargs: Any) -> None:
        self._units.append((Unit(*args, **kwargs), len(self.asked)))

    def finish(self) -> list[Unit]:
        out = []
        for u, seen in self._units:
            later = tuple(self.asked[seen:])
            out.append(replace(u, later=later) if later else u)
        return out
