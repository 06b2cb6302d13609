"""Retrieve: add the headroom_retrieve tool to requests with markers, and answer the model's calls itself.

Request side (after Intercept, before Encode): when the compressed body carries at least one marker whose
key the store issued, put back the hidden retrieval exchanges of earlier turns (so the provider sees the
history it saw before) and append the tool after the client's tools.

Response side: mitmproxy calls `flow.response.stream` synchronously and runs the `response` hook only
after a streamed body has gone to the client, so neither can wait for a second upstream round trip. So a
request that carries the injected tool is pointed at a small loopback relay this addon runs in
mitmproxy's own event loop. The relay sends the request upstream itself (same bytes, same TLS trust, same
--route), passes events on as they arrive, holds back only the retrieve call's own events, answers it from
the store, sends the continuation upstream and streams that on as the same response. Requests without
markers never touch the relay: they stay on mitmproxy's normal path.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import ssl
from dataclasses import dataclass, field
from typing import Any

from headroom.addon.state import state_of
from headroom.certs.trust import tls_strict_enabled
from headroom.core import retrieval
from headroom.core.markers import RETRIEVE_TOOL_NAME, find_markers
from headroom.core.providers import get_provider
from headroom.core.retrieval.sse import SSEParser
from headroom.core.retrieval.tool import parse_arguments

__all__ = ["Retrieve", "RELAY_PREFIX"]

log = logging.getLogger("headroom.retrieve")

RELAY_PREFIX = "/__headroom_relay/"  # the job id rides in the path: Encode strips x-headroom-* headers
_META = "headroom_relay"
_OFF = ("0", "false", "no", "off")
MAX_PENDING_JOBS = 10_000  # jobs the relay never picked up (client gone first) are dropped oldest-first
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
               "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
# Upstream bodies are decoded by the relay and passed on decoded, so their encoding headers go too.
_RESPONSE_DROP = _HOP_BY_HOP | {"content-encoding"}
_TIMEOUTS = dict(connect=30.0, read=600.0, write=60.0, pool=30.0)  # a long silent think is normal for an LLM


@dataclass
class Job:
    """One relayed request: where it really goes, the body as sent, and what the exchange needs."""

    provider: str
    scheme: str
    host: str
    port: int
    body: dict
    prev_fp: str  # the anchor of a hidden exchange in this request's answer (see core.retrieval.splice)
    state: Any = None  # the flow's LLMRequest, for the retrieval count Stats reports
    retrievals: int = 0
    path: str = ""
    continuations: list = field(default_factory=list)  # open upstream responses, closed at the end


_MARKER_LITERAL = f"; {RETRIEVE_TOOL_NAME} key=".encode()


def _marker_keys(st, content_encoding: str) -> set[str]:
    """Keys of the markers in the body as it goes upstream: those compression just made (the outcome's
    drops), plus any the client's own bytes carried. The client's bytes are searched for the marker's
    literal first, at memchr speed, so a large request is not serialised again only to find nothing;
    a content-encoded body is searched as the parsed body instead."""
    keys = set(st.outcome.drops) if st.outcome is not None and st.outcome.changed else set()
    raw = st.original
    if raw is None or content_encoding.strip().lower() not in ("", "identity"):
        return keys | {m.key for m in find_markers(json.dumps(st.body, ensure_ascii=False))}
    if _MARKER_LITERAL in raw:
        keys |= {m.key for m in find_markers(raw.decode("utf-8", "replace"))}
    return keys


class Retrieve:
    def __init__(self) -> None:
        self.store = None
        self.server: asyncio.base_events.Server | None = None
        self.relay_port: int | None = None
        self.jobs: dict[str, Job] = {}
        self._clients: dict[tuple, Any] = {}
        self._routes: dict[str, tuple[str, int]] = {}

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_retrieve_tool", bool, os.environ.get("HEADROOM_RETRIEVE", "1").strip().lower() not in _OFF,
            "Add the headroom_retrieve tool to requests with compression markers and answer its calls locally "
            "(HEADROOM_RETRIEVE=0 turns it off).",
        )

    def configure(self, updated) -> None:
        from mitmproxy import ctx

        if "headroom_routes" in updated and "headroom_routes" in ctx.options:
            from headroom.addon.route import parse_route

            self._routes = dict(parse_route(s) for s in ctx.options.headroom_routes)
        if updated & {"ssl_verify_upstream_trusted_ca", "ssl_insecure", "headroom_routes", "headroom_tls_strict"}:
            self._clients.clear()

    async def running(self) -> None:
        from headroom.core.store import open_store

        try:
            self.store = await asyncio.to_thread(open_store)
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.relay_port = self.server.sockets[0].getsockname()[1]
        except Exception as e:  # no store or no relay: requests go on untouched, without the tool
            log.warning("retrieval is off: %s", e)
            self.server = None

    async def done(self) -> None:
        if self.server is not None:
            self.server.close()
        for client in list(self._clients.values()):
            await client.aclose()
        self._clients.clear()
        if self.store is not None:
            self.store.close()

    # --- request side -------------------------------------------------------------------------------

    async def request(self, flow) -> None:
        from mitmproxy import ctx

        st = state_of(flow)
        if (st is None or flow.response is not None or st.body is None or st.bypass or st.fail_open
                or not retrieval.answers(st.provider) or self.server is None or self.store is None
                or not ctx.options.headroom_retrieve_tool):
            return
        try:
            prev_fp = await asyncio.to_thread(self._prepare, st, flow.request.headers.get("content-encoding", ""))
        except Exception as e:  # fail open: the request goes on as Intercept left it
            log.warning("retrieval skipped for %s%s: %s", st.host, st.path, e)
            return
        if prev_fp is None:
            return
        job_id = secrets.token_hex(16)
        if len(self.jobs) >= MAX_PENDING_JOBS:
            self.jobs.pop(next(iter(self.jobs)))
        self.jobs[job_id] = Job(st.provider, flow.request.scheme, flow.request.host, flow.request.port,
                                st.body, prev_fp, st)
        flow.metadata[_META] = (job_id, flow.request.scheme, flow.request.host, flow.request.port,
                                flow.request.headers.get("host"), flow.request.path)
        flow.request.path = RELAY_PREFIX + job_id + flow.request.path
        flow.request.scheme = "http"
        flow.request.host = "127.0.0.1"
        flow.request.port = self.relay_port

    def _prepare(self, st, content_encoding: str) -> str | None:
        """Runs in a worker thread. The anchor fingerprint if this request goes through the relay, else None."""
        body = st.body
        keys = _marker_keys(st, content_encoding)
        if not keys or not self.store.issued(keys):
            return None
        prev_fp = retrieval.prev_fingerprint(st.provider, body)
        if retrieval.splice(st.provider, body, self.store.get_exchanges):
            st.modified = True
        if retrieval.client_has_tool(st.provider, body) or body.get("n", 1) not in (1, None):
            return None  # the client's own tool of that name (or several choices): not ours to answer
        shape = get_provider(st.provider)
        watched = shape.watches(st.path)
        if not watched and not shape.declares_unwatched:
            return None
        if not retrieval.add_tool(st.provider, body):
            return None
        st.modified = True
        # Token counting and other non-generation endpoints get the tool (so counts match the real
        # request) but have no answer to watch.
        return prev_fp if watched else None

    def responseheaders(self, flow) -> None:
        meta = flow.metadata.get(_META)
        if meta is None:
            return
        self._restore(flow, meta)
        ctype = flow.response.headers.get("content-type", "")
        if "text/event-stream" in ctype and not flow.response.stream:
            flow.response.stream = True

    def error(self, flow) -> None:
        meta = flow.metadata.get(_META)
        if meta is not None:
            self.jobs.pop(meta[0], None)
            self._restore(flow, meta)

    @staticmethod
    def _restore(flow, meta) -> None:
        # Later addons (Stats, the ledger) and the flow's record should name the real host, not the relay.
        _, scheme, host, port, host_header, path = meta
        if flow.request.host == host and flow.request.port == port:
            return
        flow.request.scheme, flow.request.host, flow.request.port = scheme, host, port
        flow.request.path = path
        if host_header is not None:
            flow.request.headers["host"] = host_header

    # --- the relay ----------------------------------------------------------------------------------

    def _client(self, sni: str | None):
        import httpx

        from mitmproxy import ctx

        strict = ctx.options.headroom_tls_strict if "headroom_tls_strict" in ctx.options else tls_strict_enabled()
        key = (ctx.options.ssl_verify_upstream_trusted_ca, ctx.options.ssl_insecure, strict)
        client = self._clients.get(key)
        if client is None:
            if ctx.options.ssl_insecure:
                verify: Any = False
            else:
                # The same trust and the same RFC 5280 strictness as mitmproxy's own upstream connections.
                verify = ssl.create_default_context(cafile=ctx.options.ssl_verify_upstream_trusted_ca or None)
                if strict:
                    verify.verify_flags |= ssl.VERIFY_X509_STRICT
                else:
                    verify.verify_flags &= ~ssl.VERIFY_X509_STRICT
            # trust_env=False: the proxy's own HTTPS_PROXY (perhaps pointing at itself) must not apply.
            client = httpx.AsyncClient(verify=verify, trust_env=False, http2=False,
                                       timeout=httpx.Timeout(**_TIMEOUTS), follow_redirects=False)
            self._clients[key] = client
        return client

    def _upstream_request(self, job: Job, method: str, path: str, headers: list[tuple[str, str]], body: bytes):
        default = 443 if job.scheme == "https" else 80
        authority = job.host if job.port == default else f"{job.host}:{job.port}"
        addr, port = self._routes.get(job.host.lower().rstrip("."), (job.host, job.port))
        hostpart = f"[{addr}]" if ":" in addr else addr
        url = f"{job.scheme}://{hostpart}:{port}{path}"
        hdrs = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP] + [("host", authority)]
        client = self._client(job.host)
        extensions = {"sni_hostname": job.host} if job.scheme == "https" else {}
        return client, client.build_request(method, url, headers=hdrs, content=body, extensions=extensions)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h11

        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                req, body = await self._read_request(conn, reader)
                if req is None:
                    return
                keep = await self._handle(conn, writer, req, body)
                if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return  # mitmproxy (so the client) went away: nothing to answer
        except Exception as e:  # an upstream that stalls or breaks mid-answer: the client sees it end
            log.warning("retrieval relay: %s: %s", type(e).__name__, e)
        finally:
            writer.close()

    @staticmethod
    async def _read_request(conn, reader):
        import h11

        req, chunks = None, []
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

    async def _send(self, conn, writer, event) -> None:
        data = conn.send(event)
        if data:
            writer.write(data)
            await writer.drain()

    async def _respond_simple(self, conn, writer, status: int, body: bytes, ctype="application/json") -> bool:
        import h11

        await self._send(conn, writer, h11.Response(status_code=status, headers=[
            ("content-type", ctype), ("content-length", str(len(body)))]))
        await self._send(conn, writer, h11.Data(data=body))
        await self._send(conn, writer, h11.EndOfMessage())
        return True

    async def _handle(self, conn, writer, req, body: bytes) -> bool:
        import h11
        import httpx

        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in req.headers]
        target = req.target.decode("latin-1")
        job_id, _, rest = target[len(RELAY_PREFIX):].partition("/") if target.startswith(RELAY_PREFIX) else ("", "", "")
        job = self.jobs.pop(job_id, None) if job_id else None
        if job is None:
            msg = {"error": {"type": "headroom_error", "message": "headroom relay: unknown or expired request"}}
            return await self._respond_simple(conn, writer, 421, json.dumps(msg).encode())
        method, path = req.method.decode(), "/" + rest
        job.path = path
        client, up_req = self._upstream_request(job, method, path, headers, body)
        try:
            resp = await client.send(up_req, stream=True)
        except httpx.HTTPError as e:
            msg = {"error": {"type": "headroom_upstream_error",
                             "message": f"headroom: could not reach {job.host}: {e or type(e).__name__}"}}
            return await self._respond_simple(conn, writer, 502, json.dumps(msg).encode())
        try:
            ctype = resp.headers.get("content-type", "")
            out_headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in _RESPONSE_DROP]
            if resp.status_code != 200 or not ("event-stream" in ctype or "json" in ctype):
                await self._send(conn, writer, h11.Response(status_code=resp.status_code, headers=out_headers))
                async for chunk in resp.aiter_bytes():
                    await self._send(conn, writer, h11.Data(data=chunk))
                await self._send(conn, writer, h11.EndOfMessage())
                return True
            exchange = retrieval.make_exchange(job.provider, job.body, job.prev_fp)
            if "event-stream" in ctype:
                await self._send(conn, writer, h11.Response(status_code=200, headers=out_headers))
                await self._relay_stream(conn, writer, job, exchange, resp, headers)
                await self._send(conn, writer, h11.EndOfMessage())
                return True
            return await self._relay_json(conn, writer, job, exchange, resp, out_headers, headers)
        finally:
            await resp.aclose()

    async def _answer(self, job: Job, calls) -> dict[str, str]:
        def lookup():
            return {c.call_id: retrieval.answer_call(c.arguments, self.store.get, self.store.ttl_seconds)
                    for c in calls}

        results = await asyncio.to_thread(lookup)
        job.retrievals += len(calls)
        if job.state is not None:
            job.state.retrievals = job.retrievals
            # Which dropped runs the model asked for, for "dropped, then needed" (Stats counts them).
            job.state.retrieved_keys.extend(k for k in (parse_arguments(c.arguments)[0] for c in calls) if k)
        return results

    async def _continue(self, job: Job, exchange, results, headers):
        body = exchange.continuation(results, last_round=exchange.rounds + 1 >= retrieval.MAX_ROUNDS)
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        # The continuation body is plain JSON whatever the client's request encoding was.
        plain = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
        client, up_req = self._upstream_request(job, "POST", job.path, plain, data)
        return await client.send(up_req, stream=True)

    def _keep(self, exchange, results) -> None:
        rec = exchange.record(results)
        if rec is not None:
            try:
                self.store.put_exchanges({rec[0]: rec[1]})
            except Exception as e:
                log.warning("could not keep a retrieval exchange for later turns: %s", e)

    async def _relay_stream(self, conn, writer, job, exchange, resp, headers) -> None:
        try:
            await self._relay_rounds(conn, writer, job, exchange, resp, headers)
        finally:
            for r in job.continuations:
                await r.aclose()

    async def _relay_rounds(self, conn, writer, job, exchange, resp, headers) -> None:
        import h11

        results: dict[str, str] = {}
        while True:
            parser = SSEParser()
            async for chunk in resp.aiter_bytes():
                out = [e.raw for ev in parser.feed(chunk) for e in exchange.feed(ev)]
                if out:
                    await self._send(conn, writer, h11.Data(data=b"".join(out)))
            out = [e.raw for ev in parser.close() for e in exchange.feed(ev)]
            if out:
                await self._send(conn, writer, h11.Data(data=b"".join(out)))
            calls = exchange.end_round()
            if not calls:
                break
            results = await self._answer(job, calls)
            if not exchange.can_continue():
                break
            await resp.aclose()
            try:
                resp = await self._continue(job, exchange, results, headers)
                job.continuations.append(resp)
            except Exception as e:
                await self._send(conn, writer, h11.Data(data=self._error_event(job.provider, str(e)).raw))
                break
            if resp.status_code != 200:
                detail = (await resp.aread()).decode("utf-8", "replace")[:2000]
                await self._send(conn, writer, h11.Data(data=self._error_event(
                    job.provider, f"upstream answered {resp.status_code} to the retrieval continuation: {detail}").raw))
                break
            results = {}
        tail = exchange.finish()
        if tail:
            await self._send(conn, writer, h11.Data(data=b"".join(e.raw for e in tail)))
        await asyncio.to_thread(self._keep, exchange, results)

    @staticmethod
    def _error_event(provider: str, message: str):
        return get_provider(provider).error_event(f"headroom: {message}")

    async def _relay_json(self, conn, writer, job, exchange, resp, out_headers, headers) -> bool:
        import h11
        import httpx

        raw = await resp.aread()
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        status = 200
        if not isinstance(data, dict):
            final = raw
        else:
            results: dict[str, str] = {}
            calls = exchange.feed_response(data)
            if not calls:
                # Nothing to answer: the upstream's bytes, untouched, unless what the client may see
                # differs (a Responses object echoes the request's tools, the injected one among them).
                shaped = exchange.final_response()
                final = raw if shaped == data else json.dumps(shaped, ensure_ascii=False).encode("utf-8")
            while calls:
                results = await self._answer(job, calls)
                if not exchange.can_continue():
                    break
                await resp.aclose()
                try:
                    resp = await self._continue(job, exchange, results, headers)
                    raw = await resp.aread()
                except httpx.HTTPError as e:
                    status, final = 502, json.dumps({"error": {"type": "headroom_upstream_error", "message":
                        f"headroom: the retrieval continuation to {job.host} failed: {e or type(e).__name__}"}}).encode()
                    out_headers = [("content-type", "application/json")]
                    break
                if resp.status_code != 200:
                    status, final = resp.status_code, raw  # the client sees the upstream's own error
                    out_headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in _RESPONSE_DROP]
                    break
                try:
                    data = json.loads(raw)
                except ValueError:
                    status, final = 502, raw
                    break
                results = {}
                calls = exchange.feed_response(data)
            if status == 200 and (exchange.rounds or exchange.end_round()):
                final = json.dumps(exchange.final_response(), ensure_ascii=False).encode("utf-8")
                await asyncio.to_thread(self._keep, exchange, results)
        await resp.aclose()
        hdrs = [(k, v) for k, v in out_headers if k.lower() != "content-length"] + [("content-length", str(len(final)))]
        await self._send(conn, writer, h11.Response(status_code=status, headers=hdrs))
        await self._send(conn, writer, h11.Data(data=final))
        await self._send(conn, writer, h11.EndOfMessage())
        return True
