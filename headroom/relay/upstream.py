"""The relay's upstream side: where a relayed request really goes, over which TLS, with which client.

The same trust and strictness as mitmproxy's own upstream connections (the CA bundle it verifies with,
ssl_insecure, HEADROOM_TLS_STRICT) and the same --route, so a request the relay sends is the request
mitmproxy would have sent. A direct request goes on asyncio's own streams with h11 and a small keep-alive
pool (`H1Pool`): every event of a relayed stream is read here, and httpx/httpcore/anyio's layers cost
about a third of the relay's time per event (benchmarks/proxy_cost.py, docs/benchmarks.md). The proxy's own HTTPS_PROXY never applies (it may point at the proxy itself): the
upstream proxy it chains to (core.proxychain, the same one mitmproxy's upstream mode uses) does, with the same
credentials and NO_PROXY. A chained request's connection is a CONNECT to that proxy naming the routed address,
then TLS naming the real host, exactly as mitmproxy's side does it.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import typing
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import h11
import httpcore
import httpx

from headroom import compat
from headroom.certs.trust import upstream_context
from headroom.core.proxychain import UpstreamProxy

__all__ = ["Decoder", "H1Pool", "HOP_BY_HOP", "MAX_CONNECT_HEAD", "TIMEOUTS", "Target", "Tunnel", "Upstream",
           "UpstreamResponse"]

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
# A long silent think is normal for an LLM (a non-streamed answer comes whole, minutes later), so a read may
# wait as long as mitmproxy lets a connection idle (10 min) and no longer; connecting takes seconds or fails.
TIMEOUTS = dict(connect=30.0, read=600.0, write=60.0, pool=30.0)
MAX_CONNECT_HEAD = 64 * 1024  # a proxy's answer to CONNECT is a few hundred bytes; more is not a proxy
KEEPALIVE_S = 5.0  # an idle upstream connection is reused this long (httpcore's default), then closed
MAX_IDLE = 20  # idle connections kept per address (httpx's default keep-alive limit)
READ_SIZE = 65536
MAX_HEAD = 100 * 1024  # a response head larger than this is refused (httpcore's limit, which the relay had)
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


class UpstreamResponse(Protocol):
    """What the relay reads of an upstream response: httpx.Response (chained requests, tests' transports)
    and H1Response (direct requests) both are one."""

    status_code: int

    @property
    def headers(self) -> httpx.Headers: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    async def aread(self) -> bytes: ...

    async def aclose(self) -> None: ...


class Decoder:
    """The response body decoded as it streams (content-encoding gzip, deflate, br, zstd, or several), as httpx
    decodes it: the relay passes bodies on decoded and drops the header."""

    def __init__(self, encoding: str) -> None:
        self.steps: list[Any] = []
        for name in reversed([v.strip().lower() for v in encoding.split(",") if v.strip()]):
            if name in ("gzip", "x-gzip"):
                self.steps.append(zlib.decompressobj(zlib.MAX_WBITS | 16))
            elif name == "deflate":
                self.steps.append(_Deflate())
            elif name == "br":
                import brotli

                self.steps.append(brotli.Decompressor())
            elif name == "zstd":
                import zstandard

                self.steps.append(zstandard.ZstdDecompressor().decompressobj())
            elif name != "identity":
                raise httpx.DecodingError(f"unknown content-encoding {name!r}")

    @classmethod
    def of(cls, encoding: str) -> Decoder | None:
        """A decoder for a content-encoding header's value, or None when the body is not encoded."""
        return cls(encoding) if encoding.strip().lower() not in ("", "identity") else None

    def __call__(self, data: bytes) -> bytes:
        try:
            for step in self.steps:
                data = step.process(data) if hasattr(step, "process") else step.decompress(data)
        except Exception as e:
            raise httpx.DecodingError(f"could not decode the upstream body: {e}") from e
        return data


class _Deflate:
    """deflate as sent: zlib-wrapped, or (some servers) raw."""

    def __init__(self) -> None:
        self.d: Any = None

    def decompress(self, data: bytes) -> bytes:
        if self.d is None:
            self.d = zlib.decompressobj()
            try:
                return bytes(self.d.decompress(data))
            except zlib.error:
                self.d = zlib.decompressobj(-zlib.MAX_WBITS)
        return bytes(self.d.decompress(data))


class _Conn:
    """One upstream connection: asyncio streams and the h11 state of its current exchange."""

    def __init__(self, key: tuple[Any, ...], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.key, self.reader, self.writer = key, reader, writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        return (now - self.idle_since < KEEPALIVE_S and not self.reader.at_eof() and not self.writer.is_closing()
                and self.h11.our_state is h11.IDLE)

    def close(self) -> None:
        self.writer.close()

    async def next_event(self) -> Any:
        """h11's next event, reading as it needs (each read bounded by TIMEOUTS["read"])."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            async with asyncio.timeout(TIMEOUTS["read"]):
                data = await self.reader.read(READ_SIZE)
            self.h11.receive_data(data)


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """Reading an upstream's answer on our own connection fails with the httpx errors the relay already maps to
    its 502/504 answers, as httpcore's reads did."""
    try:
        yield
    except TimeoutError as e:
        raise httpx.ReadTimeout("the upstream did not answer in time") from e
    except h11.RemoteProtocolError as e:
        raise httpx.RemoteProtocolError(str(e)) from e
    except (ConnectionError, OSError) as e:
        raise httpx.ReadError(str(e) or type(e).__name__) from e


class H1Response:
    """A streamed upstream response read straight off its connection, which goes back to the pool once the
    body has been read to its end (closed instead if the response is left unread: a client that went away)."""

    def __init__(self, pool: H1Pool, conn: _Conn, head: h11.Response) -> None:
        self.status_code = head.status_code
        self.headers = httpx.Headers([(k, v) for k, v in head.headers])
        self._pool = pool
        self._conn: _Conn | None = conn
        encoding = self.headers.get("content-encoding", "")
        self._decode = Decoder.of(encoding)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives: what one read of the socket gave, in one piece (not one per chunk)."""
        conn = self._conn
        if conn is None:
            return
        chunks: list[bytes] = []
        with _reading():
            while True:
                event = conn.h11.next_event()
                if event is h11.NEED_DATA:
                    if chunks:
                        data = b"".join(chunks)
                        chunks.clear()
                        yield self._decode(data) if self._decode is not None else data
                    async with asyncio.timeout(TIMEOUTS["read"]):
                        raw = await conn.reader.read(READ_SIZE)
                    conn.h11.receive_data(raw)
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    data = b"".join(chunks)
                    if self._decode is not None:
                        data = self._decode(data)
                    self._finish()
                    if data:
                        yield data
                    return
                else:
                    raise httpx.RemoteProtocolError(f"upstream closed the connection mid-body ({type(event).__name__})")

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            self._pool.release(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:  # not read to its end: the connection's state is unknown, it is not reused
            conn.close()


class H1Pool:
    """Direct upstream connections, HTTP/1.1 on asyncio streams, kept alive per (scheme, address, port, SNI,
    TLS context) for reuse."""

    def __init__(self) -> None:
        self._idle: dict[tuple[Any, ...], list[_Conn]] = {}

    async def _connect(self, key: tuple[Any, ...], ctx: ssl.SSLContext | None, addr: str, port: int,
                       sni: str) -> _Conn:
        try:
            async with asyncio.timeout(TIMEOUTS["connect"]):
                if ctx is None:
                    reader, writer = await asyncio.open_connection(addr, port, limit=READ_SIZE * 4)
                else:
                    reader, writer = await asyncio.open_connection(addr, port, ssl=ctx, server_hostname=sni,
                                                                   limit=READ_SIZE * 4)
        except TimeoutError as e:
            raise httpx.ConnectTimeout(f"no connection to {addr}:{port} within {TIMEOUTS['connect']:g} s") from e
        except (OSError, ssl.SSLError) as e:
            raise httpx.ConnectError(str(e) or type(e).__name__) from e
        return _Conn(key, reader, writer)

    def _take(self, key: tuple[Any, ...]) -> _Conn | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        now = time.monotonic()
        while idle and not idle[0].usable(now):  # the oldest first: expired ones are closed, not left open
            idle.pop(0).close()
        while idle:
            conn = idle.pop()  # the newest: the least likely to have been closed by the server
            if conn.usable(now):
                return conn
            conn.close()
        return None

    def release(self, conn: _Conn) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE or conn.reader.at_eof():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def send(self, ctx: ssl.SSLContext | None, addr: str, port: int, sni: str, method: str, target: str,
                   headers: list[tuple[str, str]], body: bytes) -> H1Response:
        key = (ctx is not None, addr, port, sni, id(ctx))
        conn = self._take(key) or await self._connect(key, ctx, addr, port, sni)
        try:
            return await self._exchange(conn, method, target, headers, body)
        except BaseException:
            conn.close()
            raise

    async def _exchange(self, conn: _Conn, method: str, target: str, headers: list[tuple[str, str]],
                        body: bytes) -> H1Response:
        h = conn.h11
        try:
            parts = [h.send(h11.Request(method=method, target=target,
                                        headers=headers + [("content-length", str(len(body)))]))]
            if body:
                parts.append(h.send(h11.Data(data=body)))
            parts.append(h.send(h11.EndOfMessage()))
            conn.writer.write(b"".join(p for p in parts if p))
            async with asyncio.timeout(TIMEOUTS["write"]):
                await conn.writer.drain()
        except TimeoutError as e:
            raise httpx.WriteTimeout("the upstream did not take the request in time") from e
        except (ConnectionError, OSError) as e:
            raise httpx.WriteError(str(e) or type(e).__name__) from e
        with _reading():
            while True:
                event = await conn.next_event()
                if isinstance(event, h11.InformationalResponse):
                    continue  # 100 Continue and the like: the answer follows
                if isinstance(event, h11.Response):
                    return H1Response(self, conn, event)
                raise httpx.RemoteProtocolError("the upstream closed the connection without an answer")

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


@dataclass(frozen=True)
class Target:
    """Where a relayed request was going before the relay took it."""

    scheme: str
    host: str
    port: int


class Upstream:
    """Where relayed requests go out: direct ones on the H1Pool, chained ones (and tests' in-memory transports)
    on httpx clients, one per TLS setting and way out; and the route policy."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.routes: dict[str, tuple[str, int]] = {}
        self.cafile: str | None = None
        self.insecure = False
        self.strict = True
        self.proxy: UpstreamProxy | None = None
        self._transport = transport  # tests: an in-memory upstream
        self._clients: dict[tuple[Any, ...], httpx.AsyncClient] = {}
        self._contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
        self._pool = H1Pool()

    def configure(self, *, routes: dict[str, tuple[str, int]] | None = None, cafile: str | None = None,
                  insecure: bool = False, strict: bool = True, proxy: UpstreamProxy | None = None) -> None:
        """New settings; clients made with the old ones are closed by `aclose` and not used again, idle direct
        connections (made with the old trust) at once."""
        self._pool.close()
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

    def _context(self) -> ssl.SSLContext:
        key = (self.cafile, self.insecure, self.strict)
        ctx = self._contexts.get(key)
        if ctx is None:
            if self.insecure:
                ctx = httpx.create_ssl_context(verify=False)
            else:
                ctx = upstream_context(self.cafile, strict=self.strict)
            self._contexts[key] = ctx
        return ctx

    async def send(self, target: Target, method: str, path: str, headers: list[tuple[str, str]],
                   body: bytes) -> UpstreamResponse:
        """Send a request to `target` (routed, SNI and Host the real host's); the response streams."""
        default = 443 if target.scheme == "https" else 80
        authority = target.host if target.port == default else f"{target.host}:{target.port}"
        routed = self.routes.get(target.host.lower().rstrip("."))
        addr, port = routed or (target.host, target.port)
        chained = self.proxy if self.proxy and not self.proxy.goes_direct(target.host, target.port, routed) else None
        hdrs = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP] + [("host", authority)]
        if chained is None and self._transport is None:
            ctx = self._context() if target.scheme == "https" else None
            return await self._pool.send(ctx, addr, port, target.host, method, path, hdrs, body)
        hostpart = f"[{addr}]" if ":" in addr else addr
        url = f"{target.scheme}://{hostpart}:{port}{path}"
        client = self._client(chained)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = client.build_request(method, url, headers=hdrs, content=body, extensions=extensions)
        return await client.send(request, stream=True)

    async def aclose(self) -> None:
        self._pool.close()
        for client in list(self._clients.values()):
            await client.aclose()
        self._clients.clear()
