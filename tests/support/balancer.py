"""A small real TCP load balancer on loopback, for the team topology tests (what haproxy does in deploy/).

    with Balancer([a.port, b.port]) as lb:   # listening on 127.0.0.1:lb.port
        httpx.Client(proxy=lb.url, ...)      # clients talk to the balancer only

Round-robin per connection over the backends, like haproxy's `mode tcp` + `balance roundrobin`: each new
client connection goes to the next backend that is up, and its bytes are spliced both ways unchanged (the proxy
terminates TLS itself, so the balancer must not). A backend is skipped when its connect fails or when its last
health check (`GET /readyz` every CHECK_INTERVAL_S, as `option httpchk GET /readyz`) was not 200. When a backend
closes or dies, the client's connection is closed too: a client never hangs on a dead replica.

Bounded: connects and checks time out, the connection count is capped, and everything stops with the context.
`served` counts the connections each backend was given (index = position in `ports`).
"""
from __future__ import annotations

import asyncio
import threading
from typing import Iterable

__all__ = ["Balancer"]

CONNECT_TIMEOUT_S = 2.0
CHECK_INTERVAL_S = 0.1
CHECK_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 256
START_TIMEOUT_S = 10.0
_CHUNK = 65536


class Balancer:
    def __init__(self, ports: Iterable[int], host: str = "127.0.0.1") -> None:
        self.ports = list(ports)
        self.host = host
        self.port = 0
        self.up = [True] * len(self.ports)  # the last health check's verdict for each backend
        self.served = [0] * len(self.ports)
        self.refused = 0  # client connections no backend would take
        self._next = 0
        self._open: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="balancer", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def proxy_url(self, user: str, token: str) -> str:
        return f"http://{user}:{token}@{self.host}:{self.port}"

    # --- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> Balancer:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or not self.port:
            raise RuntimeError("the balancer did not start")
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(START_TIMEOUT_S)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        await self._check_all()  # the first verdicts before any client arrives
        checker = asyncio.create_task(self._checks())
        self._ready.set()
        await self._stopped.wait()
        checker.cancel()
        self._server.close()
        for t in list(self._open):
            t.cancel()
        await asyncio.gather(checker, *self._open, return_exceptions=True)

    # --- health checks --------------------------------------------------------------------------------

    async def _ready_status(self, port: int) -> int:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(self.host, port), CHECK_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError):
            return 0
        try:
            w.write(f"GET /readyz HTTP/1.1\r\nHost: {self.host}:{port}\r\nConnection: close\r\n\r\n".encode())
            await w.drain()
            line = await asyncio.wait_for(r.readline(), CHECK_TIMEOUT_S)
            parts = line.split()
            return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
        except (OSError, asyncio.TimeoutError, ValueError):
            return 0
        finally:
            w.close()

    async def _check_all(self) -> None:
        codes = await asyncio.gather(*(self._ready_status(p) for p in self.ports))
        self.up = [c == 200 for c in codes]

    async def _checks(self) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            await self._check_all()

    # --- connections ----------------------------------------------------------------------------------

    async def _backend(self) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next backend that is up and accepts a connection, round-robin; None when none does."""
        n = len(self.ports)
        start = self._next
        self._next = (self._next + 1) % n
        for i in range(n):
            idx = (start + i) % n
            if not self.up[idx]:
                continue
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(self.host, self.ports[idx]), CONNECT_TIMEOUT_S)
            except (OSError, asyncio.TimeoutError):
                self.up[idx] = False  # until its next health check says otherwise
                continue
            return idx, r, w
        return None

    async def _accept(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            await self._serve(cr, cw)
        except asyncio.CancelledError:  # the balancer stops: its connections end with it
            pass

    async def _serve(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._open) >= MAX_CONNECTIONS:
            cw.close()
            return
        assert task is not None
        self._open.add(task)
        try:
            picked = await self._backend()
            if picked is None:
                self.refused += 1
                return
            idx, br, bw = picked
            self.served[idx] += 1
            try:
                # Either side ending ends both: a replica that dies closes its client's connection.
                pumps = [asyncio.create_task(self._pipe(cr, bw)), asyncio.create_task(self._pipe(br, cw))]
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                for p in pumps:
                    p.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
            finally:
                bw.close()
        finally:
            cw.close()
            self._open.discard(task)

    @staticmethod
    async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(_CHUNK):
                w.write(data)
                await w.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
