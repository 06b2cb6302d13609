"""The team view of the shared ledger for the dashboard: totals across replicas, per replica, per user.

A proxy with HEADROOM_LEDGER=postgresql://... shows, beside its own replica's figures, what every replica wrote
to the shared ledger. The figures are `storage.report.build_report` over `pg_ledger.snapshot`, the same
computation `headroom perf --ledger URL` prints, so both agree for the same period.

- Never on the request path and never blocking a caller for long: each refresh runs in a thread of its own;
  a caller waits for it at most WAIT_S and otherwise gets the previous figures (marked stale) or "unavailable".
  The database read itself is bounded (connect timeout, statement timeout), so a hung database cannot pile up
  threads: at most MAX_INFLIGHT refreshes run at once.
- Cached TTL_S per period, so several dashboard tabs polling every 2 s cost one read every few seconds.
- Fails soft: a database that is down or refuses gives {"state": "unavailable", "error": <exception kind>}, never
  an error page; it is logged once per outage with the kind and the masked URL, and once when it answers again.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

__all__ = ["MAX_INFLIGHT", "TTL_S", "UNAVAILABLE", "WAIT_S", "TeamView"]

log = logging.getLogger("headroom.ledger")

TTL_S = 5.0  # the dashboard polls every 2 s; a team's totals need not be fresher than this
WAIT_S = 2.0  # what a /stats request waits for a refresh before answering with what it has
READ_TIMEOUT_S = 10.0  # the database's own bound on the read (statement_timeout), so a refresh thread ends
MAX_INFLIGHT = 2  # refreshes running at once (one per period asked for), whatever the database does
MAX_PERIODS = 8  # periods cached (the dashboard offers five; a URL may ask for others)
UNAVAILABLE = "shared ledger unavailable"


def _read(url: str, ca_file: str, since: float | None, now: float, pricing: str | None) -> dict[str, Any]:
    from headroom.storage.pg_ledger import snapshot
    from headroom.storage.report import build_report, report_json

    conn = snapshot(url, since=since, ca_file=ca_file, timeout_s=READ_TIMEOUT_S)
    try:
        report = report_json(build_report(conn, since=since, now=now, pricing=pricing))
    finally:
        conn.close()
    return {"totals": report["totals"], "per_replica": report["per_replica"], "per_user": report["per_user"],
            "dropped_total": report["ledger"]["dropped_total"]}


class TeamView:
    """`get(since_seconds)`: the team's figures of the last `since_seconds` (None: all) as JSON-ready dicts."""

    def __init__(self, url: str, *, ca_file: str = "", pricing: str | None = None, ttl: float = TTL_S,
                 wait: float = WAIT_S, read: Callable[..., dict[str, Any]] = _read,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from headroom.storage.pg_ledger import masked

        self._url = url
        self.url = masked(url)  # what the dashboard and the log name: never the password
        self._ca = ca_file
        self._pricing = pricing
        self._ttl, self._wait = ttl, wait
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[float | None, tuple[float, dict[str, Any]]] = {}
        self._inflight: dict[float | None, threading.Event] = {}
        self._down = False  # an outage is being logged: say it once, and once when it ends
        self.reads = 0  # refreshes finished, ok or not (tests)

    def get(self, since_seconds: float | None) -> dict[str, Any]:
        with self._lock:
            hit = self._cache.get(since_seconds)
            if hit is not None and self._clock() - hit[0] < self._ttl:
                return hit[1]
            job = self._inflight.get(since_seconds)
            if job is None and len(self._inflight) < MAX_INFLIGHT:
                job = self._inflight[since_seconds] = threading.Event()
                threading.Thread(target=self._refresh, args=(since_seconds, job), name="headroom-team-view",
                                 daemon=True).start()
        if job is not None:
            job.wait(self._wait)
        with self._lock:
            fresh = self._cache.get(since_seconds)
        if fresh is not None and (fresh is not hit or job is None or job.is_set()):
            return fresh[1]
        if hit is not None:  # the refresh is still running: the previous figures, said to be old
            return {**hit[1], "stale": True}
        return {"state": "unavailable", "message": UNAVAILABLE, "url": self.url, "error": "no answer",
                "detail": f"the database did not answer within {self._wait:g} s"}

    def _refresh(self, since_seconds: float | None, job: threading.Event) -> None:
        wall = time.time()
        try:
            try:
                since = None if since_seconds is None else wall - since_seconds
                value: dict[str, Any] = {"state": "ok", "url": self.url, "as_of": round(wall, 3),
                                         **self._read(self._url, self._ca, since, wall, self._pricing)}
                if self._down:
                    log.warning("shared ledger %s answers the dashboard again", self.url)
                self._down = False
            except Exception as e:  # psycopg.Error, OSError, ImportError: the view says so, the proxy goes on
                from headroom.storage.pg_ledger import error_kind

                kind = error_kind(e)
                value = {"state": "unavailable", "message": UNAVAILABLE, "url": self.url, "error": kind,
                         "as_of": round(wall, 3)}
                if not self._down:
                    log.warning("shared ledger %s cannot be read for the dashboard (%s); it shows '%s' and "
                                "retries every %g s", self.url, kind, UNAVAILABLE, self._ttl)
                self._down = True
            with self._lock:
                self._cache[since_seconds] = (self._clock(), value)
                while len(self._cache) > MAX_PERIODS:
                    self._cache.pop(min(self._cache, key=lambda k: self._cache[k][0]))
                self.reads += 1
        finally:
            with self._lock:
                self._inflight.pop(since_seconds, None)
            job.set()
