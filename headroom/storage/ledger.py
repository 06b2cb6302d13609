"""The savings ledger's writer: one row of numbers per LLM request in SQLite, its schema and migration.

Rows are written off the request path by one background thread fed through a bounded queue: a full
disk, a locked database or a slow filesystem costs rows (counted as dropped), never traffic. Rows hold
numbers and short labels (provider, host, model, content type, compressor names), never content.

The row is `core.ports.Entry`; `Ledger` is the `core.ports.LedgerWriter` the Stats addon is given. What the
rows add up to is `storage.report` (read through `open_reader`).
"""
from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable

from headroom.core.ports import Entry, UnitRow
from headroom.storage import disk_full

__all__ = [
    "BILL_COLUMNS",
    "LEDGER_FILENAME",
    "NEEDED_COLUMNS",
    "SHAPER_COLUMNS",
    "Entry",
    "Ledger",
    "UnitRow",
    "ledger_path",
    "has_column",
    "open_reader",
]

log = logging.getLogger("headroom.ledger")

LEDGER_FILENAME = "ledger.sqlite3"
MAX_QUEUE = 10_000  # rows waiting for the writer; at ~200 B each this bounds memory at a few MB
MAX_BATCH = 500  # rows per transaction: one fsync for a burst instead of one per request
# After a row arrives the writer waits this long for more before it writes: under load one transaction (and
# one wake of its thread) takes tens of rows instead of one each (issue 17); a row lands this much later.
BATCH_LINGER_S = 0.05
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
    compress_arm TEXT,
    output_arm TEXT,
    turn_kind TEXT,
    shaped TEXT NOT NULL DEFAULT '',
    needed_retrieved INTEGER NOT NULL DEFAULT 0,
    needed_reread INTEGER NOT NULL DEFAULT 0,
    needed_guessed INTEGER NOT NULL DEFAULT 0,
    reexpanded INTEGER NOT NULL DEFAULT 0,
    session TEXT,
    user TEXT,
    conversation TEXT,
    removed_new INTEGER,
    removed_again INTEGER,
    cache_break TEXT,
    break_tokens INTEGER NOT NULL DEFAULT 0
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


def has_column(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the requests table has this column (a ledger written by an older version may not)."""
    return any(row[1] == name for row in conn.execute("PRAGMA table_info(requests)"))


SHAPER_COLUMNS = ("output_arm TEXT", "turn_kind TEXT", "shaped TEXT NOT NULL DEFAULT ''")
# The bill without Headroom (core.bill); rows of before it have them NULL (removed_new: not measured) or 0.
BILL_COLUMNS = ("conversation TEXT", "removed_new INTEGER", "removed_again INTEGER", "cache_break TEXT",
                "break_tokens INTEGER NOT NULL DEFAULT 0")


def _migrate_arms(conn: sqlite3.Connection) -> None:
    """The compression holdout's column was `arm` (when HEADROOM_OUTPUT_HOLDOUT held out compression): it
    becomes `compress_arm`, rows and all; a ledger from before any holdout gains it empty. The output
    shaper's columns are added empty: older rows were never shaped."""
    if not has_column(conn, "compress_arm"):
        if has_column(conn, "arm"):
            try:
                conn.execute("ALTER TABLE requests RENAME COLUMN arm TO compress_arm")
            except sqlite3.OperationalError:  # SQLite before 3.25 renames no column: copy it instead
                conn.execute("ALTER TABLE requests ADD COLUMN compress_arm TEXT")
                conn.execute("UPDATE requests SET compress_arm = arm")
        else:
            conn.execute("ALTER TABLE requests ADD COLUMN compress_arm TEXT")
    for column in SHAPER_COLUMNS:
        if not has_column(conn, column.split()[0]):
            conn.execute(f"ALTER TABLE requests ADD COLUMN {column}")


def _create(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = _connect(path, timeout=BUSY_TIMEOUT_S)
    conn.executescript(_SCHEMA)
    _migrate_arms(conn)
    for name in NEEDED_COLUMNS:  # written before "dropped, then needed" was measured: those rows count 0
        if not has_column(conn, name):
            conn.execute(f"ALTER TABLE requests ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0")
    if not has_column(conn, "session"):  # written before sessions: those rows belong to no session
        conn.execute("ALTER TABLE requests ADD COLUMN session TEXT")
    if not has_column(conn, "user"):  # written before team mode: those rows belong to no user
        conn.execute("ALTER TABLE requests ADD COLUMN user TEXT")
    for column in BILL_COLUMNS:
        if not has_column(conn, column.split()[0]):
            conn.execute(f"ALTER TABLE requests ADD COLUMN {column}")
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (_SCHEMA_VERSION,))
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('dropped', 0)")
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{path}{suffix}")
        if p.exists():
            os.chmod(p, 0o600)
    return conn


class QueuedWriter:
    """What the ledger's writers share: a bounded queue that `record()` fills without ever blocking or raising,
    one daemon thread (the subclass's `_run`) that drains it in batches, and the counts of rows written and
    dropped, which `flush()` waits on."""

    THREAD_NAME = "headroom-ledger"

    def __init__(self, *, max_queue: int = MAX_QUEUE, clock: Callable[[], float] = time.time) -> None:
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

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> "QueuedWriter":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.THREAD_NAME, daemon=True)
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

    def _batch(self) -> list[Entry]:
        """The next rows to write, up to MAX_BATCH of them; [] after 0.2 s without one (to see a stop)."""
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        self._stop.wait(BATCH_LINGER_S)  # one wake for the rows of the next moments, not one per row
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch


class Ledger(QueuedWriter):
    """The writer: `record()` never blocks and never raises; one daemon thread does the SQLite work."""

    def __init__(self, path: Path | None = None, *, max_queue: int = MAX_QUEUE,
                 clock: Callable[[], float] = time.time):
        super().__init__(max_queue=max_queue, clock=clock)
        self.path = Path(path) if path is not None else ledger_path()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        pruned = False
        while not self._stop.is_set():
            batch = self._batch()
            if not batch:
                continue
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
                if disk_full(e):
                    if not (self.last_error or "").startswith("disk full"):  # once per full spell, one line
                        log.warning("the ledger %s cannot grow: its disk is full; rows are dropped (and counted) "
                                    "until there is space, requests go on", self.path)
                    self.last_error = f"disk full: {self.path} cannot grow"
                else:
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
                cur = conn.execute(_INSERT, [getattr(e, c) for c in _COLUMNS])  # plain values: no asdict copy
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
            if conn.in_transaction:
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
