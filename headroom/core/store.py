"""The retrieval store: what compressors dropped, by marker key, in SQLite under the headroom home.

Entries live for a TTL (HEADROOM_CCR_TTL seconds, default 7 days) and the store is capped in size
with least-recently-used eviction. The file is readable by the user only (0600).
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Mapping, Protocol

__all__ = ["DEFAULT_TTL_SECONDS", "DEFAULT_MAX_BYTES", "SQLiteStore", "Store", "open_store", "ttl_from_env"]

DEFAULT_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # a week of heavy agent use stays well under this
STORE_FILENAME = "store.sqlite3"


class Store(Protocol):
    def put_many(self, items: Mapping[str, str]) -> None: ...
    def get(self, key: str) -> str | None: ...


def ttl_from_env() -> int:
    raw = os.environ.get("HEADROOM_CCR_TTL", "")
    try:
        return int(raw) if raw.strip() else DEFAULT_TTL_SECONDS
    except ValueError:
        raise ValueError(f"HEADROOM_CCR_TTL must be a whole number of seconds, not {raw!r}") from None


class SQLiteStore:
    """A store safe to share between threads of one process and between processes (WAL, busy timeout)."""

    def __init__(self, path: Path, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, max_bytes: int = DEFAULT_MAX_BYTES,
                 clock=time.time):
        self.path = Path(path)
        self.ttl_seconds = ttl_seconds
        self.max_bytes = max_bytes
        self._clock = clock
        self._local = threading.local()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)
        with self._conn() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS drops (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
                "size INTEGER NOT NULL, created REAL NOT NULL, used REAL NOT NULL)"
            )
            c.execute("CREATE INDEX IF NOT EXISTS drops_used ON drops(used)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def put_many(self, items: Mapping[str, str]) -> None:
        if not items:
            return
        now = self._clock()
        c = self._conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany(
                "INSERT INTO drops(key, text, size, created, used) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET used=excluded.used, created=excluded.created",
                [(k, v, len(v.encode("utf-8", "surrogatepass")), now, now) for k, v in items.items()],
            )
            self._evict(c, now)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def _evict(self, c: sqlite3.Connection, now: float) -> None:
        c.execute("DELETE FROM drops WHERE created < ?", (now - self.ttl_seconds,))
        (total,) = c.execute("SELECT COALESCE(SUM(size), 0) FROM drops").fetchone()
        if total <= self.max_bytes:
            return
        excess = total - self.max_bytes
        for key, size in c.execute("SELECT key, size FROM drops ORDER BY used ASC").fetchall():
            if excess <= 0:
                break
            c.execute("DELETE FROM drops WHERE key = ?", (key,))
            excess -= size

    def get(self, key: str) -> str | None:
        now = self._clock()
        c = self._conn()
        row = c.execute("SELECT text, created FROM drops WHERE key = ?", (key,)).fetchone()
        if row is None or row[1] < now - self.ttl_seconds:
            return None
        c.execute("UPDATE drops SET used = ? WHERE key = ?", (now, key))
        return row[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def open_store(root: Path | None = None) -> SQLiteStore:
    """The user's store under the headroom home."""
    from headroom.home import ensure_home

    base = root if root is not None else ensure_home()
    return SQLiteStore(base / STORE_FILENAME, ttl_seconds=ttl_from_env())
