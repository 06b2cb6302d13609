"""The library API: `from headroom import compress; r = compress(messages, model="gpt-4o")`.

Messages go in OpenAI-chat or Anthropic shape and come back in the same shape, with every tool output
compressed exactly as the proxy would compress it (the same pipeline), and what was dropped stored in
the local store so every marker's key can be retrieved (`headroom retrieve KEY`, or the model's
`headroom_retrieve` tool when the request goes through the proxy).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from headroom.core.pipeline import UnitReport, compress_body

__all__ = ["CompressResult", "UnitReport", "compress", "detect_shape", "store_drops"]

SHAPES = ("openai_chat", "anthropic")


@dataclass(frozen=True)
class CompressResult:
    messages: list[Any]  # same shape as the input; the input is never mutated
    tokens_before: int  # tokens of tool outputs only, before and after
    tokens_after: int
    units: tuple[UnitReport, ...] = ()  # one per tool output: content type, compressor, before/after, ms
    drops: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # marker key -> dropped text
    shape: str = "openai_chat"

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def compression_ratio(self) -> float:
        """Share of tool-output tokens saved, 0.0 to 1.0."""
        return self.tokens_saved / self.tokens_before if self.tokens_before else 0.0


def detect_shape(messages: Sequence[Any]) -> str:
    """"anthropic" if the messages carry tool_use/tool_result blocks, else "openai_chat"."""
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("role") == "tool" or m.get("tool_calls"):
            return "openai_chat"
        content = m.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") in ("tool_result", "tool_use"):
                    return "anthropic"
    return "openai_chat"


def store_drops(drops: Mapping[str, str]) -> None:
    """Keep dropped runs (marker key -> text) in the local store, so every marker stays retrievable:
    what the library and `headroom compress` do after compressing outside the proxy."""
    if not drops:
        return
    from headroom.settings import open_user_store  # the store (SQLite) only when something was dropped

    st = open_user_store()
    try:
        st.put_many(dict(drops))
    finally:
        st.close()


def compress(
    messages: Sequence[dict[str, Any]],
    model: str | None = "gpt-4o",
    *,
    shape: str | None = None,
    store: bool = True,
) -> CompressResult:
    """Compress the tool outputs in `messages`; return the messages in the same shape and the numbers.

    `shape` is "openai_chat" or "anthropic" (detected when None). With `store=True` (the default) every
    dropped run is written to the local store under its marker key; `store=False` keeps nothing.
    """
    if isinstance(messages, dict) or isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError("compress() takes a list of messages (OpenAI chat or Anthropic shape), "
                        f"not {type(messages).__name__}; for a whole request body pass body['messages']")
    shape = shape or detect_shape(messages)
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}")
    body = {"model": model, "messages": list(messages)} if model else {"messages": list(messages)}
    from headroom.settings import pipeline_env

    outcome = compress_body(shape, body, model=model, min_tokens=pipeline_env())
    if store:
        store_drops(outcome.drops)
    return CompressResult(
        messages=outcome.body["messages"],
        tokens_before=outcome.tokens_before,
        tokens_after=outcome.tokens_after,
        units=outcome.units,
        drops=outcome.drops,
        shape=shape,
    )
