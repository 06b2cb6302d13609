"""The retrieval driver: one relayed answer, sans-IO, as h11 drives HTTP.

The caller feeds it what upstream sends and does what it returns, nothing else:

    driver = Retrieval(provider, body, prev_fp, host=..., stream=..., headers=...)
    actions = driver.receive_data(chunk) ... + driver.end_of_body()
    SendToClient(events)   stream these events on to the client
    AnswerCalls(calls)     look the keys up in the store, then `driver.answered(results)`
    ContinueUpstream(body) send this continuation upstream, then `driver.continuation_response(status,
                           headers, body or None)` (and its body through receive_data / end_of_body when
                           it streams), or `driver.continuation_failed(error)` when it could not be sent
    Done(record, response) the answer is complete: keep `record` (fingerprint, record) for later turns,
                           then send `response` (a JSON answer) or end the stream

A streamed answer reaches the client as it arrives, except the retrieval call's own events; a JSON
answer is one response at the end. The provider's `Exchange` does the per-shape work.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Union

from headroom.core.providers import get_provider
from headroom.core.retrieval.base import MAX_ROUNDS
from headroom.core.retrieval.sse import Event, SSEParser
from headroom.core.retrieval.tool import Call

__all__ = ["Action", "AnswerCalls", "ContinueUpstream", "Done", "Response", "Retrieval", "SendToClient"]

MAX_DETAIL_CHARS = 2000  # of an upstream's refusal of a continuation, told to the client in the stream


@dataclass(frozen=True)
class SendToClient:
    events: tuple[Event, ...]

    @property
    def data(self) -> bytes:
        return b"".join(e.raw for e in self.events)


@dataclass(frozen=True)
class Response:
    """A whole JSON answer for the client."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class AnswerCalls:
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class ContinueUpstream:
    body: dict[str, Any]

    @property
    def data(self) -> bytes:
        """The continuation as it goes upstream: plain compact JSON, whatever the client's encoding was."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Done:
    """The answer is complete: keep `record`, then end the answer (send `response`, or end the stream)."""

    record: tuple[str, str] | None  # (fingerprint, serialised record) of the hidden exchange, or None
    response: Response | None = None  # the JSON answer; None for a stream (its events have gone already)


Action = Union[SendToClient, AnswerCalls, ContinueUpstream, Done]


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


class Retrieval:
    """One upstream answer (200, JSON or SSE) of a request that carries the headroom_retrieve tool."""

    def __init__(self, provider: str, body: dict[str, Any], prev_fp: str = "", *, host: str = "", stream: bool,
                 headers: tuple[tuple[str, str], ...] | list[Any] = ()) -> None:
        self.provider = get_provider(provider)
        self.exchange = self.provider.exchange(body, prev_fp)
        self.stream = stream
        self.host = host
        self.headers = tuple(headers)  # of the first response: what a JSON answer goes back with
        self.results: dict[str, str] = {}  # the latest round's answers, for the record
        self.done = False
        self._parser = SSEParser()
        self._body: list[bytes] = []
        self._first = True

    # --- the upstream body of the current round -------------------------------------------------------

    def receive_data(self, chunk: bytes) -> list[Action]:
        if not self.stream:
            self._body.append(bytes(chunk))
            return []
        return self._send(self._parser.feed(chunk))

    def end_of_body(self) -> list[Action]:
        """The current round's upstream body has ended."""
        if not self.stream:
            raw, self._body = b"".join(self._body), []
            return self._json_round(raw)
        out = self._send(self._parser.close())
        calls = self.exchange.end_round()
        if not calls:
            return out + self._finish_stream()
        return out + [AnswerCalls(tuple(calls))]

    def _send(self, events: list[Event]) -> list[Action]:
        shown = [e for ev in events for e in self.exchange.feed(ev)]
        return [SendToClient(tuple(shown))] if shown else []

    # --- answers and continuations --------------------------------------------------------------------

    def answered(self, results: dict[str, str]) -> list[Action]:
        """The store's answers to the last AnswerCalls, by call id."""
        self.results = results
        if not self.exchange.can_continue():
            return self._finish_stream() if self.stream else self._finish_json()
        body = self.exchange.continuation(results, last_round=self.exchange.rounds + 1 >= MAX_ROUNDS)
        return [ContinueUpstream(body)]

    def continuation_failed(self, error: str) -> list[Action]:
        """The continuation could not be sent (or, for JSON, read): `error` says why."""
        if self.stream:
            return self._send_error(error) + self._finish_stream()
        message = f"headroom: the retrieval continuation to {self.host} failed: {error}"
        body = json.dumps({"error": {"type": "headroom_upstream_error", "message": message}}).encode()
        return self._done(None, 502, (("content-type", "application/json"),), body)

    def continuation_response(self, status: int, headers: Iterable[tuple[str, str]],
                              body: bytes | None = None) -> list[Action]:
        """Upstream answered the continuation: `status` and `headers`, and for a refusal (or a JSON answer)
        its whole `body`. A streamed 200's body comes next, through receive_data and end_of_body."""
        if status != 200:
            if self.stream:
                detail = (body or b"").decode("utf-8", "replace")[:MAX_DETAIL_CHARS]
                return (self._send_error(f"upstream answered {status} to the retrieval continuation: {detail}")
                        + self._finish_stream())
            return self._done(None, status, tuple(headers), body or b"")  # the upstream's own error
        self.results = {}
        self._parser = SSEParser()
        return [] if self.stream else self._json_round(body or b"")

    # --- endings ----------------------------------------------------------------------------------------

    def _send_error(self, message: str) -> list[Action]:
        return [SendToClient((self.exchange.error_event(self.provider.error_event(f"headroom: {message}")),))]

    def _finish_stream(self) -> list[Action]:
        tail = self.exchange.finish()
        self.done = True
        out: list[Action] = [SendToClient(tuple(tail))] if tail else []
        return out + [Done(self.exchange.record(self.results))]

    def _json_round(self, raw: bytes) -> list[Action]:
        first, self._first = self._first, False
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            # The first answer passes as it came; a continuation's is not the answer the client asked for.
            return self._done(None, 200 if first else 502, self.headers, raw)
        calls = self.exchange.feed_response(data)
        if calls:
            return [AnswerCalls(tuple(calls))]
        if first:
            # Nothing to answer: the upstream's bytes, untouched, unless what the client may see differs
            # (a Responses object echoes the request's tools, the injected one among them).
            shaped = self.exchange.final_response()
            return self._done(None, 200, self.headers, raw if shaped == data else _dumps(shaped))
        return self._finish_json()

    def _finish_json(self) -> list[Action]:
        final = _dumps(self.exchange.final_response())
        return self._done(self.exchange.record(self.results), 200, self.headers, final)

    def _done(self, record: tuple[str, str] | None, status: int, headers: tuple[Any, ...],
              body: bytes) -> list[Action]:
        self.done = True
        hdrs = tuple((k, v) for k, v in headers if k.lower() != "content-length")
        hdrs += (("content-length", str(len(body))),)
        return [Done(record, Response(status, hdrs, body))]
