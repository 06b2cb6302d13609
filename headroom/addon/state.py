"""What the addons of one LLM request share, kept in `flow.metadata[STATE_KEY]`.

Intercept parses the body and compresses it; Retrieve may splice hidden history and add the retrieval
tool; Encode, the last request hook, writes the body back only if something changed; Stats reads the
numbers when the flow ends.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STATE_KEY", "LLMRequest", "state_of"]

STATE_KEY = "headroom"


@dataclass
class LLMRequest:
    provider: str  # core.providers name: "openai_chat", "openai_responses", "anthropic", "gemini"
    host: str
    path: str
    body: dict | None = None  # the parsed JSON body, mutated in place by the addons that change it
    modified: bool = False  # True once any addon changed `body`; only then is it re-encoded
    outcome: Any = None  # core.pipeline.Outcome of the compression, when it ran
    fail_open: str | None = None  # why the original bytes were forwarded untouched, if they were
    bypass: bool = False  # x-headroom-bypass: 1
    # HEADROOM_OUTPUT_HOLDOUT's arm of this conversation: "treatment" (compressed) or "control" (forwarded
    # untouched, like a bypass but counted as the comparison group); None when no holdout is configured.
    arm: str | None = None
    streaming: bool = False  # the request asked for a streamed response
    retrievals: int = 0  # headroom_retrieve calls the proxy answered for this request
    retrieved_keys: list = field(default_factory=list)  # the marker keys those calls asked for (never content)
    started: float = field(default_factory=time.monotonic)
    compress_ms: float = 0.0
    first_byte_at: float | None = None
    usage: dict = field(default_factory=dict)  # what the provider reported: input, output, cache_read, cache_write
    # The request body exactly as the client sent it (raw: still in the request's Content-Encoding), kept by
    # Intercept before anything changes it, so Stats can count the whole request's tokens before exactly.
    original: bytes | None = None


def state_of(flow) -> LLMRequest | None:
    return flow.metadata.get(STATE_KEY)
