"""The retrieval store: what compressors dropped, by marker key, in SQLite under the headroom home.

Entries live for a TTL (HEADROOM_CCR_TTL seconds, default 7 days, counted from the last time the entry
was written: a drop that is still in the conversation is re-put every turn and so never expires while in
use) and the store is capped in size (HEADROOM_CCR_MAX_MB, default 512) with least-recently-used
eviction. The file and its WAL are readable by the user only (0600). Several proxy processes may share
one file: SQLite's WAL mode plus `BEGIN IMMEDIATE` serialise writers without losing any.

Besides drops the store keeps *exchanges*: the hidden headroom_retrieve call/result turns the proxy
answered itself, by a fingerprint of the visible turn they belong to, so later requests can have them
spliced back in the same place (core.retrieval.splice) even after a proxy restart.

`SQLiteStore` is the embedded implementation of `core.ports.Store`. A shared backend (Redis for a team)
implements the same few methods.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from headroom.core.ports import Store

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TTL_SECONDS",
    "STORE_FILENAME",
    "SQLiteStore",
    "Store",
    "StoreError",
    "open_store",
]

DEFAULT_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # a week of heavy agent use stays well under this
STORE_FILENAME = "store.sqlite3"
SCHEMA_VERSION = 3  # 3: entries carry the scope (a hash of the credential) that wrote them
_DROP = "d"  # entry kinds: a dropped run of tool output, or a hidden retrieval exchange
_EXCHANGE = "x"
_BUSY_TIMEOUT_S = 30  # several proxies writing at once wait for each other, never fail
_IN_CHUNK = 500  # stays under SQLite's bound-parameter limit on old builds (999)
# A drop this process wrote (for the same scope) less than this long ago is not written again: a re-put only
# moves its expiry and LRU mark, and skipping it spares a write transaction, and the proxy a hand-off to a
# thread, for every tool output an agent resends (issue 17). At most a hundredth of the TTL, so an entry
# still lives at least 99% of its TTL after the last request that carried its marker.
REFRESH_SECONDS = 60.0
_WRITTEN_MAX = 100_000  # keys remembered as written (~100 bytes each)


class StoreError(RuntimeError):
    """The store file cannot be used; the message says which file and what to do."""


def _rollback(c: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already: on a full disk it rolls back itself, and a second
    ROLLBACK raised "cannot rollback - no transaction is active" in place of the disk-full error."""
    if c.in_transaction:
        try:
            c.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


class SQLiteStore:
    """A store safe to share between threads of one process and between processes (WAL, busy timeout)."""

    reads_inline = True  # WAL: readers never wait for writers; a read of a few keys takes tens of microseconds

    def __init__(self, path: Path, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, max_bytes: int = DEFAULT_MAX_BYTES,
                 clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.ttl_seconds = ttl_seconds
        self.max_bytes = max_bytes
        self._clock = clock
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        # Drops this process wrote: key -> (when, scope). Forgotten whole when this process evicts by size (it
        # may have evicted one of them); another process sharing the file evicts by the LRU mark, which a
        # skipped re-put leaves at most refresh_s old: only a store turning over its whole cap within that
        # time could evict one (docs/retrieval.md, "The store").
        self._written: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._written_lock = threading.Lock()
        self.refresh_s = min(REFRESH_SECONDS, ttl_seconds / 100)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            # Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)
        try:
            self._init_schema(self._conn())
        except sqlite3.DatabaseError as e:
            raise StoreError(
                f"the retrieval store {self.path} is not a usable SQLite file ({e}); "
                f"move it aside (nothing else depends on it) and Headroom creates a new one"
            ) from e
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)

    @staticmethod
    def _init_schema(c: sqlite3.Connection) -> None:
        (version,) = c.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        c.execute("BEGIN IMMEDIATE")
        try:
            (version,) = c.execute("PRAGMA user_version").fetchone()
            if version != SCHEMA_VERSION:
                # Version 1 (the skeleton's `drops` table) never shipped: nothing to migrate.
                c.execute("DROP TABLE IF EXISTS drops")
                c.execute(
                    "CREATE TABLE IF NOT EXISTS entries (kind TEXT NOT NULL, key TEXT NOT NULL, "
                    "text TEXT NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL, used REAL NOT NULL, "
                    "scope TEXT NOT NULL DEFAULT '', PRIMARY KEY (kind, key)) WITHOUT ROWID"
                )
                columns = {row[1] for row in c.execute("PRAGMA table_info(entries)")}
                if "scope" not in columns:  # version 2: its rows are unscoped, reachable as a request's own drops
                    c.execute("ALTER TABLE entries ADD COLUMN scope TEXT NOT NULL DEFAULT ''")
                c.execute("CREATE INDEX IF NOT EXISTS entries_used ON entries(used)")
                c.execute("CREATE INDEX IF NOT EXISTS entries_created ON entries(created)")
                # The running total lets every write check the cap without summing the table.
                c.execute("CREATE TABLE IF NOT EXISTS total (one INTEGER PRIMARY KEY CHECK (one = 1), bytes INTEGER NOT NULL)")
                c.execute("INSERT OR IGNORE INTO total(one, bytes) SELECT 1, COALESCE(SUM(size), 0) FROM entries")
                c.execute("CREATE TRIGGER IF NOT EXISTS entries_ins AFTER INSERT ON entries "
                          "BEGIN UPDATE total SET bytes = bytes + new.size; END")
                c.execute("CREATE TRIGGER IF NOT EXISTS entries_del AFTER DELETE ON entries "
                          "BEGIN UPDATE total SET bytes = bytes - old.size; END")
                c.execute("CREATE TRIGGER IF NOT EXISTS entries_upd AFTER UPDATE OF size ON entries "
                          "BEGIN UPDATE total SET bytes = bytes - old.size + new.size; END")
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so close() can close every thread's connection at shutdown.
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    # --- writes -------------------------------------------------------------------------------------

    def _put(self, kind: str, items: Mapping[str, str], scope: str = "") -> float:
        """Write `items`; the time they were written at."""
        now = self._clock()
        if not items:
            return now
        c = self._conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            # A drop's key is a hash of its text (core.markers.key_for): a re-put (every turn the drop is still in
            # the conversation) refreshes its expiry, LRU mark and scope and leaves the stored text alone, so
            # SQLite rewrites none of its pages (issue 17). An exchange is written again whole.
            keep = "" if kind == _DROP else "text=excluded.text, size=excluded.size, "
            c.executemany(
                "INSERT INTO entries(kind, key, text, size, created, used, scope) VALUES (?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT(kind, key) DO UPDATE SET {keep}"
                "created=excluded.created, used=excluded.used, scope=excluded.scope",
                [(kind, k, v, _size(v), now, now, scope) for k, v in items.items()],
            )
            self._evict(c, now)
            c.execute("COMMIT")
        except BaseException:
            _rollback(c)
            raise
        return now

    def unwritten(self, items: Mapping[str, str], scope: str = "") -> dict[str, str]:
        """Those of `items` that put_many would write: all but what this process wrote for `scope` less than
        refresh_s ago."""
        now = self._clock()
        with self._written_lock:
            return {k: v for k, v in items.items()
                    if (w := self._written.get(k)) is None or w[1] != scope or not 0 <= now - w[0] < self.refresh_s}

    def put_many(self, items: Mapping[str, str], scope: str = "") -> None:
        """Keep each dropped text under its marker key (re-putting refreshes its TTL, at most every refresh_s),
        for `scope` (a hash of the credential of the request that dropped it; the last writer's, when two
        dropped the same text)."""
        todo = self.unwritten(items, scope)
        if not todo:
            return
        now = self._put(_DROP, todo, scope)
        with self._written_lock:
            for k in todo:
                self._written[k] = (now, scope)
                self._written.move_to_end(k)
            while len(self._written) > _WRITTEN_MAX:
                self._written.popitem(last=False)

    def put_exchanges(self, items: Mapping[str, str]) -> None:
        """Keep hidden retrieval exchanges (serialised by core.retrieval) by fingerprint."""
        self._put(_EXCHANGE, items)

    def _evict(self, c: sqlite3.Connection, now: float) -> None:
        c.execute("DELETE FROM entries WHERE created < ?", (now - self.ttl_seconds,))
        (total,) = c.execute("SELECT bytes FROM total").fetchone()
        if total <= self.max_bytes:
            return
        # Least recently used first, and never what this write holds (used == now): a marker the request about to
        # go upstream carries must be retrievable, so one request's drops larger than the cap overrun it until
        # the next write, rather than being sent unretrievable.
        excess = total - self.max_bytes
        doomed = []
        for kind, key, size in c.execute("SELECT kind, key, size FROM entries WHERE used < ? "
                                         "ORDER BY used ASC, created ASC", (now,)):
            if excess <= 0:
                break
            doomed.append((kind, key))
            excess -= size
        c.executemany("DELETE FROM entries WHERE kind = ? AND key = ?", doomed)
        if doomed:
            with self._written_lock:
                self._written.clear()  # one of them may be gone: write each again next time

    # --- reads --------------------------------------------------------------------------------------

    def get(self, key: str, scope: str | None = None) -> str | None:
        """The dropped text under `key`, or None if it was never stored, expired, was evicted, or (with a
        `scope`) was written for another credential."""
        now = self._clock()
        c = self._conn()
        row = c.execute("SELECT text, created, scope FROM entries WHERE kind = ? AND key = ?", (_DROP, key)).fetchone()
        if row is None or row[1] < now - self.ttl_seconds or (scope is not None and row[2] != scope):
            return None
        try:  # the least-recently-used mark; a full disk must not cost the retrieval itself
            c.execute("UPDATE entries SET used = ? WHERE kind = ? AND key = ?", (now, _DROP, key))
        except sqlite3.OperationalError as e:
            from headroom.storage import disk_full

            if not disk_full(e):
                raise
        return str(row[0])

    def _live_rows(self, kind: str, keys: Iterable[str], columns: str) -> list[tuple[Any, ...]]:
        wanted = list(dict.fromkeys(keys))
        cutoff = self._clock() - self.ttl_seconds
        c = self._conn()
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i:i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows += c.execute(
                f"SELECT {columns} FROM entries WHERE kind = ? AND created >= ? AND key IN ({marks})",
                (kind, cutoff, *chunk),
            ).fetchall()
        return rows

    def issued(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` this store issued and still holds: only those markers are honoured. What this process
        wrote less than refresh_s ago is held (the same bound as put_many's skipped re-put); the rest is read."""
        wanted = list(dict.fromkeys(keys))
        now = self._clock()
        with self._written_lock:
            held = {k for k in wanted if (w := self._written.get(k)) is not None and 0 <= now - w[0] < self.refresh_s}
        rest = [k for k in wanted if k not in held]
        return held | {k for (k,) in self._live_rows(_DROP, rest, "key")} if rest else held

    def get_exchanges(self, fingerprints: Iterable[str]) -> dict[str, str]:
        return {k: v for k, v in self._live_rows(_EXCHANGE, fingerprints, "key, text")}

    def stats(self) -> dict[str, Any]:
        c = self._conn()
        (total,) = c.execute("SELECT bytes FROM total").fetchone()
        counts = dict(c.execute("SELECT kind, COUNT(*) FROM entries GROUP BY kind").fetchall())
        return {"bytes": total, "drops": counts.get(_DROP, 0), "exchanges": counts.get(_EXCHANGE, 0),
                "max_bytes": self.max_bytes, "ttl_seconds": self.ttl_seconds}

    def close(self) -> None:
        with self._written_lock:
            self._written.clear()
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


def open_store(root: Path | None = None, *, ttl_seconds: int = DEFAULT_TTL_SECONDS,
               max_bytes: int = DEFAULT_MAX_BYTES, url: str = "", ca_file: str = "") -> Store:
    """The store `url` names (HEADROOM_STORE: redis:// or rediss://, shared by a team; storage.redis_store),
    or without one the user's SQLite store under the headroom home (or `root`), with the TTL and size cap the
    caller was given (the proxy's options; headroom.settings.open_user_store for the CLI)."""
    if url:
        from headroom.storage.redis_store import RedisStore

        return RedisStore(url, ttl_seconds=ttl_seconds, ca_file=ca_file)
    from headroom.home import ensure_home

    base = root if root is not None else ensure_home()
    return SQLiteStore(base / STORE_FILENAME, ttl_seconds=ttl_seconds, max_bytes=max_bytes)
