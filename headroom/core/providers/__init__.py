"""API shapes: the registry of Provider objects, and which one a request is (from host + path).

One module per shape (openai_chat, openai_responses, anthropic, gemini), each defining one `Provider`
(see base.py) as its `PROVIDER`; everything shape-specific dispatches through `get_provider(name)`.
A new shape is one module here, its name in `_MODULES`, and its hosts in core.hosts; `register()` adds
one defined elsewhere (tests).
"""
from __future__ import annotations

import importlib
import re
from urllib.parse import urlsplit

from headroom.core.providers.base import (QUERY_MAX_CHARS, Provider, Questions, ToolCall, Unit, args_json,
                                          clip_query, first_message_text, json_args, text_of, text_parts)

__all__ = ["PROVIDERS", "Provider", "QUERY_MAX_CHARS", "Questions", "ToolCall", "Unit", "UnknownProvider", "args_json",
           "clip_query", "first_message_text", "get_provider", "json_args", "provider_for", "register", "text_of",
           "text_parts", "unregister"]

# name -> module defining its PROVIDER, in the order provider_for asks them.
_MODULES = {
    "openai_chat": "headroom.core.providers.openai_chat",
    "openai_responses": "headroom.core.providers.openai_responses",
    "anthropic": "headroom.core.providers.anthropic",
    "gemini": "headroom.core.providers.gemini",
}
PROVIDERS = tuple(_MODULES)  # the built-in shapes
_loaded: dict[str, Provider] = {}
_BEDROCK = re.compile(r"(^|\.)bedrock(-runtime)?[.-]", re.IGNORECASE)


class UnknownProvider(KeyError, ValueError):
    """A provider name nobody registered (a KeyError for lookups, a ValueError for arguments)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _names() -> list[str]:
    return list(dict.fromkeys([*_MODULES, *_loaded]))


def get_provider(name: str) -> Provider:
    """The Provider registered under `name` (loaded on first use)."""
    found = _loaded.get(name)
    if found is not None:
        return found
    module = _MODULES.get(name)
    if module is None:
        raise UnknownProvider(f"unknown provider {name!r}; known: {', '.join(_names())}")
    found = _loaded[name] = importlib.import_module(module).PROVIDER
    return found


def register(provider: Provider) -> Provider:
    """Add (or replace) a shape defined outside this package; provider_for asks it after the built-ins."""
    if not provider.name:
        raise ValueError("a Provider needs a name")
    _loaded[provider.name] = provider
    return provider


def unregister(name: str) -> None:
    """Forget a shape `register` added (tests); the built-ins load again on next use."""
    _loaded.pop(name, None)


def provider_for(host: str, path: str, method: str = "POST") -> str | None:
    """The provider shape of a request to `host` `path`, or None if it must pass untouched."""
    if method.upper() != "POST" or _BEDROCK.search(host or ""):  # a changed body breaks Bedrock's SigV4
        return None
    p = urlsplit(path).path.rstrip("/")
    h = (host or "").lower().rstrip(".")
    if h == "chatgpt.com" and not p.startswith("/backend-api/codex/"):
        return None  # the ChatGPT web app shares the host; only Codex's API paths are ours
    for name in _names():
        if get_provider(name).handles(h, p):
            return name
    return None
