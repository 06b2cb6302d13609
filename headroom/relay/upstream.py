"""The relay's upstream side: where a relayed request really goes, over which TLS, with which client.

The same trust and strictness as mitmproxy's own upstream connections (the CA bundle it verifies with,
ssl_insecure, HEADROOM_TLS_STRICT) and the same --route, so a request the relay sends is the request
mitmproxy would have sent. The proxy's own HTTPS_PROXY never applies (it may point at the proxy itself): the
upstream proxy it chains to (core.proxychain, the same one mitmproxy's upstream mode uses) does, with the same
credentials and NO_PROXY. A chained request's connection is a CONNECT to that proxy naming the routed address,
then TLS naming the real host, exactly as mitmproxy's side does it.
"""
from __future__ import annotations

import logging
import time
import typing
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from headroom import compat
from headroom.certs.trust import upstream_context
from headroom.core.proxychain import UpstreamProxy

__all__ = ["HOP_BY_HOP", "MAX_CONNECT_HEAD", "TIMEOUTS", "Target", "Tunnel", "Upstream"]

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
# A long silent think is normal for an LLM (a non-streamed answer comes whole, minutes later), so a read may
# wait as long as mitmproxy lets a connection idle (10 min) and no longer; connecting takes seconds or fails.
TIMEOUTS = dict(connect=30.0, read=600.0, write=60.0, pool=30.0)
MAX_CONNECT_HEAD = 64 * 1024  # a proxy's answer to CONNECT is a few hundred bytes; more is not a proxy
NOTE_EVERY_S = 60.0  # one log line a minute per refusal (status and target): a retrying agent must not flood it

log = logging.getLogger("headroom.chain")


class Tunnel(httpcore.AsyncNetworkBackend):
    """httpcore's network backend for chained connections: each TCP connection is a CONNECT through the
    upstream proxy to the address asked for. httpcore then does TLS on it as on any connection (with the
    real host's name, the sni_hostname extension), which its own proxy class would not (it names the URL's)."""

    def __init__(self, proxy: UpstreamProxy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.proxy = proxy
        self.inner = inner or httpcore.AnyIOBackend()
        self._noted: dict[tuple[int, str], float] = {}

    def _refused(self, status: int, authority: str) -> httpcore.ProxyError:
        why = self.proxy.refusal(status, authority)
        now = time.monotonic()
        if now - self._noted.get((status, authority), -NOTE_EVERY_S) >= NOTE_EVERY_S:
            self._noted[(status, authority)] = now
            log.warning("%s", why)
        return httpcore.ProxyError(why)

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: typing.Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        stream = await self.inner.connect_tcp(self.proxy.host, self.proxy.port, timeout=timeout,
                                              local_address=local_address, socket_options=socket_options)
        try:
            if self.proxy.scheme == "https":
                stream = await stream.start_tls(upstream_context(None), server_hostname=self.proxy.host,
                                                timeout=timeout)
            authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
            if self.proxy.authorization is not None:
                head += f"Proxy-Authorization: {self.proxy.authorization}\r\n"
            await stream.write((head + "\r\n").encode("latin-1"), timeout=timeout)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = await stream.read(4096, timeout=timeout)
                if not chunk or len(answer) > MAX_CONNECT_HEAD:
                    raise httpcore.ProxyError(f"the upstream proxy {self.proxy.host}:{self.proxy.port} closed the "
                                              f"connection on CONNECT {authority}: is it an HTTP proxy?")
                answer += chunk
            status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
            parts = status_line.split(" ", 2)
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            if not 200 <= status < 300:
                raise self._refused(status, authority)
        except BaseException:
            await stream.aclose()
            raise
        return stream

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets through an upstream proxy")  # never asked: URLs are TCP

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@dataclass(frozen=True)
class Target:
    """Where a relayed request was going before the relay took it."""

    scheme: str
    host: str
    port: int


class Upstream:
    """httpx clients for relayed requests, one per TLS setting and way out (direct or chained), and the route
    policy."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.routes: dict[str, tuple[str, int]] = {}
        self.cafile: str | None = None
        self.insecure = False
        self.strict = True
        self.proxy: UpstreamProxy | None = None
        self._transport = transport  # tests: an in-memory upstream
        self._clients: dict[tuple[Any, ...], httpx.AsyncClient] = {}

    def configure(self, *, routes: dict[str, tuple[str, int]] | None = None, cafile: str | None = None,
                  insecure: bool = False, strict: bool = True, proxy: UpstreamProxy | None = None) -> None:
        """New settings; clients made with the old ones are closed by `aclose` and not used again."""
        self.routes = dict(routes or {})
        self.cafile, self.insecure, self.strict = cafile, insecure, strict
        self.proxy = proxy

    def _client(self, proxy: UpstreamProxy | None) -> httpx.AsyncClient:
        key = (self.cafile, self.insecure, self.strict, proxy)
        client = self._clients.get(key)
        if client is None:
            if self.insecure:
                verify: Any = False
            else:
                verify = upstream_context(self.cafile, strict=self.strict)
            transport = self._transport
            if transport is None and proxy is not None:
                chained = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, http2=False)
                compat.set_pool(chained, httpcore.AsyncConnectionPool(
                    ssl_context=verify if verify is not False else httpx.create_ssl_context(verify=False),
                    http1=True, http2=False, network_backend=Tunnel(proxy)))
                transport = chained
            client = httpx.AsyncClient(verify=verify, trust_env=False, http2=False, transport=transport,
                                       timeout=httpx.Timeout(**TIMEOUTS), follow_redirects=False)
            self._clients[key] = client
        return client

    async def send(self, target: Target, method: str, path: str, headers: list[tuple[str, str]],
                   body: bytes) -> httpx.Response:
        """Send a request to `target` (routed, SNI and Host the real host's); the response streams."""
        default = 443 if target.scheme == "https" else 80
        authority = target.host if target.port == default else f"{target.host}:{target.port}"
        routed = self.routes.get(target.host.lower().rstrip("."))
        addr, port = routed or (target.host, target.port)
        chained = self.proxy if self.proxy and not self.proxy.goes_direct(target.host, target.port, routed) else None
        hostpart = f"[{addr}]" if ":" in addr else addr
        url = f"{target.scheme}://{hostpart}:{port}{path}"
        hdrs = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP] + [("host", authority)]
        client = self._client(chained)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = client.build_request(method, url, headers=hdrs, content=body, extensions=extensions)
        return await client.send(request, stream=True)

    async def aclose(self) -> None:
        for client in list(self._clients.values()):
            await client.aclose()
        self._clients.clear()
