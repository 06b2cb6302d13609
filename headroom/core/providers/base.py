"""What every API shape shares: the `Provider` interface, the `Unit` it finds, and the text helpers.

A Provider is everything Headroom knows about one API shape (OpenAI chat, Responses, Anthropic Messages,
Gemini): which paths are its generation calls, where a request's tool outputs and questions are, the
model and the conversation's start, the usage a response reports, the headroom_retrieve tool in its
format and the `Exchange` that answers the tool's calls in its responses, how hidden exchanges are put
back into later turns, and where the output shaper's instruction and effort go. Nothing here mutates a body: the pipeline writes compressed text back along
each unit's `path`; the retrieval code works on copies.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator

if TYPE_CHECKING:
    from headroom.core.retrieval.base import Exchange
    from headroom.core.retrieval.sse import Event
    from headroom.core.usage import Usage

__all__ = ["Provider", "QUERY_MAX_CHARS", "Questions", "ToolCall", "Unit", "args_json", "clip_query",
           "first_message_text", "json_args", "text_of", "text_parts"]

QUERY_MAX_CHARS = 2000  # the question is what matters; a pasted 50 KB user message is not a better query
TOOL_ARGS_MAX_CHARS = 2000  # a path or a command; a Write's whole file content is not needed for a hint


@dataclass(frozen=True)
class Unit:
    """One tool output found in a request body."""

    path: tuple[str | int, ...]  # keys/indices from the body root to the value to replace
    text: str  # what gets compressed
    tool_name: str | None = None
    query: str = ""  # the user's text that preceded this tool call (prefix-stable, invariant 3)
    is_error: bool = False
    # Turns compressed text into the value stored at `path` (None: the text itself). Gemini uses it to
    # put a JSON-serialised functionResponse.response back as an object; it returns None to refuse.
    decode: Callable[[str], Any] | None = None
    # The arguments of the call this output answers, as compact JSON (Claude Code's Read `file_path`, a
    # Codex `cmd`): what a marker needs to tell the model how to fetch folded lines with its own tool.
    tool_args: str = ""
    # The user's questions that came after `query`, oldest first: a later question that names what this
    # output dropped re-expands it (the one allowed change of an earlier message, counted as a cache miss).
    later: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        out = ""
        for p in self.path:
            out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
        return out


def text_of(content: Any, part_types: tuple[str, ...] = ("text", "input_text")) -> str:
    """The plain text of a message content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content
            if isinstance(p, dict) and p.get("type") in part_types and isinstance(p.get("text"), str)
        )
    return ""


# Elements agent harnesses inject into user turns (Claude Code's <system-reminder>, <command-name>,
# Codex's context and <user_instructions> tags): custom tags with a '-' or '_' in their name, never
# HTML. They are not the user's question, and the question is what relevance is judged against.
_HARNESS_ELEMENT = re.compile(r"<([a-z][a-z0-9]*[-_][a-z0-9_-]*)\b[^>]*>.*?</\1>", re.S)


def clip_query(text: str) -> str:
    """The user's question in `text`: harness-injected elements removed, its last QUERY_MAX_CHARS kept.
    Empty when nothing but injected elements remains (callers then keep the previous question)."""
    text = _HARNESS_ELEMENT.sub("", text).strip()
    return text if len(text) <= QUERY_MAX_CHARS else text[-QUERY_MAX_CHARS:]


def args_json(args: Any) -> str:
    """A call's arguments as compact, canonical JSON text (a JSON string of arguments is kept as sent)."""
    if isinstance(args, str):
        text = args
    elif args is None:
        return ""
    else:
        try:
            text = json.dumps(args, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            return ""
    return text[:TOOL_ARGS_MAX_CHARS]


class Questions:
    """The user's questions of a conversation in order, and which of them came after each tool output.

    A provider calls `ask(text)` for every user text it meets (empty and repeated ones are ignored) and
    `unit(...)` for every tool output; `finish()` gives each unit the questions asked after its own."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._units: list[tuple[Unit, int]] = []

    @property
    def current(self) -> str:
        return self.asked[-1] if self.asked else ""

    def ask(self, text: str) -> None:
        if text and text != self.current:
            self.asked.append(text)

    def unit(self, *args: Any, **kwargs: Any) -> None:
        self._units.append((Unit(*args, **kwargs), len(self.asked)))

    def finish(self) -> list[Unit]:
        out = []
        for u, seen in self._units:
            later = tuple(self.asked[seen:])
            out.append(replace(u, later=later) if later else u)
        return out


def text_parts(content: Any, types: tuple[str, ...] = ("text", "input_text", "output_text")) -> list[str]:
    """The text parts of a message content (a string is one part)."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content
                if isinstance(p, dict) and p.get("type") in types and isinstance(p.get("text"), str)]
    return []


def json_args(raw: Any) -> Any:
    """A call's arguments parsed from JSON text (free-form text that is not JSON is kept as it is)."""
    if isinstance(raw, str):
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            return raw
    return raw if raw is not None else {}


@dataclass(frozen=True)
class ToolCall:
    """A tool call of the model's in a request's history."""

    id: str
    name: str
    args: Any  # the parsed JSON arguments, or the free-form input text


def first_message_text(body: dict[str, Any], part_types: tuple[str, ...] = ("text",)) -> str:
    """The text of the first user message with text in `body["messages"]` (chat and Anthropic), or ""."""
    messages = body.get("messages")
    for msg in messages if isinstance(messages, list) else ():
        if isinstance(msg, dict) and msg.get("role") == "user":
            text = text_of(msg.get("content"), part_types)
            if text:
                return text
    return ""


class Provider:
    """One API shape. A subclass per shape, one instance each, registered by `name` (core.providers).

    The defaults below are what most shapes share; a shape overrides what it does differently."""

    name: ClassVar[str] = ""
    # Where provider_for asks this shape (lower first, then by name): a shape that claims, on some host,
    # a path a more general shape also matches must be asked before that one.
    precedence: ClassVar[int] = 100
    history_field: ClassVar[str] = ""  # the body's list of turns: "messages", "input", "contents"
    # The retrieval exchange of this shape's responses; None: its headroom_retrieve calls are not answered.
    exchange_class: ClassVar[type[Exchange] | None] = None
    # Add the tool to a request whose answer the relay cannot watch (token counting: counts then match the
    # real request)? False where a call the relay never sees would reach the client unanswered.
    declares_unwatched: ClassVar[bool] = True

    # --- requests -------------------------------------------------------------------------------------

    def handles(self, host: str, path: str) -> bool:
        """Is `path` (no query string, no trailing slash) on `host` one of this shape's generation calls?"""
        return False

    def find_units(self, body: dict[str, Any]) -> list[Unit]:
        """The tool outputs of a parsed request body, in order, each with the user's text that preceded it."""
        return []

    def model_of(self, body: dict[str, Any], path: str = "") -> str | None:
        m = body.get("model")
        return m if isinstance(m, str) else None

    def first_user_text(self, body: dict[str, Any]) -> str:
        """The text of the conversation's first user message (what the holdout and the need counter key a
        conversation by), or "" when there is none."""
        return ""

    def conversation(self, body: dict[str, Any]) -> Iterator[tuple[int, bool, tuple[Any, ...]]]:
        """The history as (message index, is it the model's, event), in order; an event is ("text", str),
        ("call", ToolCall) or ("result", call id, text). What core.needed reads the model's turns from."""
        return iter(())

    # --- prompt caching (core.bill) -----------------------------------------------------------------------

    # The request's own fields that hold prompt (the rest, like temperature or stream, are not cached input).
    prompt_fields: ClassVar[tuple[str, ...]] = ("tools", "instructions", "system", "systemInstruction", "system_instruction")

    def cache_prefix(self, body: dict[str, Any]) -> tuple[list[Any], int]:
        """The prompt as the provider caches it: its parts in cache order (the prompt fields, then each turn)
        and how many of them the client's last cache breakpoint covers (0: nothing is cached). The default is
        automatic prefix caching of the whole prompt (OpenAI, Gemini): every part."""
        request = self.request_of(body) or {}
        parts: list[Any] = [request[k] for k in self.prompt_fields if request.get(k)]
        turns = request.get(self.history_field) if self.history_field else None
        parts.extend(turns if isinstance(turns, list) else [turns] if turns else [])
        return parts, len(parts)

    def explicit_cache(self, body: dict[str, Any]) -> bool:
        """Does the client mark a prompt-cache breakpoint in this request (Anthropic's cache_control)? Where it
        does, a prefix change costs a cache write of the conversation, so the retrieval tool goes on from the
        first request (HEADROOM_RETRIEVE_FROM=first). Automatic caching (the default) says no."""
        return False

    # --- output shaping (core.shaper) -------------------------------------------------------------------

    def turn_kind(self, body: dict[str, Any]) -> str:
        """"mechanical" when the request only continues after tool results, none of them an error (read from
        the body's structure, never from its words); "other" otherwise, and for shapes that cannot tell."""
        return "other"

    def shape_output(self, body: dict[str, Any], instruction: str, mechanical: bool,
                     path: str = "") -> tuple[dict[str, Any], tuple[str, ...]]:
        """`body` with `instruction` (when not empty) at the tail of its system prompt and, when `mechanical`,
        an effort the client sent lowered; and labels of what changed. Pure: a changed body is a new dict
        sharing what did not change; an unchanged one is `body` itself. Shapes that cannot shape: unchanged."""
        return body, ()

    # --- responses ------------------------------------------------------------------------------------

    def usage_of(self, obj: Any) -> Usage | None:
        """The usage in one decoded JSON response or stream event, or None if it carries none."""
        return None

    def stream_usage(self, previous: Usage | None, obj: Any) -> Usage | None:
        """The usage of a stream so far after one more event `obj` (None: this event says nothing). Most
        shapes report cumulative totals, so the last report wins."""
        return self.usage_of(obj)

    def stream_ends(self, data: str, obj: Any) -> bool:
        """Whether a stream event (its data, and `obj` that data as JSON or None) is the stream's final one:
        a client that has it has the whole answer (the ledger counts a close after it as no error)."""
        return False

    # --- retrieval ------------------------------------------------------------------------------------

    def tool_definition(self) -> dict[str, Any]:
        """The headroom_retrieve tool in this shape's format (a fresh dict each time, safe to mutate)."""
        raise NotImplementedError(f"{self.name} has no headroom_retrieve tool")

    def tool_names(self, tools: list[Any]) -> set[str]:
        """The names of the tools a request declares."""
        return {str(t.get("name")) for t in tools if isinstance(t, dict)}

    def watches(self, path: str) -> bool:
        """Can the relay watch the answer to a request to `path` (query included) for the tool's calls?"""
        return False

    def streams(self, body: dict[str, Any], path: str = "") -> bool:
        """Does the answer to this request stream (SSE), rather than come as one JSON body? A streamed answer
        with the tool goes through the relay; a JSON one is answered in mitmproxy's response hook."""
        return body.get("stream") is True

    def request_of(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The generation request in a body: where its turns (`history_field`) and its `tools` are. The body
        itself for most shapes; the wrapped request for a shape that wraps one (Cloud Code Assist)."""
        return body

    def accepts_tool(self, request: dict[str, Any]) -> bool:
        """May the headroom_retrieve tool be added to this request? No where the API refuses tools (a
        JSON-mode request without tools of its own, on Gemini)."""
        return True

    def history(self, body: dict[str, Any]) -> list[Any] | None:
        """The conversation's turns as a list (where hidden exchanges are anchored and spliced back)."""
        request = self.request_of(body)
        value = request.get(self.history_field) if isinstance(request, dict) else None
        return value if isinstance(value, list) else None

    def exchange(self, body: dict[str, Any], prev_fp: str = "") -> Exchange:
        if self.exchange_class is None:
            raise NotImplementedError(f"{self.name} does not answer headroom_retrieve calls")
        return self.exchange_class(body, prev_fp=prev_fp)

    def splice_candidates(self, items: list[Any]) -> list[tuple[int, str]]:
        """(index, fingerprint) of every turn that might be followed by a hidden exchange."""
        return []

    def apply_record(self, items: list[Any], found: dict[int, str]) -> list[Any]:
        """`items` with the hidden exchanges put back: `found` maps a turn's index to its stored record."""
        return items

    def error_event(self, message: str) -> Event:
        """A stream event telling the client that answering a retrieval failed mid-stream."""
        from headroom.core.retrieval.sse import encode

        return encode({"error": {"type": "headroom_retrieve_error", "message": message}})

    def __repr__(self) -> str:
        return f"<Provider {self.name}>"
