"""Ops: what a load balancer and an orchestrator ask of a proxy. `GET /livez` and `GET /readyz` on the proxy's
own port (plain HTTP, no proxy credential: a balancer's probe has none), and the drain on SIGTERM.

/livez is 200 while the process runs its event loop. /readyz is 200 only once the store answers a read, the
ledger's writer is open (when the ledger is on) and the users file reads (team mode); 503 with what it waits
for otherwise, and 503 from the moment a drain starts. The compressor's models are not waited for: they
load at start and again after an idle release (HEADROOM_MODELS_IDLE_SECONDS), and a request that arrives
meanwhile waits for them outside its compression budget (addon/intercept.py), so a replica serves either way. The drain (runner.serve calls `drain` on SIGTERM): /readyz says 503 at once; after
HEADROOM_DRAIN_NOTICE_SECONDS (0: at once) the listener closes, so new connections are refused; the LLM
requests in flight (streams included) get up to HEADROOM_DRAIN_SECONDS to finish; then the proxy shuts
down and exits 0. A second SIGTERM (or SIGINT) stops it at once.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Callable

from mitmproxy import ctx, http

from headroom.proxyinfo import HEALTH_HOST

if TYPE_CHECKING:
    from headroom.addon.intercept import Intercept
    from headroom.addon.stats import Stats
    from headroom.addon.team import Team

__all__ = ["LIVE_PATH", "READY_PATH", "Ops"]

log = logging.getLogger("headroom.ops")

LIVE_PATH = "/livez"
READY_PATH = "/readyz"
DEFAULT_DRAIN_SECONDS = 30  # a long agent turn streams for tens of seconds; orchestrators default to 30 s
DEFAULT_NOTICE_SECONDS = 0
_POLL_S = 0.05  # how often the drain looks at the flows in flight
_PROBE_KEY = "0" * 16  # a key nothing issues: a read of it is a round trip to the store and nothing else


def _json(status: int, payload: dict) -> http.Response:
    return http.Response.make(status, json.dumps(payload, sort_keys=True).encode(),
                              {"Content-Type": "application/json", "Cache-Control": "no-store"})


class Ops:
    def __init__(self, intercept: Intercept | None = None, stats: Stats | None = None, team: Team | None = None) -> None:
        self.intercept = intercept
        self.stats = stats
        self.team = team
        self.draining = False
        self.drain_seconds = DEFAULT_DRAIN_SECONDS
        self.notice_seconds = DEFAULT_NOTICE_SECONDS
        self.in_flight: set[str] = set()  # ids of the LLM and plain flows between their request and their end
        self._store_ok = False
        self._drain_task: asyncio.Task | None = None

    def load(self, loader) -> None:
        loader.add_option("headroom_drain_seconds", int, DEFAULT_DRAIN_SECONDS,
                          "On SIGTERM, how long requests in flight get to finish before the proxy exits.")
        loader.add_option("headroom_drain_notice_seconds", int, DEFAULT_NOTICE_SECONDS,
                          "On SIGTERM, how long /readyz says 503 before the listener closes.")

    def configure(self, updated) -> None:
        if "headroom_drain_seconds" in updated:
            self.drain_seconds = max(0, ctx.options.headroom_drain_seconds)
        if "headroom_drain_notice_seconds" in updated:
            self.notice_seconds = max(0, ctx.options.headroom_drain_notice_seconds)

    # --- probes -----------------------------------------------------------------------------------------

    @staticmethod
    def _own_port() -> int | None:
        try:
            for server in ctx.master.addons.get("proxyserver").servers:
                if server.listen_addrs:
                    return int(server.listen_addrs[0][1])
        except Exception:  # a probe must answer even if the server list is not what we expect
            pass
        return None

    def _is_probe(self, req: http.Request) -> bool:
        if req.scheme != "http" or req.method not in ("GET", "HEAD"):
            return False
        if req.path.split("?", 1)[0] not in (LIVE_PATH, READY_PATH):
            return False
        return req.pretty_host.lower() == HEALTH_HOST or req.port == self._own_port()

    def waiting(self) -> list[str]:
        """What the proxy is not ready for yet (blocking: the store's read; a worker thread calls it)."""
        out = []
        if self.intercept is not None and not self._store_ok:
            try:
                self.intercept._get_store().get(_PROBE_KEY)
                self._store_ok = True  # once usable, the fail-open paths cover a store that breaks later
            except Exception as e:
                out.append(f"store ({type(e).__name__})")
        if self.stats is not None and getattr(ctx.options, "headroom_ledger", False) and self.stats.ledger is None:
            out.append("ledger")
        if self.team is not None and self.team.enabled:
            if self.team.users is not None:
                self.team.users.refresh()
            if self.team.users is None or self.team.users.error:
                out.append("users file")
        return out

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        if flow.response or req.method == "CONNECT":
            return
        if not self._is_probe(req):
            self.in_flight.add(flow.id)
            return
        if req.path.split("?", 1)[0] == LIVE_PATH:
            flow.response = _json(200, {"live": True, "draining": self.draining})
            return
        waiting = ["draining"] if self.draining else await asyncio.to_thread(self.waiting)
        flow.response = _json(503 if waiting else 200, {"ready": not waiting, "waiting": waiting})

    def _ended(self, flow: http.HTTPFlow) -> None:
        self.in_flight.discard(flow.id)

    response = error = _ended

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._ended(flow)

    # --- the drain --------------------------------------------------------------------------------------

    def start_drain(self, shutdown: Callable[[], None]) -> None:
        """SIGTERM: drain, then `shutdown` (the master's). A second call stops at once."""
        if self._drain_task is not None:
            shutdown()
            return
        self._drain_task = asyncio.get_running_loop().create_task(self.drain(shutdown))

    async def drain(self, shutdown: Callable[[], None]) -> None:
        self.draining = True
        log.info("draining: /readyz says 503; %d request(s) in flight, up to %d s to finish",
                 len(self.in_flight), self.drain_seconds)
        try:
            if self.notice_seconds:
                await asyncio.sleep(self.notice_seconds)
            for server in list(ctx.master.addons.get("proxyserver").servers):
                await server.stop()  # closes the listening sockets only: open connections go on
            deadline = time.monotonic() + self.drain_seconds
            while self.in_flight and time.monotonic() < deadline:
                await asyncio.sleep(_POLL_S)
            if self.in_flight:
                log.warning("drain: %d request(s) still in flight after %d s; stopping them",
                            len(self.in_flight), self.drain_seconds)
        except Exception:  # whatever broke, the proxy still stops
            log.warning("drain failed; stopping now", exc_info=True)
        shutdown()
