"""Route: send a known host's decrypted traffic to another address, keeping its Host header and SNI.

`--route api.openai.com=127.0.0.1:9443` makes the proxy *connect* to 127.0.0.1:9443 whenever it would
connect to api.openai.com, while the TLS handshake still names and verifies api.openai.com and the
request still carries `Host: api.openai.com`: what a corporate gateway, a local model server or a test
upstream expects.
"""
from __future__ import annotations

from typing import Sequence

from mitmproxy import exceptions

from headroom import compat

__all__ = ["Route", "parse_route"]


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
