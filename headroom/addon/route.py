"""Route: send a known host's decrypted traffic to another address, keeping its Host header and SNI.

`--route api.openai.com=127.0.0.1:9443` makes the proxy *connect* to 127.0.0.1:9443 whenever it would
connect to api.openai.com, while the TLS handshake still names and verifies api.openai.com and the
request still carries `Host: api.openai.com`: what a corporate gateway, a local model server or a test
upstream expects.
"""
from __future__ import annotations

import logging
import time
from typing import Sequence

from mitmproxy import exceptions

from headroom import compat
from headroom.command import command

__all__ = ["Route", "connect_failure", "parse_route"]

log = logging.getLogger("headroom.route")

NOTE_EVERY_S = 60.0  # one log line per host and kind of failure a minute: an agent retrying must not flood it

_KINDS = (  # (what the OS error says, what to tell the user)
    (("name or service not known", "nodename nor servname", "temporary failure in name resolution",
      "getaddrinfo failed", "no address associated", "name has no usable address"), "DNS lookup failed (offline?)"),
    # asyncio says "[Errno 111] Connect call failed": the errno tells (Linux, macOS, Windows numbers).
    (("connection refused", "errno 111]", "errno 61]", "winerror 10061"), "connection refused"),
    (("network is unreachable", "no route to host", "host is unreachable", "errno 101]", "errno 113]",
      "errno 51]", "errno 65]"), "no route to it (offline?)"),
    (("timed out", "timeout"), "connecting timed out"),
)


def connect_failure(error: str) -> str:
    """What kind of failure an upstream connection error is, in a few words."""
    text = (error or "").lower()
    return next((kind for needles, kind in _KINDS if any(n in text for n in needles)), "the connection failed")


def parse_route(spec: str) -> tuple[str, tuple[str, int]]:
    """`HOST=ADDR:PORT` → (host, (addr, port)). Raises ValueError saying what form is expected."""
    host, sep, target = spec.strip().partition("=")
    addr, colon, port = target.strip().rpartition(":")
    host = host.strip().lower().rstrip(".")
    addr = addr.strip().strip("[]")
    if not sep or not colon or not host or not addr or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--route {spec!r}: expected HOST=ADDR:PORT, e.g. api.openai.com=127.0.0.1:9443")
    return host, (addr, int(port))


class Route:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, int]] = {}
        self._rerouted: dict[int, tuple[str, int]] = {}  # id(server) -> the address the flow asked for
        self._noted: dict[tuple[str, str], float] = {}  # (host:port, kind) -> when it was last logged

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_routes", Sequence[str], [],
            "HOST=ADDR:PORT: connect to ADDR:PORT instead of HOST, keeping HOST's Host header and SNI.",
        )

    def configure(self, updated) -> None:
        if "headroom_routes" not in updated:
            return
        from mitmproxy import ctx

        routes = {}
        for spec in ctx.options.headroom_routes:
            try:
                host, target = parse_route(spec)
            except ValueError as e:
                raise exceptions.OptionsError(str(e)) from e
            routes[host] = target
        self.routes = routes

    def server_connect(self, data) -> None:
        server = data.server
        if not self.routes or not server.address or server.via:
            return
        target = self.routes.get(str(server.address[0]).lower().rstrip("."))
        if target is None:
            return
        if not server.sni and server.tls:
            server.sni = str(server.address[0])
        self._rerouted[id(server)] = server.address
        server.address = target

    def server_connected(self, data) -> None:
        # Put the asked-for address back: mitmproxy matches later requests to open connections by
        # address, so keep-alive reuse keeps working, and TLS verification uses the original name.
        # Server.__setattr__ refuses address changes on open connections (to stop addons from
        # believing that would reconnect); this is a relabel to what the flow asked for, not a move.
        original = self._rerouted.pop(id(data.server), None)
        if original is not None:
            compat.relabel_server_address(data.server, original)

    def server_connect_error(self, data) -> None:
        original = self._rerouted.pop(id(data.server), None)
        if original is not None:
            data.server.address = original
        # Offline or blocked, the client saw a bare 502 and the log said nothing (Claude Code then retried
        # silently for 90 s): one line a minute per host and kind says what failed.
        address = data.server.address
        where = f"{address[0]}:{address[1]}" if address else "the upstream"
        kind = connect_failure(data.server.error or "")
        now = time.monotonic()
        if now - self._noted.get((where, kind), -NOTE_EVERY_S) >= NOTE_EVERY_S:
            self._noted[(where, kind)] = now
            log.warning("cannot reach %s: %s", where, kind)

    def http_connect_error(self, flow) -> None:
        """The CONNECT's 502 says what failed and what to check, instead of mitmproxy's own hint."""
        resp = flow.response
        if resp is None or resp.status_code != 502:
            return
        where = f"{flow.request.host}:{flow.request.port}"
        kind = connect_failure(resp.get_text(strict=False) or "")
        resp.text = (f"headroom: cannot reach {where}: {kind}. Check the network; behind a corporate proxy, "
                     f"the proxy must go through it too (see `{command()} doctor`).")
        resp.headers["content-type"] = "text/plain; charset=utf-8"
