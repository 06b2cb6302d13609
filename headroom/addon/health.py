"""The proxy answers for itself: `GET http://headroom.proxy/health` (its identity, for wrap and doctor) and
PROBE_PATH on any intercepted HTTPS host (proof of interception and trust, with no upstream or API key).

See headroom/proxyinfo.py for the contract. Responses are set in the `request` hook, so later addons
(Intercept, Retrieve, Encode, Stats) see a flow that already has a response and skip it.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from typing import TYPE_CHECKING, Mapping

from mitmproxy import ctx, http

from headroom import __version__
from headroom.home import home
from headroom.proxyinfo import HEALTH_HOST, HEALTH_PATH, PROBE_HEADER, PROBE_PATH, SERVICE

if TYPE_CHECKING:
    from headroom.addon.admin import Admin
    from headroom.addon.chain import Chain
    from headroom.addon.intercept import Intercept

__all__ = ["Health"]


_PROBE_KEY = "0" * 16  # a key nothing issues: reading it is one round trip to the store and nothing else


def store_report(intercept: Intercept | None) -> dict | None:
    """The retrieval store's kind, where it is (a Redis URL with its password masked, or the SQLite file) and
    whether it answers a read now; the error's kind (never its text) when it does not. Blocking: a worker
    thread calls it."""
    if intercept is None:
        return None
    url = intercept.store_url[0]
    kind = "redis" if url else "sqlite"
    out: dict = {"kind": kind, "answers": False}
    try:
        store = intercept._get_store()
        out["where"] = getattr(store, "url", None) or str(getattr(store, "path", ""))
        store.get(_PROBE_KEY)
        out["answers"] = True
    except Exception as e:  # the report says so; the proxy forwards uncompressed meanwhile
        out["error"] = type(e).__name__
        if "where" not in out and url:
            from headroom.storage.redis_store import masked

            out["where"] = masked(url)
    return out


def _json(status: int, payload: dict) -> http.Response:
    return http.Response.make(
        status,
        json.dumps(payload, indent=None, sort_keys=True).encode(),
        {"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


class Health:
    def __init__(self, reported: Mapping[str, str] | None = None, admin: Admin | None = None,
                 effective: Mapping[str, str] | None = None, chain: Chain | None = None,
                 intercept: Intercept | None = None) -> None:
        self.intercept = intercept  # whose retrieval store the identity reports (kind, answers)
        self.admin = admin  # whose dashboard URL the identity names (make_addons passes it)
        self.chain = chain  # the upstream proxy it reports (masked: never its password)
        # The HEADROOM_* settings the proxy was started with, as Settings.reported has them (wrap compares
        # them with its own variables).
        self.reported = dict(reported or {})
        # What it does, flags included (Settings.effective): what wrap compares.
        self.effective = dict(effective or {})
        self.started = time.time()
        self._probe_clients: set[str] = set()  # client connection ids that asked for a probe tunnel

    def running(self) -> None:
        self.started = time.time()

    def _port(self) -> int | None:
        try:
            servers = ctx.master.addons.get("proxyserver").servers
            for server in servers:
                if server.listen_addrs:
                    return server.listen_addrs[0][1]
        except Exception:  # the identity must answer even if the server list is not what we expect
            pass
        return getattr(ctx.options, "listen_port", None)

    @staticmethod
    def _options() -> dict:
        """The headroom_* mitmproxy options as set (a proxy started with flags has them, not env vars)."""
        from headroom.core.proxychain import mask_url

        out: dict[str, object] = {}
        for name in sorted(getattr(ctx.options, "keys", lambda: [])()):
            if name.startswith("headroom_"):
                value = getattr(ctx.options, name)
                # A URL's password never leaves (headroom_store=redis://:PASSWORD@host was echoed here).
                if isinstance(value, (list, tuple)):
                    out[name] = [mask_url(v) if isinstance(v, str) else v for v in value]
                else:
                    out[name] = mask_url(value) if isinstance(value, str) else value
        return out

    def identity(self) -> dict:
        admin_url = self.admin.url if self.admin is not None else None
        strict = getattr(ctx.options, "headroom_tls_strict", True)
        upstream = self.chain.upstream if self.chain is not None else None
        return {
            "service": SERVICE,
            "version": __version__,
            "pid": os.getpid(),
            "port": self._port(),
            "home": str(home()),
            "started": self.started,
            "uptime_s": round(time.time() - self.started, 3),
            "settings": dict(self.reported),
            "effective": dict(self.effective),
            "options": self._options(),
            "tls_strict": bool(strict),
            # The roots this proxy verifies upstreams with (its own file: doctor checks with the same).
            "upstream_bundle": getattr(ctx.options, "ssl_verify_upstream_trusted_ca", None),
            "admin_url": admin_url if isinstance(admin_url, str) else None,
            # The user's proxy it chains to, password masked (wrap reuses a proxy only if this matches its own).
            "upstream_proxy": upstream.describe() if upstream is not None else None,
        }

    def http_connect(self, flow: http.HTTPFlow) -> None:
        # A probe tunnel (CONNECT carrying PROBE_HEADER) is answered without touching the upstream, so the
        # probe works offline even with the eager connection strategy.
        if flow.response or PROBE_HEADER not in flow.request.headers:
            return
        self._probe_clients.add(flow.client_conn.id)
        flow.response = http.Response(
            flow.request.data.http_version, 200, b"Connection established", http.Headers(), b"", None,
            time.time(), time.time(),
        )

    def tls_clienthello(self, data) -> None:
        if data.context.client.id in self._probe_clients:
            data.establish_server_tls_first = False

    def client_disconnected(self, client) -> None:
        self._probe_clients.discard(client.id)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response:
            return
        req = flow.request
        if req.scheme == "http" and req.pretty_host.lower() == HEALTH_HOST:
            if req.method in ("GET", "HEAD") and req.path.split("?", 1)[0] == HEALTH_PATH:
                identity = self.identity()
                identity["store"] = await asyncio.to_thread(store_report, self.intercept)
                flow.response = _json(200, identity)
            else:
                flow.response = _json(404, {"service": SERVICE, "error": f"only GET {HEALTH_PATH} is served here"})
            return
        if req.scheme == "https" and req.path.split("?", 1)[0] == PROBE_PATH:
            flow.response = _json(200, {
                "service": SERVICE,
                "probe": "ok",
                "intercepted": True,
                "host": req.pretty_host,
                "version": __version__,
                "pid": os.getpid(),
            })
