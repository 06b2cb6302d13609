"""The relay's direct upstream leg (H1Pool: asyncio streams + h11) against a real loopback HTTP/1.1 server:
connections kept alive and reused, an encoded stream decoded as it arrives (not buffered), a response left
unread (a client that went away) closing its connection instead of going back to the pool."""
from __future__ import annotations

import asyncio
import zlib

import httpx
import pytest

from headroom.relay.upstream import Target, Upstream

HOST = "api.openai.com"
EOF, CLOSE = object(), object()
WAIT = 10  # seconds: every wait below is bounded by it


class Server:
    """A loopback HTTP/1.1 server answering each request with the chunks `script` gives, one write each; a
    chunk that is an asyncio.Event is waited for (bounded) before going on; EOF waits for the client to close
    (`closed` is set then); CLOSE closes the connection. Counts its connections."""

    def __init__(self, script):
        self.script = script
        self.connections = 0
        self.closed = asyncio.Event()  # a connection's client closed it
        self.requests: list[bytes] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader, writer):
        self.connections += 1
        try:
            for _ in range(10):  # bounded: a few requests per connection
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.closed.set()
                    return
                length = next((int(v) for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n"))
                               if k.strip().lower() == b"content-length"), 0)
                self.requests.append(head + await reader.readexactly(length))
                for part in self.script():
                    if part is EOF:
                        if not await asyncio.wait_for(reader.read(100), WAIT):
                            self.closed.set()
                        return
                    if part is CLOSE:
                        return
                    if isinstance(part, asyncio.Event):
                        await asyncio.wait_for(part.wait(), WAIT)
                    else:
                        writer.write(part)
                        await writer.drain()
        finally:
            writer.close()

    def close(self):
        self.server.close()


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n")
EVENTS = [b'data: {"n": %d}\n\n' % i for i in range(3)]


def _upstream(port: int) -> Upstream:
    up = Upstream()
    up.configure(routes={HOST: ("127.0.0.1", port)})
    return up


def test_requests_one_after_another_share_one_upstream_connection():
    def script():
        return [HEAD + b"\r\n", *(chunked(e) for e in EVENTS), b"0\r\n\r\n"]

    async def go():
        server = Server(script)
        up = _upstream(await server.start())
        bodies = []
        try:
            for _ in range(3):
                resp = await asyncio.wait_for(up.send(Target("http", HOST, 80), "POST", "/v1/chat/completions",
                                                      [("authorization", "Bearer k")], b'{"stream": true}'), WAIT)
                bodies.append(await asyncio.wait_for(resp.aread(), WAIT))
                await resp.aclose()
        finally:
            await up.aclose()
            server.close()
        return server, bodies

    server, bodies = asyncio.run(go())
    assert bodies == [b"".join(EVENTS)] * 3
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"\r\nhost: api.openai.com\r\n" in first.lower() and first.endswith(b'\r\n\r\n{"stream": true}')


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", None),
    ("deflate", zlib.compressobj),
])
def test_an_encoded_stream_is_decoded_as_it_arrives(encoding, compress):
    """The first event reaches the reader before the server has sent the second: decoded, not buffered."""
    go_on = asyncio.Event()

    def script():
        c = zlib.compressobj(wbits=zlib.MAX_WBITS | 16) if encoding == "gzip" else compress()
        one = c.compress(EVENTS[0]) + c.flush(zlib.Z_SYNC_FLUSH)
        rest = c.compress(b"".join(EVENTS[1:])) + c.flush()
        return [HEAD + f"content-encoding: {encoding}\r\n\r\n".encode(), chunked(one), go_on, chunked(rest),
                b"0\r\n\r\n"]

    async def go():
        server = Server(script)
        up = _upstream(await server.start())
        try:
            resp = await asyncio.wait_for(up.send(Target("http", HOST, 80), "POST", "/v1/x", [], b"{}"), WAIT)
            pieces = []
            it = resp.aiter_bytes()
            pieces.append(await asyncio.wait_for(it.__anext__(), WAIT))  # before the server goes on
            go_on.set()
            async for piece in it:
                pieces.append(piece)
            await resp.aclose()
        finally:
            await up.aclose()
            server.close()
        return pieces

    pieces = asyncio.run(go())
    assert pieces[0] == EVENTS[0] and b"".join(pieces) == b"".join(EVENTS)


def test_a_response_left_unread_closes_its_connection_and_is_not_reused():
    """A client that went away leaves its upstream response unread: that connection closes at once (the
    upstream stops generating for nobody), and the next request opens a new one."""
    def script():
        return [HEAD + b"\r\n", chunked(EVENTS[0]), EOF]

    async def go():
        server = Server(script)
        up = _upstream(await server.start())
        try:
            resp = await asyncio.wait_for(up.send(Target("http", HOST, 80), "POST", "/v1/x", [], b"{}"), WAIT)
            first = await asyncio.wait_for(resp.aiter_bytes().__anext__(), WAIT)
            await resp.aclose()
            await asyncio.wait_for(server.closed.wait(), WAIT)
            resp2 = await asyncio.wait_for(up.send(Target("http", HOST, 80), "POST", "/v1/x", [], b"{}"), WAIT)
            await resp2.aclose()
        finally:
            await up.aclose()
            server.close()
        return first, server.connections

    first, connections = asyncio.run(go())
    assert first == EVENTS[0] and connections == 2


def test_an_upstream_that_closes_mid_body_is_an_error_not_a_short_answer():
    def script():
        return [HEAD + b"\r\n", chunked(EVENTS[0]), CLOSE]  # no final chunk

    async def go():
        server = Server(script)
        up = _upstream(await server.start())
        try:
            resp = await asyncio.wait_for(up.send(Target("http", HOST, 80), "POST", "/v1/x", [], b"{}"), WAIT)
            with pytest.raises(httpx.HTTPError):
                await asyncio.wait_for(resp.aread(), WAIT)
            await resp.aclose()
        finally:
            await up.aclose()
            server.close()

    asyncio.run(go())


def test_an_idle_connection_past_its_keepalive_is_closed_not_left_open_under_newer_ones():
    """The pool hands out its newest idle connection; an older one past KEEPALIVE_S is closed when the pool is
    next used, not left open under the newer ones for as long as they keep coming."""
    from headroom.relay.upstream import KEEPALIVE_S

    def script():
        return [HEAD + b"\r\n", chunked(EVENTS[0]), b"0\r\n\r\n"]

    async def go():
        server = Server(script)
        up = _upstream(await server.start())
        try:
            async def one():
                resp = await asyncio.wait_for(up.send(Target("http", HOST, 80), "POST", "/v1/x", [], b"{}"), WAIT)
                return resp, await asyncio.wait_for(resp.aread(), WAIT)
            both = await asyncio.gather(one(), one())  # at once: two connections, both back in the pool
            assert [body for _, body in both] == [EVENTS[0]] * 2 and server.connections == 2
            (idle,) = up._pool._idle.values()
            idle[0].idle_since -= KEEPALIVE_S + 1
            await one()
            await asyncio.wait_for(server.closed.wait(), WAIT)  # the old one, closed
            left = len(idle)
        finally:
            await up.aclose()
            server.close()
        return server.connections, left

    assert asyncio.run(go()) == (2, 1)
