"""Whose a dropped original is: retrieval answers a key to the conversation that dropped it, and to the
credential that did, never to another client of the same proxy that names the key.

A stored drop records the scope of the request that wrote it: a hash of that request's credential (the
API key or bearer token headers the providers use, or Gemini's `key` query parameter), never the
credential itself. A retrieve call is answered when its key is one this request's own compression made
(the conversation is resent every turn, so its drops are always its own: an OAuth token that rotated
mid-conversation does not matter), or when the drop was written under the same scope (a client that does
not resend its history, as with Responses' `previous_response_id`).
"""
from __future__ import annotations

import hashlib
from typing import Iterable
from urllib.parse import parse_qsl, urlsplit

__all__ = ["CREDENTIAL_HEADERS", "credential_scope"]

# Anthropic x-api-key, OpenAI and OAuth Authorization, Gemini x-goog-api-key, Azure OpenAI api-key.
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")
_DOMAIN = b"headroom-scope-v1\0"


def credential_scope(headers: Iterable[tuple[str, str]], path: str = "", user: str | None = None) -> str:
    """16 hex digits naming the credential of a request (headers as (name, value) pairs, `path` with its
    query) and, on a team proxy, its user (two users sharing one API key get two scopes), or "" when it
    carries neither."""
    found = sorted((k.lower(), v.strip()) for k, v in headers if k.lower() in CREDENTIAL_HEADERS and v.strip())
    found += [("?key", v) for k, v in parse_qsl(urlsplit(path).query) if k == "key" and v]
    if user:
        found.append(("@user", user))
    if not found:
        return ""
    data = b"\0".join(f"{k}={v}".encode("utf-8", "surrogatepass") for k, v in found)
    return hashlib.sha256(_DOMAIN + data).hexdigest()[:16]
