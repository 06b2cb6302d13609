"""API shapes: the registry of Provider objects, and which one a request is (from host + path).

One module per shape (openai_chat, openai_responses, anthropic, gemini), each defining one `Provider`
(see base.py) as its `PROVIDER`; everything shape-specific dispatches through `get_provider(name)`.
Every module of this package but base.py is a shape, found on first use: a new shape is one module
here plus its hosts in core.hosts. `register()` adds one defined elsewhere (tests).
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any
from urllib.parse import urlsplit

from headroom.core.providers.base import (QUERY_MAX_CHARS, Provider, Questions, ToolCall, Unit, args_json,
                                          clip_query, first_message_text, json_args, text_of, text_parts)

__all__ = ["PROVIDERS", "Provider", "QUERY_MAX_CHARS", "Questions", "ToolCall", "Unit", "UnknownProvider", "args_json",
           "clip_query", "first_message_text", "get_provider", "json_args", "provider_for", "register", "text_of",
           "text_parts", "unregister"]

_builtin: dict[str, Provider] = {}  # this package's shapes, in the order provider_for asks them
_registered: dict[str, Provider] = {}
_BEDROCK = re.compile(r"(^|\.)bedrock(-runtime)?[.-]", re.IGNORECASE)


class UnknownProvider(KeyError, ValueError):
    """A provider name nobody registered (a KeyError for lookups, a ValueError for arguments)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _shapes() -> dict[str, Provider]:
    if not _builtin:
        found = [importlib.import_module(f"{__name__}.{m.name}").PROVIDER
                 for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_")]
        _builtin.update((p.name, p) for p in sorted(found, key=lambda p: (p.precedence, p.name)))
    return {**_builtin, **_registered}


def __getattr__(name: str) -> Any:
    if name == "PROVIDERS":  # the built-in shapes' names, known once their modules are loaded
        _shapes()
        return tuple(_builtin)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_provider(name: str) -> Provider:
    """The Provider registered under `name`."""
    shapes = _shapes()
    found = shapes.get(name)
    if found is None:
        raise UnknownProvider(f"unknown provider {name!r}; known: {', '.join(shapes)}")
    return found


def register(provider: Provider) -> Provider:
    """Add (or replace) a shape defined outside this package; provider_for asks it after the built-ins."""
    if not provider.name:
        raise ValueError("a Provider needs a name")
    _registered[provider.name] = provider
    return provider


def unregister(name: str) -> None:
    """Forget a shape `register` added (tests)."""
    _registered.pop(name, None)


def provider_for(host: str, path: str, method: str = "POST") -> str | None:
    """The provider shape of a request to `host` `path`, or None if it must pass untouched."""
    if method.upper() != "POST" or _BEDROCK.search(host or ""):  # a changed body breaks Bedrock's SigV4
        return None
    p = urlsplit(path).path.rstrip("/")
    h = (host or "").lower().rstrip(".")
    if h == "chatgpt.com" and not p.startswith("/backend-api/codex/"):
        return None  # the ChatGPT web app shares the host; only Codex's API paths are ours
    for name, shape in _shapes().items():
        if shape.handles(h, p):
            return name
    return None
