"""Cloud Code Assist (cloudcode-pa.googleapis.com `/v1internal:generateContent` and
`:streamGenerateContent`): the Gemini CLI's "Login with Google". A Gemini request wrapped in an envelope.

The body is `{"model", "project", "user_prompt_id", "request": {contents, systemInstruction, tools,
toolConfig, generationConfig, session_id}}` and every answer (each SSE event too) is `{"response":
{candidates, usageMetadata, modelVersion, ...}, "traceId"}` (the Gemini CLI's
packages/core/src/code_assist/converter.ts `CAGenerateContentRequest` / `CaGenerateContentResponse`, and
server.ts `getMethodUrl`, `requestStreamingPost` with `alt=sse`). So everything is Gemini's, one level
down: the turns and the tool go into `request`, answers are read through `response`.
"""
from __future__ import annotations

import re
from typing import Any

from headroom.core.providers.gemini import Gemini, GeminiExchange
from headroom.core.retrieval.sse import Event, encode
from headroom.core.retrieval.tool import Call
from headroom.core.usage import Usage

__all__ = ["PROVIDER", "CodeAssist", "CodeAssistExchange"]

NAME = "code_assist"
_PATH = re.compile(r"(^|/)v1internal:(generateContent|streamGenerateContent)$")


def _inner(obj: Any) -> Any:
    """The generateContent response inside an envelope, or None."""
    inner = obj.get("response") if isinstance(obj, dict) else None
    return inner if isinstance(inner, dict) else None


def _wrap(envelope: dict[str, Any], inner: Any) -> dict[str, Any]:
    """`envelope` carrying `inner` as its response, keys in the envelope's order."""
    return {k: (inner if k == "response" else v) for k, v in envelope.items()}


class CodeAssistExchange(GeminiExchange):
    """Gemini's exchange on the enveloped request and answers: unwrap, do what Gemini does, wrap again."""

    provider = NAME

    def __init__(self, body: dict[str, Any], *, prev_fp: str = ""):
        self.envelope: dict[str, Any] = {"response": None}  # the latest answer's envelope (traceId)
        super().__init__(body, prev_fp=prev_fp)

    def _outer(self, ev: Event) -> Event:
        """A Gemini answer event as the client's envelope carries it (errors and envelopes as they are)."""
        obj = ev.json()
        if not isinstance(obj, dict) or "response" in obj or "error" in obj:
            return ev
        return encode(_wrap(self.envelope, obj), ev.event)

    def feed(self, ev: Event) -> list[Event]:
        obj = ev.json()
        inner = _inner(obj)
        if inner is None:
            return super().feed(ev)  # an error object or a keep-alive: passed on as it is
        self.envelope = dict(obj)
        passed = encode(inner, ev.event)
        return [ev if out is passed else self._outer(out) for out in super().feed(passed)]

    def finish(self) -> list[Event]:
        return [self._outer(ev) for ev in super().finish()]

    def feed_response(self, resp: dict[str, Any]) -> list[Call]:
        self.envelope = dict(resp)
        return super().feed_response(_inner(resp) or {})

    def final_response(self) -> dict[str, Any]:
        return _wrap(self.envelope, super().final_response())

    def continuation(self, results: dict[str, str], last_round: bool = False) -> dict[str, Any]:
        envelope = self.body
        self.body = envelope["request"]
        request = super().continuation(results, last_round)  # Gemini's next round, on the inner request
        self.body = dict(envelope, request=request)
        return self.body


class CodeAssist(Gemini):
    name = NAME
    precedence = 35  # its paths also end in :generateContent, which the Gemini shape would take
    exchange_class = CodeAssistExchange

    def handles(self, host: str, path: str) -> bool:
        return _PATH.search(path) is not None

    def request_of(self, body: dict[str, Any]) -> dict[str, Any] | None:
        request = body.get("request")
        return request if isinstance(request, dict) else None

    def usage_of(self, obj: Any) -> Usage | None:
        return super().usage_of(_inner(obj))

    def stream_ends(self, data: str, obj: Any) -> bool:
        return super().stream_ends(data, _inner(obj))


PROVIDER = CodeAssist()
