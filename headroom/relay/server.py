"""The retrieval loop (`Relay.rounds`) and the relay's loopback server, which runs it for a request sent there.

`rounds` executes what the retrieval driver (core.retrieval.driver) says after an upstream body: stream
events on to the client, answer calls from the store, send continuations upstream, keep the hidden exchange
for later turns. Its callers carry the answer to the client: the Retrieve addon on mitmproxy's own
connection (a JSON answer in the response hook, `answer_buffered`; a stream through the stream-more hook,
compat.enable_stream_append), and the loopback HTTP/1.1 server (h11) here, which mitmproxy hands a relayed
request to where its stream layer cannot be extended: it takes the job the addon registered for the
request, sends the request upstream itself and writes the answer to its own connection.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence

import h11
import httpx

from headroom.core.retrieval import answer_call
from headroom.core.retrieval.driver import (Action, AnswerCalls, ContinueUpstream, Done, Response, Retrieval,
                                            SendToClient)
from headroom.core.retrieval.tool import Call
from headroom.relay.upstream import HOP_BY_HOP, TIMEOUTS, Target, Upstream, UpstreamResponse

__all__ = ["Job", "RELAY_PREFIX", "RESPONSE_DROP", "Relay"]

log = logging.getLogger("headroom.retrieve")

RELAY_PREFIX = "/__headroom_relay/"  # the job id rides in the path: Encode strips x-headroom-* headers
MAX_PENDING_JOBS = 10_000  # jobs the relay never picked up (client gone first) are dropped oldest-first
# Upstream bodies are decoded by the relay and passed on decoded, so their encoding headers go too.
RESPONSE_DROP = HOP_BY_HOP | {"content-encoding"}


@dataclass
class Job:
    """One relayed request: where it really goes, the body as sent, and what the exchange needs."""

    provider: str
    target: Target
    body: dict[str, Any]
    prev_fp: str  # the anchor of a hidden exchange in this request's answer (see core.retrieval.splice)
    # Whose drops it may retrieve (core.retrieval.scope): the keys its own compression made, and any stored
    # under its credential's scope.
    scope: str = ""
    own_keys: frozenset[str] = frozenset()
    # Told about every round of calls answered (the flow's retrieval counts, for Stats).
    on_answer: Callable[[list[Call]], None] | None = None
    retrievals: int = 0
    path: str = ""
    continuations: list[Any] = field(default_factory=list)  # open upstream responses, closed at the end


async def _fed(driver: Retrieval, resp: UpstreamResponse) -> AsyncIterator[bytes]:
    """One upstream body fed to the driver: what it lets through, as it comes (the caller then ends the body)."""
    async for chunk in resp.aiter_bytes():
        for action in driver.receive_data(chunk):
            if isinstance(action, SendToClient):  # all a body's data gives (one per chunk read)
                yield action.data


def _response_headers(resp: UpstreamResponse) -> list[tuple[str, str]]:
    return [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in RESPONSE_DROP]


class Relay:
    """The loopback server, its table of pending jobs, and the loop that runs each one's driver."""

    def __init__(self, store: Any, upstream: Upstream) -> None:
        self.store = store  # get(key), put_exchanges({fp: record}), ttl_seconds
        self.upstream = upstream
        self.jobs: dict[str, Job] = {}
        self.port: int | None = None
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> int:
        self._server = await asyncio.start_server(self._serve, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.upstream.aclose()

    def add(self, job: Job) -> str:
        """Register a job; the request that carries the returned id in its path runs it once."""
        job_id = secrets.token_hex(16)
        if len(self.jobs) >= MAX_PENDING_JOBS:
            self.jobs.pop(next(iter(self.jobs)))
        self.jobs[job_id] = job
        return job_id

    def drop(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    # --- HTTP/1.1 towards mitmproxy -------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                req, body = await self._read_request(conn, reader)
                if req is None:
                    return
                keep = await self._handle_watched(conn, reader, writer, req, body)
                if keep is None:
                    return  # the client went away: its upstream request is closed, nothing more is sent
                if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return  # mitmproxy (so the client) went away: nothing to answer
        except Exception as e:  # an upstream that stalls or breaks mid-answer: the client sees it end
            log.warning("retrieval relay: %s: %s", type(e).__name__, e)
        finally:
            writer.close()

    async def _handle_watched(self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              req: h11.Request, body: bytes) -> bool | None:
        """`_handle`, cancelled the moment the client's side closes (None then). mitmproxy closes this
        connection when its client goes (Esc in an agent, a timeout); without watching for it, the upstream
        request ran to its end, and a retrieve call in its answer started a second, billed round for nobody,
        since nothing is written to the client while the model thinks."""
        handle = asyncio.ensure_future(self._handle(conn, writer, req, body))
        watch = asyncio.ensure_future(reader.read(65536))
        try:
            await asyncio.wait({handle, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not handle.done():
                data = watch.result()
                if not data:
                    handle.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await handle
                    return None
                conn.receive_data(data)  # the next request, early: h11 keeps it for the next cycle
            keep = await handle
        finally:
            handle.cancel()
            # The watch must be over before the connection's next read: a cancelled read still waiting on
            # the stream makes that read fail, and the connection would close after every request.
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        if watch.cancelled() or watch.exception() is not None:
            return keep
        data = watch.result()  # it read before it was cancelled: the next request early, or the client gone
        if not data:
            return False
        conn.receive_data(data)  # h11 keeps it for the next cycle
        return keep

    @staticmethod
    async def _read_request(conn: h11.Connection,
                            reader: asyncio.StreamReader) -> tuple[h11.Request | None, bytes]:
        req: h11.Request | None = None
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and req is None:
                    return None, b""
                continue
            if isinstance(event, h11.Request):
                req = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return req, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                return None, b""

    @staticmethod
    async def _send(conn: h11.Connection, writer: asyncio.StreamWriter, event: h11.Event) -> None:
        data = conn.send(event)
        if data:
            writer.write(data)
            await writer.drain()

    async def _respond(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int,
                       headers: Iterable[tuple[str, str]], body: bytes) -> bool:
        await self._send(conn, writer, h11.Response(status_code=status, headers=list(headers)))
        await self._send(conn, writer, h11.Data(data=body))
        await self._send(conn, writer, h11.EndOfMessage())
        return True

    async def _refuse(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, kind: str, message: str) -> bool:
        body = json.dumps({"error": {"type": kind, "message": message}}).encode()
        return await self._respond(conn, writer, status, [("content-type", "application/json"),
                                                          ("content-length", str(len(body)))], body)

    async def _handle(self, conn: h11.Connection, writer: asyncio.StreamWriter, req: h11.Request,
                      body: bytes) -> bool:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in req.headers]
        target = req.target.decode("latin-1")
        job_id, _, rest = target[len(RELAY_PREFIX):].partition("/") if target.startswith(RELAY_PREFIX) else ("", "", "")
        job = self.jobs.pop(job_id, None) if job_id else None
        if job is None:
            return await self._refuse(conn, writer, 421, "headroom_error", "headroom relay: unknown or expired request")
        method, job.path = req.method.decode(), "/" + rest
        try:
            resp = await self.upstream.send(job.target, method, job.path, headers, body)
        except httpx.TimeoutException as e:  # bounded: a silent upstream never holds the client past these
            phase = "accept a connection" if isinstance(e, httpx.ConnectTimeout) else "answer"
            limit = TIMEOUTS["connect"] if isinstance(e, httpx.ConnectTimeout) else TIMEOUTS["read"]
            return await self._refuse(conn, writer, 504, "headroom_upstream_timeout",
                                      f"headroom: {job.target.host} did not {phase} within {limit:g} s")
        except httpx.HTTPError as e:
            return await self._refuse(conn, writer, 502, "headroom_upstream_error",
                                      f"headroom: could not reach {job.target.host}: {e or type(e).__name__}")
        job.continuations.append(resp)
        try:
            ctype = resp.headers.get("content-type", "")
            out_headers = _response_headers(resp)
            if resp.status_code != 200 or not ("event-stream" in ctype or "json" in ctype):
                await self._send(conn, writer, h11.Response(status_code=resp.status_code, headers=out_headers))
                async for chunk in resp.aiter_bytes():
                    await self._send(conn, writer, h11.Data(data=chunk))
                await self._send(conn, writer, h11.EndOfMessage())
                return True
            stream = "event-stream" in ctype
            driver = Retrieval(job.provider, job.body, job.prev_fp, host=job.target.host, stream=stream,
                               headers=out_headers)
            if stream:
                await self._send(conn, writer, h11.Response(status_code=200, headers=out_headers))
            await self._run(conn, writer, job, driver, resp, headers)
            if stream:
                await self._send(conn, writer, h11.EndOfMessage())
            return True
        finally:
            for r in job.continuations:
                await r.aclose()

    # --- a JSON answer mitmproxy buffered itself ---------------------------------------------------------

    async def answer_buffered(self, job: Job, headers: list[tuple[str, str]], response_headers: list[tuple[str, str]],
                              body: bytes, wanted: Callable[[], bool] = lambda: True) -> Response | None:
        """The rounds of a JSON answer that went upstream on mitmproxy's own connection (a request that does not
        stream never comes through the relay: its whole answer arrives before the client is sent anything, so
        mitmproxy's response hook can answer it). `body` is the first answer, decoded. Returns the whole answer
        for the client, or None when the driver left it as it was (no call of ours, no echo of our tool to
        take out: it goes on byte for byte) or the client has gone (`wanted()` false: no continuation is
        sent for nobody)."""
        driver = Retrieval(job.provider, job.body, job.prev_fp, host=job.target.host, stream=False,
                           headers=response_headers)
        final: Response | None = None
        try:
            async for item in self.rounds(job, driver, driver.receive_data(body) + driver.end_of_body(), None,
                                          headers, wanted):
                if isinstance(item, Response):
                    final = item
        finally:
            for r in job.continuations:
                await r.aclose()
        if final is None or (job.retrievals == 0 and final.status == 200 and final.body == body):
            return None
        return final

    # --- the one retrieval loop: do what the driver says ----------------------------------------------

    async def _run(self, conn: h11.Connection, writer: asyncio.StreamWriter, job: Job, driver: Retrieval,
                   resp: UpstreamResponse, headers: list[tuple[str, str]]) -> None:
        actions = await self._body(conn, writer, driver, resp)
        async for item in self.rounds(job, driver, actions, resp, headers):
            if isinstance(item, Response):
                await self._respond(conn, writer, item.status, item.headers, item.body)
            else:
                await self._send(conn, writer, h11.Data(data=item))

    async def rounds(self, job: Job, driver: Retrieval, actions: list[Action], resp: UpstreamResponse | None,
                     headers: list[tuple[str, str]],
                     wanted: Callable[[], bool] = lambda: True) -> AsyncGenerator[bytes | Response, None]:
        """Do what the driver says, from `actions` (what the first upstream body left) on, whoever carries the
        answer to the client: yields, as they come, the data to stream on (bytes) and a JSON answer's whole
        Response. `resp` is the upstream response in hand (closed before a continuation goes); no continuation
        is sent once `wanted()` is false (the client has gone: no second, billed round for nobody). The
        caller closes `job.continuations` at the end."""
        while actions:
            action = actions.pop(0)
            if isinstance(action, SendToClient):
                yield action.data
            elif isinstance(action, AnswerCalls):
                actions += driver.answered(await self._answer(job, action.calls))
            elif isinstance(action, ContinueUpstream):
                if resp is not None:
                    await resp.aclose()
                if not wanted():
                    return
                cont, more = await self._continue(job, driver, action, headers)
                actions += more
                if cont is not None:
                    resp = cont
                    if driver.stream and not driver.done:
                        async for data in _fed(driver, resp):
                            yield data
                        actions += driver.end_of_body()
            elif isinstance(action, Done):
                if action.record is not None:  # kept before the client has the answer: its next turn finds it
                    await asyncio.to_thread(self._keep, action.record)
                if action.response is not None:
                    yield action.response

    async def _body(self, conn: h11.Connection, writer: asyncio.StreamWriter, driver: Retrieval, resp: UpstreamResponse) -> list[Action]:
        """Feed one upstream body to the driver; what it lets through goes to the client at once."""
        async for data in _fed(driver, resp):
            await self._send(conn, writer, h11.Data(data=data))
        return driver.end_of_body()

    async def _continue(self, job: Job, driver: Retrieval, action: ContinueUpstream,
                        headers: list[tuple[str, str]]) -> tuple[UpstreamResponse | None, list[Action]]:
        # The continuation body is plain JSON whatever the client's request encoding was.
        plain = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
        # A stream that cannot continue tells its client in the stream, whatever broke; a JSON answer
        # reports a failed upstream exchange as a 502.
        failures = Exception if driver.stream else httpx.HTTPError
        try:
            resp = await self.upstream.send(job.target, "POST", job.path, plain, action.data)
            job.continuations.append(resp)
            if driver.stream and resp.status_code == 200:
                return resp, driver.continuation_response(200, _response_headers(resp))
            raw = await resp.aread()
        except failures as e:
            return None, driver.continuation_failed(str(e))
        return resp, driver.continuation_response(resp.status_code, _response_headers(resp), raw)

    async def _answer(self, job: Job, calls: Sequence[Call]) -> dict[str, str]:
        def lookup() -> dict[str, str]:
            def get(key: str) -> str | None:
                found: str | None = (self.store.get(key) if key in job.own_keys
                                     else self.store.get(key, scope=job.scope))
                return found

            return {c.call_id: answer_call(c.arguments, get, self.store.ttl_seconds) for c in calls}

        results = await asyncio.to_thread(lookup)
        job.retrievals += len(calls)
        if job.on_answer is not None:
            job.on_answer(list(calls))
        return results

    def _keep(self, record: tuple[str, str]) -> None:
        try:
            self.store.put_exchanges({record[0]: record[1]})
        except Exception as e:
            from headroom.storage import disk_full

            if disk_full(e):
                log.warning("could not keep a retrieval exchange for later turns: the disk of %s is full",
                            getattr(self.store, "path", "the store"))
            else:
                log.warning("could not keep a retrieval exchange for later turns: %s", e)
