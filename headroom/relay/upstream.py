"""The relay's upstream side: where a relayed request really goes, over which TLS, with which client.

The same trust and strictness as mitmproxy's own upstream connections (the CA bundle it verifies with,
ssl_insecure, HEADROOM_TLS_STRICT) and the same --route, so a request the relay sends is the request
mitmproxy would have sent. The proxy's own HTTPS_PROXY never applies (it may point at the proxy itself).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from headroom.certs.trust import upstream_context

__all__ = ["HOP_BY_HOP", "TIMEOUTS", "Target", "Upstream"]

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
# A long silent think is normal for an LLM (a non-streamed answer comes whole, minutes later), so a read may
# wait as long as mitmproxy lets a connection idle (10 min) and no longer; connecting takes seconds or fails.
TIMEOUTS = dict(connect=30.0, read=600.0, write=60.0, pool=30.0)


@dataclass(frozen=True)
class Target:
    """Where a relayed request was going before the relay took it."""

    scheme: str
    host: str
    port: int


class Upstream:
    """httpx clients for relayed requests, one per TLS setting, and the route policy."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.routes: dict[str, tuple[str, int]] = {}
        self.cafile: str | None = None
        self.insecure = False
        self.strict = True
        self._transport = transport  # tests: an in-memory upstream
        self._clients: dict[tuple[Any, ...], httpx.AsyncClient] = {}

    def configure(self, *, routes: dict[str, tuple[str, int]] | None = None, cafile: str | None = None,
                  insecure: bool = False, strict: bool = True) -> None:
        """New settings; clients made with the old ones are closed by `aclose` and not used again."""
        self.routes = dict(routes or {})
        self.cafile, self.insecure, self.strict = cafile, insecure, strict

    def _client(self) -> httpx.AsyncClient:
        key = (self.cafile, self.insecure, self.strict)
        client = self._clients.get(key)
        if client is None:
            if self.insecure:
                verify: Any = False
            else:
                verify = upstream_context(self.cafile, strict=self.strict)
            client = httpx.AsyncClient(verify=verify, trust_env=False, http2=False, transport=self._transport,
                                       timeout=httpx.Timeout(**TIMEOUTS), follow_redirects=False)
            self._clients[key] = client
        return client

    async def send(self, target: Target, method: str, path: str, headers: list[tuple[str, str]],
                   body: bytes) -> httpx.Response:
        """Send a request to `target` (routed, SNI and Host the real host's); the response streams."""
        default = 443 if target.scheme == "https" else 80
        authority = target.host if target.port == default else f"{target.host}:{target.port}"
        addr, port = self.routes.get(target.host.lower().rstrip("."), (target.host, target.port))
        hostpart = f"[{addr}]" if ":" in addr else addr
        url = f"{target.scheme}://{hostpart}:{port}{path}"
        hdrs = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP] + [("host", authority)]
        client = self._client()
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = client.build_request(method, url, headers=hdrs, content=body, extensions=extensions)
        return await client.send(request, stream=True)

    async def aclose(self) -> None:
        for client in list(self._clients.values()):
            await client.aclose()
        self._clients.clear()
