"""Chain: every upstream connection through the user's own proxy (a corporate one), but those NO_PROXY exempts.

The runner puts mitmproxy in upstream mode (`mode=upstream:http://corp:3128`) when the proxy has an upstream
proxy: mitmproxy then opens every CONNECT's upstream side, decrypted or tunnelled, through a CONNECT to the
corporate proxy, and sends plain-HTTP requests to it in absolute form. This addon does the rest:

- the credentials: Proxy-Authorization on each CONNECT mitmproxy sends to the corporate proxy, and on
  plain-HTTP requests going there (after Sessions has taken a wrapped client's own credential off them). They
  are held here, never in a mitmproxy option, so no identity, log or options dump can show them;
- --route through the chain: the CONNECT names the route's address, the TLS inside still names the host;
- NO_PROXY (and loopback): a CONNECT to an exempted host gets a direct upstream connection instead of the
  tunnel (`next_layer`), and so does an exempted plain-HTTP request;
- a refusal by the corporate proxy (407: credentials, 403: not allowed) is said in one log line, what to do.
"""
from __future__ import annotations

import logging
import re
import socket
import ssl
import time
from typing import TYPE_CHECKING

from headroom import compat
from headroom.proxyinfo import HEALTH_HOST

if TYPE_CHECKING:
    from mitmproxy import http
    from mitmproxy.proxy.layer import NextLayer

    from headroom.addon.route import Route
    from headroom.core.proxychain import UpstreamProxy

__all__ = ["Chain"]

log = logging.getLogger("headroom.chain")

NOTE_EVERY_S = 60.0  # one line a minute per kind of refusal: an agent retrying must not flood the log
_REFUSED = re.compile(r"refused HTTP CONNECT request: (\d{3})")
CHECK_TIMEOUT = 3.0  # seconds per step of the chain check (doctor waits 12 s for all three)
MAX_HEAD = 64 * 1024  # a proxy's answer to CONNECT is a few hundred bytes
_HOST_RE = re.compile(r"^[a-z0-9.-]{1,253}$")


class Chain:
    # A plain-HTTP request's Proxy-Authorization is a wrapped client's until Sessions took it; Retrieve may point a
    # request at the relay (loopback: direct), Encode is the last to touch it.
    AFTER = ("Sessions", "Retrieve", "Encode")

    def __init__(self, upstream: UpstreamProxy | None = None, route: Route | None = None) -> None:
        self.upstream = upstream
        self.route = route  # its routes: the CONNECT to the chain names the routed address
        self.direct = 0  # connections and requests that went direct (NO_PROXY, loopback)
        self.cafile: str | None = None  # the roots and strictness upstreams are verified with (the check's TLS)
        self.strict = True
        self._noted: dict[tuple[int, str], float] = {}

    def configure(self, updated) -> None:
        from mitmproxy import ctx

        self.cafile = ctx.options.ssl_verify_upstream_trusted_ca
        self.strict = bool(getattr(ctx.options, "headroom_tls_strict", True))

    def _routed(self, host: str) -> tuple[str, int] | None:
        return self.route.routes.get(host.lower().rstrip(".")) if self.route is not None else None

    def goes_direct(self, host: str, port: int) -> bool:
        return self.upstream is None or self.upstream.goes_direct(host, port, self._routed(host))

    # --- CONNECTs ----------------------------------------------------------------------------------

    def next_layer(self, nextlayer: NextLayer) -> None:
        """Under a CONNECT to an exempted host, swap the tunnelled upstream for a direct one before it opens."""
        if self.upstream is None or nextlayer.layer is None:
            return
        server = nextlayer.context.server
        if server.via is None or server.address is None or server.connected or server.timestamp_start:
            return
        host, port = str(server.address[0]), int(server.address[1])
        if not self.goes_direct(host, port):
            return
        self.direct += 1
        compat.redecide_layer(nextlayer, compat.direct_server(server))

    def http_connect_upstream(self, flow: http.HTTPFlow) -> None:
        """The CONNECT mitmproxy sends to the upstream proxy: its credentials, and the routed address."""
        if self.upstream is None:
            return
        target = self._routed(flow.request.host)
        if target is not None:
            addr, port = target
            authority = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
            flow.request.data.host, flow.request.data.port = addr, port
            flow.request.authority = authority
            if "host" in flow.request.headers:
                flow.request.headers["Host"] = authority
        auth = self.upstream.authorization
        if auth is not None:
            flow.request.headers["Proxy-Authorization"] = auth

    # --- plain HTTP --------------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """A plain-HTTP proxy request (absolute form, not inside a tunnel) going to the upstream proxy carries
        its credentials (Sessions has taken a wrapped client's own off it by now)."""
        req = flow.request
        if self.upstream is None or flow.response or req.method == "CONNECT" or req.scheme != "http" \
                or not req.authority or req.pretty_host.lower() == HEALTH_HOST:
            return
        auth = self.upstream.authorization
        if auth is not None and not self.goes_direct(req.host, req.port):
            req.headers["Proxy-Authorization"] = auth

    # --- where each request finally goes --------------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> None:
        """A request whose final destination is exempted (the relay on loopback, a NO_PROXY host asked for in
        plain HTTP) gets a direct upstream connection instead of the chain. Runs after Retrieve has pointed a
        request at the relay."""
        req = flow.request
        if self.upstream is None or flow.response or flow.server_conn.via is None:
            return
        if not self.goes_direct(req.host, req.port):
            return
        self.direct += 1
        flow.server_conn = compat.direct_server(flow.server_conn, (req.host, req.port))
        if req.authority:  # absolute form was for the upstream proxy; the server itself wants origin form
            req.authority = ""
        req.headers.pop("Proxy-Authorization", None)

    # --- refusals ----------------------------------------------------------------------------------

    def error(self, flow: http.HTTPFlow) -> None:
        if self.upstream is None or flow.error is None:
            return
        m = _REFUSED.search(flow.error.msg or "")
        if m is None:
            return
        status = int(m.group(1))
        target = f"{flow.request.host}:{flow.request.port}"
        now = time.monotonic()
        if now - self._noted.get((status, target), -NOTE_EVERY_S) >= NOTE_EVERY_S:
            self._noted[(status, target)] = now
            log.warning("%s", self.upstream.refusal(status, target))

    # --- doctor's check (the admin API's GET /chain, in its thread) ---------------------------------

    def check(self, host: str = "api.anthropic.com", port: int = 443) -> dict[str, object]:
        """Can this proxy reach `host` the way it would: through the upstream proxy (reachable? does it take a
        CONNECT, with these credentials?) and then TLS verified as upstreams are. Numbers and words, no password."""
        from headroom.certs.trust import upstream_context

        up = self.upstream
        if up is None:
            return {"upstream_proxy": None}
        host = host.strip().lower().rstrip(".")
        out: dict[str, object] = {"upstream_proxy": up.masked, "no_proxy": list(up.no_proxy), "host": host}
        if not _HOST_RE.match(host):
            return {**out, "error": "not a host name"}
        if self.goes_direct(host, port):
            return {**out, "direct": True}
        addr, rport = self._routed(host) or (host, port)
        authority = f"[{addr}]:{rport}" if ":" in addr else f"{addr}:{rport}"
        out["connect"] = authority
        try:
            raw = socket.create_connection(up.address, timeout=CHECK_TIMEOUT)
        except OSError as e:
            return {**out, "reachable": False, "error": e.strerror or str(e) or type(e).__name__}
        out["reachable"] = True
        sock: socket.socket = raw
        try:
            sock.settimeout(CHECK_TIMEOUT)
            if up.scheme == "https":
                sock = upstream_context(None).wrap_socket(sock, server_hostname=up.host)
            head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
            if up.authorization is not None:
                head += f"Proxy-Authorization: {up.authorization}\r\n"
            sock.sendall((head + "\r\n").encode("latin-1"))
            answer = b""
            while b"\r\n\r\n" not in answer and len(answer) < MAX_HEAD:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            parts = answer.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            out["status"] = status
            if not 200 <= status < 300:
                return {**out, "fix": up.refusal(status, authority) if status else
                        f"the upstream proxy {up.host}:{up.port} did not answer CONNECT like an HTTP proxy"}
            ctx = upstream_context(self.cafile, strict=self.strict)
            with ctx.wrap_socket(sock, server_hostname=host):
                out["tls"] = "verified"
        except ssl.SSLCertVerificationError as e:
            out["tls_error"] = e.verify_message or str(e)
        except (OSError, ssl.SSLError) as e:
            out["error"] = getattr(e, "strerror", None) or str(e) or type(e).__name__
        finally:
            sock.close()
        return out
