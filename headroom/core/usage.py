"""The token usage a provider reports in its response, read from JSON or incrementally from an SSE stream.

Normalised so every provider means the same thing:
  input       ALL input tokens the provider counted, cache reads and cache writes included
  cache_read  of those, read from the provider's prompt cache
  cache_write of those, written to it (Anthropic's cache_creation_input_tokens; 0 elsewhere)
  output      output tokens, reasoning/thinking included

Where each provider reports it is the Provider's `usage_of` / `stream_usage` (core.providers): OpenAI
chat `usage` (streamed: the final chunk when stream_options.include_usage is set), Responses `usage`
(streamed: in response.completed / .incomplete / .failed), Anthropic `usage` (streamed: message_start,
then cumulative message_delta), Gemini `usageMetadata` (streamed: every chunk, cumulative). The reader takes raw bytes exactly as they pass through the proxy: still
content-encoded, cut anywhere, even inside a UTF-8 character. It never raises; whatever it cannot
read leaves the usage unreported rather than wrong.
"""
from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any, Callable

from headroom.core.encoding import StreamDecoder
from headroom.core.providers import get_provider

__all__ = ["Usage", "UsageReader", "as_count", "usage_from_body", "usage_from_json"]

MAX_EVENT_BYTES = 32 * 1024 * 1024  # a Responses completion repeats the whole output; anything larger is not usage
MAX_JSON_BYTES = 64 * 1024 * 1024  # a non-SSE body is parsed at the end; beyond this the usage stays unknown


@dataclass(frozen=True)
class Usage:
    input: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0
    reported: bool = False  # the provider said something about usage (all zeros is then a real answer)

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.input + other.input, self.cache_read + other.cache_read,
                     self.cache_write + other.cache_write, self.output + other.output,
                     self.reported or other.reported)

    def as_dict(self) -> dict[str, Any]:
        return {"input": self.input, "cache_read": self.cache_read, "cache_write": self.cache_write,
                "output": self.output}


def as_count(v: Any) -> int:
    """A token count as a provider reports it: a positive number, else 0 (None, a bool, a string)."""
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else 0


def usage_from_json(provider: str, obj: Any) -> Usage | None:
    """The usage in one decoded JSON response or stream event, or None if it carries none."""
    if not isinstance(obj, dict):
        return None
    return get_provider(provider).usage_of(obj)


def _model_of(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    for holder in (obj, obj.get("response"), obj.get("message")):
        if isinstance(holder, dict):
            m = holder.get("model") or holder.get("modelVersion")
            if isinstance(m, str) and m:
                return m
    return None


class UsageReader:
    """Feed it the response body as it passes (raw, possibly content-encoded, split anywhere); ask for
    `usage` at any point. Non-SSE bodies are kept (up to MAX_JSON_BYTES) and parsed at `finish()`."""

    def __init__(self, provider: str, *, content_encoding: str | None = None, content_type: str | None = None):
        self.provider = provider
        self._provider = get_provider(provider)
        self.model: str | None = None
        self.broken: str | None = None  # why reading stopped, if it did
        self.ended = False  # the stream's final event went by (Provider.stream_ends): the client has it all
        self._usage: Usage | None = None
        self._sse = "text/event-stream" in (content_type or "").lower()
        self._text = codecs.getincrementaldecoder("utf-8")("replace")
        self._line_buf = ""
        self._event: list[str] = []
        self._event_size = 0
        self._raw: list[bytes] = []
        self._raw_size = 0
        self._finished = False
        self._decoder: StreamDecoder | None
        try:
            self._decoder = StreamDecoder(content_encoding)
        except (ValueError, ImportError) as e:
            self._decoder = None
            self.broken = str(e)

    @property
    def usage(self) -> Usage:
        return self._usage or Usage()

    def feed(self, chunk: bytes | bytearray) -> None:
        if self.broken or self._finished or not chunk or self._decoder is None:
            return
        try:
            data = self._decoder.decode(bytes(chunk))
        except Exception as e:  # a corrupt stream: the client gets it as-is; we stop reading
            self.broken = f"cannot decode the response body: {e}"
            return
        if not data:
            return
        if self._sse:
            self._feed_sse(self._text.decode(data))
        elif self._raw_size + len(data) <= MAX_JSON_BYTES:
            self._raw.append(data)
            self._raw_size += len(data)
        else:
            self.broken = "response body too large to read usage from"
            self._raw = []

    def finish(self) -> Usage:
        """Call once at the end of the body; returns the usage read."""
        if self._finished:
            return self.usage
        self._finished = True
        if self.broken:
            return self.usage
        if self._sse:
            self._feed_sse(self._text.decode(b"", final=True) + "\n\n")
        elif self._raw:
            self._take_body(b"".join(self._raw))
            self._raw = []
        return self.usage

    def _take_body(self, body: bytes) -> None:
        try:
            obj = json.loads(body)
        except ValueError:
            if body.lstrip().startswith((b"data:", b"event:")):
                self._feed_sse(body.decode("utf-8", "replace") + "\n\n")  # SSE sent without its content-type
            return
        # Gemini's streamGenerateContent without alt=sse answers a JSON array of chunks.
        for item in obj if isinstance(obj, list) else [obj]:
            self._take(item)

    def _feed_sse(self, text: str) -> None:
        if not text:
            return
        lines = (self._line_buf + text).split("\n")
        self._line_buf = lines.pop()
        if len(self._line_buf) > MAX_EVENT_BYTES:  # one endless line: not an event worth reading
            self._line_buf = ""
        for line in lines:
            line = line.rstrip("\r")
            if not line:
                self._dispatch()
            elif line.startswith("data:"):
                value = line[5:]
                value = value[1:] if value.startswith(" ") else value
                self._event_size += len(value)
                if self._event_size <= MAX_EVENT_BYTES:
                    self._event.append(value)

    def _dispatch(self) -> None:
        if not self._event:
            self._event_size = 0
            return
        data = "\n".join(self._event)
        too_big = self._event_size > MAX_EVENT_BYTES
        self._event, self._event_size = [], 0
        if too_big:
            return
        obj: Any = None
        if data.strip() != "[DONE]":
            try:
                obj = json.loads(data)
            except ValueError:
                obj = None
        if self._provider.stream_ends(data, obj):
            self.ended = True
        if obj is not None:
            self._take(obj)

    def _take(self, obj: Any) -> None:
        if self.model is None:
            self.model = _model_of(obj)
        if isinstance(obj, dict):
            found = self._provider.stream_usage(self._usage, obj)
            if found is not None:
                self._usage = found


def usage_from_body(provider: str, body: bytes, *, content_type: str | None = None,
                    content_encoding: str | None = None) -> tuple[Usage, str | None]:
    """(usage, model) of a whole response body, JSON or SSE."""
    reader = UsageReader(provider, content_encoding=content_encoding, content_type=content_type)
    reader.feed(body)
    return reader.finish(), reader.model
