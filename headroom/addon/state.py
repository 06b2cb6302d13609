"""What the addons of one LLM request share, kept in `flow.metadata[STATE_KEY]`: typed, and each field
written by the one addon named beside it, on the event loop (worker threads return values; the hook that
awaited them assigns).

Intercept makes it, parses the body and compresses it; Shape may steer the output and lower the effort;
Retrieve may splice hidden history and add the retrieval tool; Encode, the last request hook, writes the body back only if something changed; Stats reads
the numbers when the flow ends.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mitmproxy import http

    from headroom.core.jsonstyle import JsonStyle
    from headroom.core.pipeline import Outcome

from headroom.settings import SessionSettings

__all__ = ["STATE_KEY", "LLMRequest", "state_of"]

STATE_KEY = "headroom"


@dataclass
class LLMRequest:
    provider: str  # core.providers name: "openai_chat", "openai_responses", "anthropic", "gemini"
    host: str
    path: str
    # Intercept, once per flow: the wrapped session its connection's credential named (None: none, or one the
    # proxy does not know), and the settings the addons read for this flow (that session's, or the proxy's own).
    session: str | None = None
    settings: SessionSettings = field(default_factory=SessionSettings)
    # Intercept: the team user whose token the connection carried (addon/team.py); None off team mode.
    user: str | None = None
    # The request body exactly as the client sent it (raw: still in the request's Content-Encoding), kept by
    # Intercept before anything changes it, so Stats can count the whole request's tokens before exactly.
    original: bytes | None = None
    bypass: bool = False  # Intercept: x-headroom-bypass: 1
    # Intercept: a hash of the request's credential (core.retrieval.scope), which its drops are stored under
    # and retrieval is answered for; "" without one.
    scope: str = ""
    # Intercept: HEADROOM_COMPRESS_HOLDOUT's arm of this conversation, "treatment" (compressed) or "control"
    # (forwarded uncompressed, like a bypass but counted as the comparison group); None without a holdout.
    compress_arm: str | None = None
    # Shape (only with HEADROOM_OUTPUT_SHAPER on): HEADROOM_OUTPUT_HOLDOUT's arm, "treatment" (shaped) or
    # "control" (unshaped), None without that holdout; the turn's kind ("mechanical" or "other", core.shaper);
    # what the shaper changed (labels: "instruction", "effort:high->low", ...).
    output_arm: str | None = None
    turn_kind: str | None = None
    shaped: tuple[str, ...] = ()
    streaming: bool = False  # Intercept: the request asked for a streamed response
    compress_ms: float = 0.0  # Intercept
    outcome: Outcome | None = None  # Intercept: the compression's result, when it ran
    # The parsed JSON body as it goes upstream. Intercept sets it; Shape replaces it (a new dict, or the body
    # parsed itself when Intercept did not); Retrieve changes it in place (splice, tool)
    # in a worker thread that has it alone until the hook that awaited it goes on.
    body: dict[str, Any] | None = None
    # Intercept: the client's JSON style (separators, escaping) that writes the parsed body back as the client's
    # own bytes, found when compression changed the body; Encode writes the changed body in it.
    style: JsonStyle | None = None
    modified: bool = False  # Intercept, Shape or Retrieve changed `body` (only then is it re-encoded); Encode clears it
    fail_open: str | None = None  # Intercept or Encode: why the original bytes were forwarded untouched
    retrievals: int = 0  # Retrieve (the relay's answers): headroom_retrieve calls answered for this request
    retrieved_keys: list[str] = field(default_factory=list)  # Retrieve: the keys those calls asked for


def state_of(flow: http.HTTPFlow) -> LLMRequest | None:
    st = flow.metadata.get(STATE_KEY)
    return st if isinstance(st, LLMRequest) else None
