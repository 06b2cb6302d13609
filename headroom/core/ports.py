"""What the proxy needs from its storage, as small Protocols: the rows and the calls, never the SQLite behind them.

The implementations live in `headroom.storage` (`SQLiteStore`, the ledger's `Ledger`); the addons and the
CLI open them and hand them on, and everything else depends on these types only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Protocol, runtime_checkable

__all__ = ["Entry", "LedgerWriter", "Store", "UnitRow"]


@runtime_checkable
class Store(Protocol):
    """What the proxy, the CLI and the retrieval code need from a store, whatever its backend."""

    ttl_seconds: int
    # A read is local and never waits for a writer (SQLite in WAL mode): the proxy may do it on its event loop.
    reads_inline: bool

    def put_many(self, items: Mapping[str, str], scope: str = "") -> None: ...
    # Of `items`, those `put_many` would write (memory only, no IO): the proxy writes only when some are left.
    def unwritten(self, items: Mapping[str, str], scope: str = "") -> dict[str, str]: ...
    def get(self, key: str, scope: str | None = None) -> str | None: ...
    def issued(self, keys: Iterable[str]) -> set[str]: ...
    def put_exchanges(self, items: Mapping[str, str]) -> None: ...
    def get_exchanges(self, fingerprints: Iterable[str]) -> dict[str, str]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class UnitRow:
    """The tool outputs of one request that went through one compressor, grouped by content type."""
    content_type: str
    compressor: str
    units: int
    tokens_before: int
    tokens_after: int
    ms: float


@dataclass(frozen=True)
class Entry:
    """One LLM request, in numbers. Times in ms; None when not measured (e.g. no response arrived)."""
    ts: float
    provider: str
    host: str
    model: str | None
    tokens_before: int  # the whole request body as the client sent it
    tokens_after: int  # the whole request body as the upstream received it
    tool_tokens_before: int = 0  # the tool outputs alone, before compression
    tool_tokens_after: int = 0
    compressed: bool = False  # the compression pipeline ran on this request
    streaming: bool = False
    status: int | None = None
    compress_ms: float | None = None
    overhead_ms: float | None = None
    upstream_ms: float | None = None
    ttfb_ms: float | None = None
    total_ms: float | None = None
    usage_reported: bool = False
    usage_input: int = 0  # all input tokens the provider counted, cache reads and writes included
    usage_cache_read: int = 0
    usage_cache_write: int = 0
    usage_output: int = 0
    retrievals: int = 0
    fail_open: bool = False
    bypass: bool = False
    error: bool = False  # the client did not get the whole answer (a stream's final event it got: not an error)
    compress_arm: str | None = None  # HEADROOM_COMPRESS_HOLDOUT arm: "treatment", "control"; None without it
    # The output shaper (only when it is on): HEADROOM_OUTPUT_HOLDOUT's arm ("treatment" shaped, "control"
    # unshaped; None without that holdout), the turn's kind ("mechanical", "other") and what was changed
    # (labels such as "instruction,effort:high->low"; "" when nothing).
    output_arm: str | None = None
    turn_kind: str | None = None
    shaped: str = ""
    # Dropped, then needed (core.needed): earlier dropped runs the model's newest turn needed, by how it
    # got them; each run counted once per conversation and kind.
    needed_retrieved: int = 0  # asked headroom_retrieve for it (counted where the relay answered)
    needed_reread: int = 0  # read it again with its own tool (Read, sed -n, grep...)
    needed_guessed: int = 0  # edited or quoted its lines without ever being shown them
    reexpanded: int = 0  # earlier outputs the pipeline re-expanded for a later question (a cache miss each)
    session: str | None = None  # the wrapped session (an id from headroom wrap); None: no session
    user: str | None = None  # the team user whose token the request's connection carried; None: not team mode
    # The bill without Headroom (core.bill): the conversation (an opaque id keyed by a secret of the proxy
    # process: grouping within one run, nothing of the conversation's text), this request's removed tokens
    # split into new ones and ones already removed earlier in the conversation (None: not measured, a row of
    # before this was), and a cache break: who caused it ("headroom", "client") and the tokens it cost.
    conversation: str | None = None
    removed_new: int | None = None
    removed_again: int | None = None
    cache_break: str | None = None
    break_tokens: int = 0
    units: tuple[UnitRow, ...] = field(default=())


@runtime_checkable
class LedgerWriter(Protocol):
    """Where the Stats addon puts one `Entry` per finished LLM flow: never blocks, never raises."""

    written: int
    dropped: int
    last_error: str | None

    def record(self, entry: Entry) -> bool: ...
    def note_dropped(self, n: int = 1) -> None: ...
    def flush(self, timeout: float = 5.0) -> bool: ...
    def close(self, timeout: float = 5.0) -> None: ...
