"""The savings ledger: one row of numbers per LLM request in SQLite, and THE summary every view shows.

Rows are written off the request path by one background thread fed through a bounded queue: a full
disk, a locked database or a slow filesystem costs rows (counted as dropped), never traffic. Rows hold
numbers and short labels (provider, host, model, content type, compressor names), never content.

`summarize()` is the single computation behind `headroom perf`, the admin `/stats` and `/metrics`
endpoints and the dashboard, so they agree exactly for the same period.
"""
from __future__ import annotations

import math
import os
import queue
import re
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from headroom.core.pricing import Price

__all__ = [
    "LEDGER_FILENAME",
    "NEEDED_COLUMNS",
    "Entry",
    "Ledger",
    "UnitRow",
    "ledger_path",
    "open_reader",
    "parse_period",
    "recent",
    "summarize",
]

LEDGER_FILENAME = "ledger.sqlite3"
MAX_QUEUE = 10_000  # rows waiting for the writer; at ~200 B each this bounds memory at a few MB
MAX_BATCH = 500  # rows per transaction: one fsync for a burst instead of one per request
RETENTION_SECONDS = 400 * 24 * 3600  # a year of history and a bit, then pruned at start
BUSY_TIMEOUT_S = 2.0  # how long the writer waits on a lock held by a reader before dropping the batch
_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    provider TEXT NOT NULL,
    host TEXT NOT NULL,
    model TEXT,
    streaming INTEGER NOT NULL DEFAULT 0,
    status INTEGER,
    tokens_before INTEGER NOT NULL,
    tokens_after INTEGER NOT NULL,
    tool_tokens_before INTEGER NOT NULL,
    tool_tokens_after INTEGER NOT NULL,
    compressed INTEGER NOT NULL DEFAULT 0,
    compress_ms REAL,
    overhead_ms REAL,
    upstream_ms REAL,
    ttfb_ms REAL,
    total_ms REAL,
    usage_reported INTEGER NOT NULL DEFAULT 0,
    usage_input INTEGER NOT NULL DEFAULT 0,
    usage_cache_read INTEGER NOT NULL DEFAULT 0,
    usage_cache_write INTEGER NOT NULL DEFAULT 0,
    usage_output INTEGER NOT NULL DEFAULT 0,
    retrievals INTEGER NOT NULL DEFAULT 0,
    fail_open INTEGER NOT NULL DEFAULT 0,
    bypass INTEGER NOT NULL DEFAULT 0,
    error INTEGER NOT NULL DEFAULT 0,
    arm TEXT,
    needed_retrieved INTEGER NOT NULL DEFAULT 0,
    needed_reread INTEGER NOT NULL DEFAULT 0,
    needed_guessed INTEGER NOT NULL DEFAULT 0,
    reexpanded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts);
CREATE TABLE IF NOT EXISTS units (
    request_id INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    compressor TEXT NOT NULL,
    units INTEGER NOT NULL,
    tokens_before INTEGER NOT NULL,
    tokens_after INTEGER NOT NULL,
    ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS units_request ON units(request_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


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
    error: bool = False  # the flow ended without a complete response
    arm: str | None = None  # HEADROOM_OUTPUT_HOLDOUT arm: "treatment", "control"; None without a holdout
    # Dropped, then needed (core.needed): earlier dropped runs the model's newest turn needed, by how it
    # got them; each run counted once per conversation and kind.
    needed_retrieved: int = 0  # asked headroom_retrieve for it (counted where the relay answered)
    needed_reread: int = 0  # read it again with its own tool (Read, sed -n, grep...)
    needed_guessed: int = 0  # edited or quoted its lines without ever being shown them
    reexpanded: int = 0  # earlier outputs the pipeline re-expanded for a later question (a cache miss each)
    units: tuple[UnitRow, ...] = field(default=())


_COLUMNS = [f for f in Entry.__dataclass_fields__ if f != "units"]
NEEDED_COLUMNS = ("needed_retrieved", "needed_reread", "needed_guessed", "reexpanded")
_INSERT = f"INSERT INTO requests({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def ledger_path(root: Path | None = None) -> Path:
    from headroom.home import home

    return (root if root is not None else home()) / LEDGER_FILENAME


def _connect(path: Path, *, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _has_column(conn: sqlite3.Connection, name: str) -> bool:
    return any(row[1] == name for row in conn.execute("PRAGMA table_info(requests)"))


def _create(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = _connect(path, timeout=BUSY_TIMEOUT_S)
    conn.executescript(_SCHEMA)
    if not _has_column(conn, "arm"):  # a ledger written before the holdout existed: its rows have no arm
        conn.execute("ALTER TABLE requests ADD COLUMN arm TEXT")
    for name in NEEDED_COLUMNS:  # written before "dropped, then needed" was measured: those rows count 0
        if not _has_column(conn, name):
            conn.execute(f"ALTER TABLE requests ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0")
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (_SCHEMA_VERSION,))
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('dropped', 0)")
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{path}{suffix}")
        if p.exists():
            os.chmod(p, 0o600)
    return conn


class Ledger:
    """The writer: `record()` never blocks and never raises; one daemon thread does the SQLite work."""

    def __init__(self, path: Path | None = None, *, max_queue: int = MAX_QUEUE,
                 clock: Callable[[], float] = time.time):
        self.path = Path(path) if path is not None else ledger_path()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._clock = clock
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # rows accepted but not yet written or dropped
        self.written = 0
        self.dropped = 0  # rows lost: queue full, or the database refused them
        self._dropped_persisted = 0
        self.last_error: str | None = None

    def start(self) -> "Ledger":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="headroom-ledger", daemon=True)
            self._thread.start()
        return self

    def record(self, entry: Entry) -> bool:
        """Queue a row; False (and counted as dropped) if the writer is behind by MAX_QUEUE rows."""
        with self._lock:
            self._pending += 1
        try:
            self._queue.put_nowait(entry)
            return True
        except queue.Full:
            self._settle(dropped=1, written=0)
            return False

    def note_dropped(self, n: int = 1) -> None:
        """Count rows lost before they reached `record()` (e.g. a row that could not be built)."""
        with self._lock:
            self.dropped += n

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued row is written or dropped (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _settle(self, *, dropped: int, written: int) -> None:
        with self._idle:
            self._pending -= dropped + written
            self.dropped += dropped
            self.written += written
            self._idle.notify_all()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        pruned = False
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                if conn is None:
                    conn = _create(self.path)
                if not pruned:
                    conn.execute("DELETE FROM requests WHERE ts < ?", (self._clock() - RETENTION_SECONDS,))
                    pruned = True
                self._write(conn, batch)
                self.last_error = None
                self._settle(dropped=0, written=len(batch))
            except (sqlite3.Error, OSError) as e:
                # Disk full, read-only home, a lock held too long: these rows are lost, traffic is not.
                self.last_error = f"{type(e).__name__}: {e}"
                self._settle(dropped=len(batch), written=0)
                if conn is not None:
                    try:
                        conn.close()
                    except sqlite3.Error:
                        pass
                    conn = None
        if conn is not None:
            conn.close()

    def _write(self, conn: sqlite3.Connection, batch: list[Entry]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for e in batch:
                row = asdict(e)
                cur = conn.execute(_INSERT, [row[c] for c in _COLUMNS])
                if e.units:
                    conn.executemany(
                        "INSERT INTO units(request_id, content_type, compressor, units, tokens_before, "
                        "tokens_after, ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(cur.lastrowid, u.content_type, u.compressor, u.units, u.tokens_before, u.tokens_after,
                          u.ms) for u in e.units],
                    )
            lost = self.dropped - self._dropped_persisted
            if lost:
                conn.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (lost,))
            conn.execute("COMMIT")
            self._dropped_persisted += lost
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise


def open_reader(path: Path | None = None) -> sqlite3.Connection | None:
    """A read-only connection to the ledger, or None if no row was ever written."""
    p = Path(path) if path is not None else ledger_path()
    if not p.exists():
        return None
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    try:
        conn.execute("SELECT 1 FROM requests LIMIT 1")
    except sqlite3.OperationalError:  # created but the schema not yet committed
        conn.close()
        return None
    return conn


_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


_ALL_SECONDS = 100 * 365 * 86400  # a century back is everything; a larger period would overflow datetime


def parse_period(text: str | None) -> float | None:
    """Seconds in "90s", "30m", "24h", "7d", "2w"; None for "all". ValueError says what is accepted."""
    if text is None or text.strip().lower() in ("all", ""):
        return None
    m = _PERIOD.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"cannot read the period {text!r}: use a number and a unit, e.g. 30m, 24h, 7d, 2w, or all")
    seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
    return None if seconds >= _ALL_SECONDS else seconds


def _pct(saved: int, before: int) -> float | None:
    return round(100.0 * saved / before, 2) if before else None


def _nearest_rank(values: list[float], p: float) -> float:
    return values[max(0, math.ceil(p / 100.0 * len(values)) - 1)]


def _usd(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


_BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
MAX_POINTS = 96  # chart points: enough for a smooth day at 15-minute steps


def _bucket_seconds(span: float) -> int:
    for b in _BUCKETS:
        if span / b <= MAX_POINTS:
            return b
    return _BUCKETS[-1]


_SUMS = ("requests", "compressed_requests", "tokens_before", "tokens_after", "tool_tokens_before", "tool_tokens_after",
         "retrievals", "fail_open", "bypass", "errors", "usage_requests", "usage_input", "usage_cache_read",
         "usage_cache_write", "usage_output")
_GROUP_SQL = (
    "SELECT model, provider, COUNT(*), SUM(compressed), SUM(tokens_before), SUM(tokens_after), "
    "SUM(tool_tokens_before), SUM(tool_tokens_after), SUM(retrievals), SUM(fail_open), SUM(bypass), SUM(error), "
    "SUM(usage_reported), SUM(usage_reported * usage_input), SUM(usage_reported * usage_cache_read), "
    "SUM(usage_reported * usage_cache_write), SUM(usage_reported * usage_output) "
    "FROM requests WHERE {where} GROUP BY model, provider"
)


def _finish_group(acc: dict[str, Any], price: Price | None, priced_requests: int, priced_usage_requests: int,
                  usd_saved: float, usd_spent: float) -> dict[str, Any]:
    saved = acc["tokens_before"] - acc["tokens_after"]
    tool_saved = acc["tool_tokens_before"] - acc["tool_tokens_after"]
    return {
        "requests": acc["requests"],
        "compressed_requests": acc["compressed_requests"],
        "tokens_before": acc["tokens_before"],
        "tokens_after": acc["tokens_after"],
        "tokens_saved": saved,
        "saved_pct_of_request": _pct(saved, acc["tokens_before"]),
        "tool_tokens_before": acc["tool_tokens_before"],
        "tool_tokens_after": acc["tool_tokens_after"],
        "tool_tokens_saved": tool_saved,
        "saved_pct_of_tool_outputs": _pct(tool_saved, acc["tool_tokens_before"]),
        "usage": {
            "requests": acc["usage_requests"],
            "input": acc["usage_input"],
            "cache_read": acc["usage_cache_read"],
            "cache_write": acc["usage_cache_write"],
            "output": acc["usage_output"],
            "cache_read_share_pct": _pct(acc["usage_cache_read"], acc["usage_input"]),
        },
        "retrievals": acc["retrievals"],
        "fail_open": acc["fail_open"],
        "bypass": acc["bypass"],
        "errors": acc["errors"],
        # None, never 0, when no request of the group has a known price.
        "usd_saved": _usd(usd_saved) if priced_requests else None,
        "usd_spent": _usd(usd_spent) if priced_usage_requests else None,
        "unpriced_requests": acc["requests"] - priced_requests,
    }


def _sorted_column(conn: sqlite3.Connection, column: str, where: str, args: list[Any], extra: str = "") -> list[float]:
    sql = f"SELECT {column} FROM requests WHERE {where} AND {column} IS NOT NULL {extra} ORDER BY {column}"
    return [r[0] for r in conn.execute(sql, args)]


def _dist_sorted(vals: list[float]) -> dict[str, Any]:
    if not vals:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    return {"count": len(vals), "p50": round(_nearest_rank(vals, 50), 1), "p95": round(_nearest_rank(vals, 95), 1),
            "max": round(vals[-1], 1)}


HOLDOUT_NOTE = ("Arms differ by conversation, not only by compression: compare like with like (same model, "
                "similar work) over enough requests before reading much into a difference.")


def _holdout(conn: sqlite3.Connection, where: str, args: list[Any]) -> dict[str, Any] | None:
    """Per-arm figures when any control row exists in the period (HEADROOM_OUTPUT_HOLDOUT), else None.
    Averages are over the requests whose provider reported usage, so a missing report is not a zero."""
    if not _has_column(conn, "arm"):  # a ledger from before the holdout existed
        return None
    rows = conn.execute(
        "SELECT arm, COUNT(*), SUM(usage_reported), SUM(usage_reported * usage_input), "
        "SUM(usage_reported * usage_output), SUM(usage_reported * usage_cache_read), SUM(retrievals), "
        f"SUM(tool_tokens_before), SUM(tool_tokens_after) FROM requests WHERE {where} AND arm IS NOT NULL "
        "GROUP BY arm", args).fetchall()
    by_arm = {r[0]: [int(v or 0) for v in r[1:]] for r in rows}
    if not by_arm.get("control", [0])[0]:
        return None
    arms = {}
    for name in ("treatment", "control"):
        n, reported, inp, out, cache_read, retrievals, tool_before, tool_after = by_arm.get(name, [0] * 8)
        arms[name] = {
            "requests": n,
            "usage_requests": reported,
            "avg_input_tokens": round(inp / reported, 1) if reported else None,
            "avg_output_tokens": round(out / reported, 1) if reported else None,
            "cache_read_share_pct": _pct(cache_read, inp),
            "retrievals_per_request": round(retrievals / n, 3) if n else None,
            "tool_tokens_saved": tool_before - tool_after,
        }
    t, c = arms["treatment"]["avg_input_tokens"], arms["control"]["avg_input_tokens"]
    diff = round(t - c, 1) if t is not None and c is not None else None
    return {
        "arms": arms,
        # Treatment minus control, per request: negative means compressed conversations billed less input.
        "input_tokens_difference": diff,
        "input_tokens_difference_pct": round(100.0 * diff / c, 2) if diff is not None and c else None,
        "note": HOLDOUT_NOTE,
    }


def _needed(conn: sqlite3.Connection | None, where: str, args: list[Any]) -> dict[str, Any]:
    """Dropped, then needed: earlier dropped runs the model needed, by how it got them, and the pipeline's
    re-expansions. Zeros for a ledger written before these were measured."""
    sums = [0] * len(NEEDED_COLUMNS)
    if conn is not None and all(_has_column(conn, c) for c in NEEDED_COLUMNS):
        row = conn.execute(f"SELECT {', '.join(f'SUM({c})' for c in NEEDED_COLUMNS)} FROM requests WHERE {where}",
                           args).fetchone()
        sums = [int(v or 0) for v in row]
    retrieved, reread, guessed, reexpanded = sums
    return {"total": retrieved + reread + guessed, "retrieved": retrieved, "reread": reread, "guessed": guessed,
            "reexpanded": reexpanded}


def summarize(conn: sqlite3.Connection | None, *, since: float | None = None, until: float | None = None,
              now: float | None = None, pricing: str | None = None) -> dict[str, Any]:
    """Every figure perf, /stats, /metrics and the dashboard show, for rows with since <= ts < until
    (`since`/`until` are unix times; None means unbounded). JSON-ready; rounded once, here, so every
    view prints the same digits. The sums are done by SQLite, so a year of history stays quick. `pricing` is
    the user's price file (HEADROOM_PRICING), merged over the shipped table."""
    from headroom.core.pricing import cost_usd, load_prices

    now = time.time() if now is None else now
    until_ts = now if until is None else until
    conds, args = ["1"], []
    if since is not None:
        conds.append("{ts} >= ?")
        args.append(since)
    if until is not None:
        conds.append("{ts} < ?")
        args.append(until)
    where = " AND ".join(conds)
    w, wr = where.format(ts="ts"), where.format(ts="r.ts")
    prices = load_prices(pricing)

    groups, unit_rows, type_requests, dropped, first_ts = [], [], {}, 0, None
    latency: dict[str, list[float]] = {k: [] for k in ("compression", "overhead", "ttfb", "upstream")}
    series_rows = []
    holdout = None
    if conn is not None:
        conn.row_factory = None  # plain tuples; recent() may have set sqlite3.Row on this connection
        groups = conn.execute(_GROUP_SQL.format(where=w), args).fetchall()
        unit_rows = conn.execute(
            "SELECT u.content_type, u.compressor, SUM(u.units), SUM(u.tokens_before), "
            f"SUM(u.tokens_after), SUM(u.ms) FROM units u JOIN requests r ON r.id = u.request_id WHERE {wr} "
            "GROUP BY u.content_type, u.compressor", args).fetchall()
        type_requests = dict(conn.execute(
            f"SELECT u.content_type, COUNT(DISTINCT u.request_id) FROM units u JOIN requests r ON r.id = u.request_id "
            f"WHERE {wr} GROUP BY u.content_type", args).fetchall())
        got = conn.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        dropped = int(got[0]) if got else 0
        latency["compression"] = _sorted_column(conn, "compress_ms", w, args, "AND compressed = 1")
        latency["overhead"] = _sorted_column(conn, "overhead_ms", w, args)
        latency["ttfb"] = _sorted_column(conn, "ttfb_ms", w, args)
        latency["upstream"] = _sorted_column(conn, "upstream_ms", w, args)
        first_ts = conn.execute(f"SELECT MIN(ts) FROM requests WHERE {w}", args).fetchone()[0]
        holdout = _holdout(conn, w, args)

    start = since if since is not None else (first_ts if first_ts is not None else until_ts)
    step = _bucket_seconds(max(until_ts - start, 1.0))
    if conn is not None:
        series_rows = conn.execute(
            f"SELECT CAST(ts / {step} AS INTEGER) * {step} AS b, COUNT(*), SUM(tokens_before), SUM(tokens_after), "
            f"SUM(tool_tokens_before), SUM(tool_tokens_after) FROM requests WHERE {w} GROUP BY b ORDER BY b",
            args).fetchall()

    total = dict.fromkeys(_SUMS, 0)
    t_priced = t_priced_usage = 0
    t_saved_usd = t_spent_usd = 0.0
    per_model = []
    for row in groups:
        model, provider = row[0], row[1]
        acc = dict(zip(_SUMS, (int(v or 0) for v in row[2:])))
        price = prices.lookup(model)
        priced = acc["requests"] if price else 0
        priced_usage = acc["usage_requests"] if price else 0
        saved_usd, spent_usd = 0.0, 0.0
        if price is not None:
            saved_usd = (acc["tokens_before"] - acc["tokens_after"]) * price.input / 1_000_000
            spent_usd = cost_usd(price, input=acc["usage_input"], cache_read=acc["usage_cache_read"],
                                 cache_write=acc["usage_cache_write"], output=acc["usage_output"]) or 0.0
        for k in _SUMS:
            total[k] += acc[k]
        t_priced += priced
        t_priced_usage += priced_usage
        t_saved_usd += saved_usd
        t_spent_usd += spent_usd
        per_model.append({"model": model or "(unknown)", "provider": provider,
                          "price_family": price.family if price else None,
                          **_finish_group(acc, price, priced, priced_usage, saved_usd, spent_usd)})
    per_model.sort(key=lambda m: (-m["tokens_before"], m["model"], m["provider"]))

    types: dict[str, dict[str, Any]] = {}
    for content_type, compressor, units, before, after, ms in unit_rows:
        t = types.setdefault(content_type, {"units": 0, "requests": type_requests.get(content_type, 0),
                                            "tokens_before": 0, "tokens_after": 0, "ms": 0.0, "compressors": {}})
        t["units"] += units
        t["tokens_before"] += before
        t["tokens_after"] += after
        t["ms"] += ms
        t["compressors"][compressor] = units
    per_type = []
    for name, t in sorted(types.items(), key=lambda kv: (-kv[1]["tokens_before"], kv[0])):
        saved = t["tokens_before"] - t["tokens_after"]
        per_type.append({
            "content_type": name, "units": t["units"], "requests": t["requests"],
            "tokens_before": t["tokens_before"], "tokens_after": t["tokens_after"], "tokens_saved": saved,
            "saved_pct": _pct(saved, t["tokens_before"]), "ms": round(t["ms"], 1),
            "compressors": dict(sorted(t["compressors"].items(), key=lambda kv: (-kv[1], kv[0]))),
        })

    points = [{"t": b, "requests": n, "tokens_before": tb, "tokens_after": ta, "tool_tokens_before": ttb,
               "tool_tokens_after": tta} for b, n, tb, ta, ttb, tta in series_rows]

    return {
        "period": {"since": since, "until": until_ts},
        "pricing": {"as_of": prices.as_of, "currency": prices.currency,
                    "basis": "tokens saved x the model's uncached input list price"},
        "totals": _finish_group(total, None, t_priced, t_priced_usage, t_saved_usd, t_spent_usd),
        "latency_ms": {k: _dist_sorted(v) for k, v in latency.items()},
        "per_model": per_model,
        "per_content_type": per_type,
        "series": {"bucket_seconds": step, "points": points},
        "ledger": {"dropped_total": dropped},
        "holdout": holdout,  # None unless control rows exist in the period
        "needed": _needed(conn, w, args),
    }


_RECENT_COLUMNS = ("id", "ts", "provider", "host", "model", "streaming", "status", "tokens_before", "tokens_after",
                   "tool_tokens_before", "tool_tokens_after", "compress_ms", "overhead_ms", "ttfb_ms",
                   "upstream_ms", "usage_input", "usage_cache_read", "usage_output", "retrievals", "fail_open",
                   "bypass", "error")


def recent(conn: sqlite3.Connection | None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest rows, numbers only, newest first."""
    if conn is None:
        return []
    columns = _RECENT_COLUMNS + tuple(c for c in NEEDED_COLUMNS if _has_column(conn, c))
    conn.row_factory = sqlite3.Row
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM requests ORDER BY ts DESC, id DESC LIMIT ?",
                        (max(1, min(int(limit), 1000)),)).fetchall()
    return [dict(r) for r in rows]
