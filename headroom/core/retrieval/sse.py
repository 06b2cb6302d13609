"""Server-sent events, incrementally: bytes in any chunking → whole events → bytes again.

Events are kept with their exact raw bytes, so an event passed through unchanged is byte-identical.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Event", "SSEParser", "encode"]

MAX_EVENT_BYTES = 64 * 1024 * 1024  # far beyond any real event; a stream without blank lines is not SSE


@dataclass
class Event:
    raw: bytes  # the event as received, including its terminating blank line
    event: str | None = None
    data: str = ""

    def json(self) -> Any:
        """The data parsed as JSON, or None for `[DONE]`, empty or non-JSON data."""
        if not self.data or self.data == "[DONE]":
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            return None


def encode(data: dict[str, Any] | str, event: str | None = None) -> Event:
    """A new event carrying `data` (a dict is written as compact JSON on one line)."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    raw = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
    return Event(raw.encode("utf-8"), event, text)


def _parse(raw: bytes) -> Event:
    name = None
    data_lines = []
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            name = value
        elif field == "data":
            data_lines.append(value)
    return Event(raw, name, "\n".join(data_lines))


class SSEParser:
    """Feed bytes as they arrive; get back the events completed so far."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[Event]:
        self._buf += chunk
        out = []
        while True:
            cut = -1
            for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
                i = self._buf.find(sep)
                if i != -1 and (cut == -1 or i + len(sep) < cut):
                    cut = i + len(sep)
            if cut == -1:
                break
            raw, self._buf = self._buf[:cut], self._buf[cut:]
            out.append(_parse(raw))
        if len(self._buf) > MAX_EVENT_BYTES:
            raise ValueError("event stream has an event larger than 64 MiB: not a server-sent event stream")
        return out

    def close(self) -> list[Event]:
        """Whatever is left when the stream ends (a last event without its blank line)."""
        rest, self._buf = self._buf, b""
        return [_parse(rest)] if rest.strip() else []
