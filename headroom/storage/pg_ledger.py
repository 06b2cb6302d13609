"""The team's shared ledger on PostgreSQL (HEADROOM_LEDGER=postgresql://...): every replica's rows in one table.

Each replica still keeps its own SQLite ledger (its dashboard and /metrics read it); this writer copies the
same rows, with the replica's name (HEADROOM_REPLICA) and the user, to one PostgreSQL database so
`headroom perf --ledger URL` reports across replicas, per user and per replica.

- Off the request path: `record()` only puts the row on a bounded queue; one daemon thread writes batches of
  up to MAX_BATCH rows per transaction (one round trip for the rows, one for their units).
- Fail open: a database that is down or refuses a batch costs those rows (counted in `dropped`, logged with
  numbers once per outage and once when it answers again), never a request. The writer reconnects with
  back-off (RETRY_FIRST_S doubling up to RETRY_MAX_S); rows that arrive meanwhile wait in the queue.
- The schema is created and migrated by the writer itself, under an advisory lock so replicas starting
  together do not race: missing tables are created, missing columns added (ADD COLUMN IF NOT EXISTS).
- The URL's password is never logged: messages name `masked(url)`.
- Retention as in the SQLite ledger: rows older than `ledger.RETENTION_SECONDS` (400 days) are deleted by the
  writer thread, PRUNE_BATCH rows per transaction between its batches of new rows (so a first prune of a
  large backlog never holds the table nor the queue for long), at its first connection and every
  PRUNE_EVERY_S after. Replicas pruning at once skip each other's locked rows. A database that refuses the
  deletes costs nothing but the pruning (logged once per kind); units go with their row (ON DELETE CASCADE).

psycopg (v3) is imported only when such a URL is configured (the `team` extra installs it).
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import time
from dataclasses import asdict
from typing import Any, Callable
from urllib.parse import urlsplit

from headroom.core.ports import Entry
from headroom.storage import ledger as sqlite_ledger

__all__ = ["PG_SCHEMES", "PgLedger", "check_url", "error_kind", "masked", "snapshot"]

log = logging.getLogger("headroom.ledger")

PG_SCHEMES = ("postgresql", "postgres")
MAX_QUEUE = sqlite_ledger.MAX_QUEUE
MAX_BATCH = sqlite_ledger.MAX_BATCH
CONNECT_TIMEOUT_S = 3
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0
SCHEMA_VERSION = 2  # 1: no replica column
RETENTION_SECONDS = sqlite_ledger.RETENTION_SECONDS  # the same history as each replica's own ledger
PRUNE_BATCH = 5000  # rows per DELETE transaction: a few tens of ms of work, then new rows get their turn
PRUNE_EVERY_S = 6 * 3600.0  # a team's proxies run for months: prune again while running, not only at start
_LOCK_KEY = 0x68656164  # pg_advisory_xact_lock key for schema work ("head")

REQUESTS = "headroom_requests"
UNITS = "headroom_units"
META = "headroom_ledger_meta"

# The columns of a row, in SQLite's order, with their PostgreSQL types.
_PG_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "TEXT": "TEXT"}
_COLUMNS = [f for f in Entry.__dataclass_fields__ if f != "units"]


def _column_types() -> dict[str, str]:
    out: dict[str, str] = {}
    body = sqlite_ledger._SCHEMA.split("CREATE TABLE IF NOT EXISTS requests (", 1)[1].split(");", 1)[0]
    for line in body.splitlines():
        words = line.strip().rstrip(",").split()
        if len(words) >= 2 and words[0] != "id":
            out[words[0]] = _PG_TYPES[words[1]]
    return out


_TYPES = _column_types()


def _q(name: str) -> str:
    return f'"{name}"'  # "user" is a reserved word in PostgreSQL


def _plain(v: Any) -> Any:
    return int(v) if isinstance(v, bool) else v  # the columns are numbers, as in SQLite


def masked(url: str) -> str:
    from headroom.core.proxychain import mask_url

    return mask_url(url)


def is_pg_url(raw: str) -> bool:
    return raw.strip().lower().split(":", 1)[0] in PG_SCHEMES and "://" in raw


def check_url(url: str) -> str:
    """`url` if it names a PostgreSQL database; ValueError (one line, password masked) otherwise."""
    try:
        parts = urlsplit(url)
        parts.port
    except ValueError:
        raise ValueError(f"HEADROOM_LEDGER={masked(url)!r} is not a URL; give postgresql://user:pass@host:5432/db, "
                         "1 or 0") from None
    if parts.scheme not in PG_SCHEMES or not parts.hostname:
        raise ValueError(f"HEADROOM_LEDGER={masked(url)!r}: give postgresql://user:pass@host:5432/db "
                         "(?sslmode=verify-full for TLS), 1 (the local ledger) or 0 (off)")
    return url


# What libpq's message says, as a fixed phrase: the log and the dashboard name the kind of a failure, never the
# server's text (which carries host names, user names and file paths).
_REASONS = (
    ("certificate verify failed", "TLS: the server's certificate is not signed by the ledger's CA file"),
    ("does not match host name", "TLS: the server's certificate is not for the URL's host name"),
    ("root certificate file", "TLS: the ledger's CA file cannot be read"),
    ("server does not support SSL", "TLS: the server does not offer it"),
    ("no encryption", "the server takes TLS connections only: add ?sslmode=verify-full"),
    ("password authentication failed", "the user or password is refused"),
    ("Connection refused", "connection refused"),
    ("timeout expired", "no answer in time"),
    ("statement timeout", "the database did not finish the read in time"),
)


def error_kind(e: BaseException) -> str:
    """`OperationalError: TLS: the server's certificate is not signed by the ledger's CA file`, or the bare
    exception type when its message is none of the known ones."""
    text = str(e)
    for needle, reason in _REASONS:
        if needle in text:
            return f"{type(e).__name__}: {reason}"
    return type(e).__name__


def _connect(url: str, ca_file: str) -> Any:
    """A connection; with a CA file (HEADROOM_LEDGER_CA, --ledger-ca) and no sslmode in the URL, sslmode is
    verify-full: libpq's default (prefer) would fall back to an unencrypted connection when the certificate
    does not verify, and check no host name."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "headroom"}
    if ca_file:
        extra["sslrootcert"] = ca_file
        if "sslmode" not in conninfo_to_dict(url):
            extra["sslmode"] = "verify-full"
    return psycopg.connect(url, autocommit=False, **extra)


def migrate(conn: Any) -> None:
    """Create or bring up to date the shared ledger's tables (idempotent; one transaction, advisory-locked)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(f"CREATE TABLE IF NOT EXISTS {REQUESTS} (id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL)")
        for name, kind in (*_TYPES.items(), ("replica", "TEXT")):
            if name == "ts":
                continue
            cur.execute(f"ALTER TABLE {REQUESTS} ADD COLUMN IF NOT EXISTS {_q(name)} {kind}")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {REQUESTS}_ts ON {REQUESTS}(ts)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {UNITS} (request_id BIGINT NOT NULL REFERENCES {REQUESTS}(id) "
                    "ON DELETE CASCADE, content_type TEXT NOT NULL, compressor TEXT NOT NULL, units BIGINT NOT NULL, "
                    "tokens_before BIGINT NOT NULL, tokens_after BIGINT NOT NULL, ms DOUBLE PRECISION NOT NULL)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS {UNITS}_request ON {UNITS}(request_id)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {META} (replica TEXT PRIMARY KEY, dropped BIGINT NOT NULL DEFAULT 0)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {META}_schema (version INTEGER NOT NULL)")
        cur.execute(f"DELETE FROM {META}_schema")
        cur.execute(f"INSERT INTO {META}_schema(version) VALUES (%s)", (SCHEMA_VERSION,))
    conn.commit()


_INSERT = (f"INSERT INTO {REQUESTS}({', '.join(_q(c) for c in (*_COLUMNS, 'replica'))}) "
           f"VALUES ({', '.join(['%s'] * (len(_COLUMNS) + 1))}) RETURNING id")
_INSERT_UNIT = (f"INSERT INTO {UNITS}(request_id, content_type, compressor, units, tokens_before, tokens_after, ms) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)")


class PgLedger(sqlite_ledger.QueuedWriter):
    """A `core.ports.LedgerWriter` on PostgreSQL: `record()` never blocks and never raises."""

    THREAD_NAME = "headroom-pg-ledger"

    def __init__(self, url: str, *, replica: str, ca_file: str = "", max_queue: int = MAX_QUEUE,
                 clock: Callable[[], float] = time.time,
                 connect: Callable[[str, str], Any] = _connect) -> None:
        super().__init__(max_queue=max_queue, clock=clock)
        self._url = check_url(url)
        self.url = masked(url)  # what messages name: never the password
        self.replica = replica
        self._ca = ca_file
        self._connect = connect
        self._down_since_dropped: int | None = None  # `dropped` when the current outage began
        self.retry_s = RETRY_FIRST_S
        self._prune_due: float | None = None  # monotonic time of the next pruning step; None: at connection
        self._prune_pass = 0  # rows deleted by the pass under way
        self._prune_refused: str | None = None  # the kind last logged for a refused prune
        self.pruned = 0  # rows deleted for retention (tests, logs)
        self.prune_batches = 0  # DELETE transactions that deleted rows

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        lost = 0
        while True:  # rows the database never took (down at shutdown): counted, and said
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            lost += 1
        if lost:
            self._settle(dropped=lost, written=0)
            log.warning("shared ledger %s: %d row(s) not written at shutdown (the database did not answer)",
                        self.url, lost)

    def _run(self) -> None:
        conn: Any = None
        while not self._stop.is_set():
            batch = self._batch()
            if not batch:
                if conn is not None:
                    self._prune_step(conn)
                continue
            try:
                if conn is None:
                    conn = self._connect(self._url, self._ca)
                    migrate(conn)
                self._write(conn, batch)
                self._settle(dropped=0, written=len(batch))
                self._recovered()
                self._prune_step(conn)
            except Exception as e:  # psycopg.Error, OSError: these rows are lost, traffic is not
                self._settle(dropped=len(batch), written=0)
                self._failed(e, len(batch))
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                    conn = None
                self._stop.wait(self.retry_s)  # rows arriving meanwhile wait in the queue
                self.retry_s = min(RETRY_MAX_S, self.retry_s * 2)
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _prune_step(self, conn: Any) -> None:
        """When due, delete one PRUNE_BATCH of rows older than the retention; a full batch keeps it due (the
        next step comes after the next batch of new rows, or 0.2 s idle), a short one ends the pass."""
        now = time.monotonic()
        if self._prune_due is not None and now < self._prune_due:
            return
        try:
            with conn.cursor() as cur:
                cur.execute(f"DELETE FROM {REQUESTS} WHERE id IN (SELECT id FROM {REQUESTS} WHERE ts < %s "
                            "LIMIT %s FOR UPDATE SKIP LOCKED)", (self._clock() - RETENTION_SECONDS, PRUNE_BATCH))
                deleted = max(0, cur.rowcount)
            conn.commit()
        except Exception as e:  # refused (a trigger, a privilege) or the connection went: the writes go on
            try:
                conn.rollback()
            except Exception:
                pass
            kind = error_kind(e)
            if kind != self._prune_refused:
                log.warning("shared ledger %s: rows older than %d days cannot be deleted (%s); they stay, rows are "
                            "still written, pruning is tried again in %g h", self.url, RETENTION_SECONDS // 86400,
                            kind, PRUNE_EVERY_S / 3600)
                self._prune_refused = kind
            self._prune_pass = 0
            self._prune_due = now + PRUNE_EVERY_S
            return
        self._prune_refused = None
        self.pruned += deleted
        self._prune_pass += deleted
        if deleted:
            self.prune_batches += 1
        if deleted >= PRUNE_BATCH:
            self._prune_due = now  # more to delete: the next step after the next batch of rows
            return
        if self._prune_pass:
            log.info("shared ledger %s: %d row(s) older than %d days deleted", self.url, self._prune_pass,
                     RETENTION_SECONDS // 86400)
        self._prune_pass = 0
        self._prune_due = now + PRUNE_EVERY_S

    def _failed(self, e: Exception, rows: int) -> None:
        kind = error_kind(e)
        self.last_error = f"{kind}: the shared ledger {self.url} did not take {rows} row(s)"
        if self._down_since_dropped is None:
            self._down_since_dropped = self.dropped - rows
            log.warning("shared ledger %s is unreachable (%s): %d row(s) lost so far; requests go on, retrying with "
                        "back-off", self.url, kind, rows)

    def _recovered(self) -> None:
        self.retry_s = RETRY_FIRST_S
        self.last_error = None
        if self._down_since_dropped is not None:
            lost = self.dropped - self._down_since_dropped
            self._down_since_dropped = None
            log.warning("shared ledger %s answers again: %d row(s) were lost while it was down", self.url, lost)

    def _write(self, conn: Any, batch: list[Entry]) -> None:
        try:
            with conn.cursor() as cur:
                rows = [[_plain(asdict(e)[c]) for c in _COLUMNS] + [self.replica] for e in batch]
                cur.executemany(_INSERT, rows, returning=True)
                ids = []
                while True:
                    got = cur.fetchone()
                    ids.append(got[0] if got else None)
                    if not cur.nextset():
                        break
                units = [(rid, u.content_type, u.compressor, u.units, u.tokens_before, u.tokens_after, u.ms)
                         for rid, e in zip(ids, batch) for u in e.units]
                if units:
                    cur.executemany(_INSERT_UNIT, units)
                with self._lock:
                    lost = self.dropped - self._dropped_persisted
                cur.execute(f"INSERT INTO {META}(replica, dropped) VALUES (%s, %s) ON CONFLICT (replica) "
                            f"DO UPDATE SET dropped = {META}.dropped + EXCLUDED.dropped", (self.replica, lost))
            conn.commit()
            self._dropped_persisted += lost
        except BaseException:
            try:
                conn.rollback()
            except Exception:
                pass
            raise


def snapshot(url: str, *, since: float | None = None, until: float | None = None, ca_file: str = "",
             timeout_s: float | None = None) -> sqlite3.Connection:
    """The shared ledger's rows of the period copied into an in-memory SQLite ledger (with its `replica`
    column), so `storage.report.build_report` computes the team's figures exactly as it does one proxy's.
    `timeout_s` bounds each statement in the database (statement_timeout; the connection has its own timeout).
    Raises psycopg.Error (message without the password) when the database cannot be read."""
    mem = sqlite3.connect(":memory:", check_same_thread=False)
    mem.executescript(sqlite_ledger._SCHEMA)
    mem.execute("ALTER TABLE requests ADD COLUMN replica TEXT")
    mem.execute("INSERT INTO meta(key, value) VALUES ('dropped', 0)")
    conds, args = ["TRUE"], []
    if since is not None:
        conds.append("ts >= %s")
        args.append(since)
    if until is not None:
        conds.append("ts < %s")
        args.append(until)
    where = " AND ".join(conds)
    cols = ["id", *_COLUMNS, "replica"]
    with _connect(url, ca_file) as conn:
        if timeout_s is not None:
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{int(timeout_s * 1000)}ms",))
        migrate(conn)  # a database no replica wrote to yet reads as empty
        with conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(_q(c) for c in cols)} FROM {REQUESTS} WHERE {where}", args)
            ins = f"INSERT INTO requests({', '.join(_q(c) for c in cols)}) VALUES ({', '.join('?' * len(cols))})"
            while chunk := cur.fetchmany(5000):
                mem.executemany(ins, chunk)
            cur.execute(f"SELECT u.request_id, u.content_type, u.compressor, u.units, u.tokens_before, "
                        f"u.tokens_after, u.ms FROM {UNITS} u JOIN {REQUESTS} r ON r.id = u.request_id WHERE "
                        + where.replace("ts ", "r.ts "), args)
            while chunk := cur.fetchmany(5000):
                mem.executemany("INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?)", chunk)
            cur.execute(f"SELECT COALESCE(SUM(dropped), 0) FROM {META}")
            mem.execute("UPDATE meta SET value = ? WHERE key = 'dropped'", (int(cur.fetchone()[0]),))
    mem.commit()
    return mem
