"""Retrieve: add the headroom_retrieve tool to requests with markers, and answer the model's calls itself.

Request side (after Intercept, before Encode): when the compressed body carries at least one marker whose
key the store issued, put back the hidden retrieval exchanges of earlier turns (so the provider sees the
history it saw before) and append the tool after the client's tools. With HEADROOM_RETRIEVE_FROM=first (the
default) a compressed request whose client sets a prompt-cache breakpoint gets the tool before any marker,
from the conversation's first request: its arrival mid-conversation would break the cached prefix.

Response side: every request stays on mitmproxy's own connection. A request that does not stream has its
whole JSON answer buffered before the client gets anything, so this addon's (async) `response` hook answers
a call there, continuing upstream as often as the model asks, and the client gets the whole answer. A stream
goes through the retrieval driver chunk by chunk as mitmproxy streams it (`flow.response.stream`, a
synchronous callable): events pass on as they arrive, decoded, except the retrieve call's own, which are
held back. At the upstream's end of message, what is left (answer the call from the store, send the
continuation upstream, stream that on as the same response, keep the exchange for later turns) runs in the
`headroom_stream_more` hook, which compat.enable_stream_append lets mitmproxy wait for, piece by piece,
before it ends the response. Where that cannot be enabled (a mitmproxy whose stream layer changed), a
streaming request that carries the tool is pointed at the loopback relay (headroom.relay) this addon runs in
mitmproxy's event loop instead: the relay sends it upstream itself (same bytes, same TLS trust, same
--route) and does the same there, at the cost of a second HTTP hop per event. Requests without the tool
never meet the driver.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from headroom import compat
from headroom.addon.intercept import INLINE_MAX_BYTES
from headroom.addon.state import LLMRequest, state_of
from headroom.core import retrieval
from headroom.core.markers import find_markers
from headroom.core.providers import get_provider
from headroom.core.retrieval.driver import Done, Response, Retrieval, SendToClient
from headroom.core.retrieval.tool import parse_arguments
from headroom.relay.server import RELAY_PREFIX, RESPONSE_DROP, Job, Relay
from headroom.relay.upstream import Decoder, Target, Upstream

if TYPE_CHECKING:
    from headroom.addon.chain import Chain
    from headroom.addon.intercept import Intercept
    from headroom.core.ports import Store

__all__ = ["Retrieve", "RELAY_PREFIX"]

log = logging.getLogger("headroom.retrieve")

_META = "headroom_relay"
_WHOLE = "headroom_retrieve_json"  # the Job of a request whose JSON answer the response hook answers
_STREAMED = "headroom_retrieve_stream"  # the Job of a streaming request on mitmproxy's own connection
_RUN = "headroom_retrieve_run"  # its _Stream, once the answer streams
_MARKER_LITERAL = b"[headroom: "  # how every marker begins, of this grammar and the earlier one


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


def _counter(st):
    """What the relay tells the flow's state about the calls it answered, for Stats."""

    def on_answer(calls) -> None:
        st.retrievals += len(calls)
        # Which dropped runs the model asked for, for "dropped, then needed" (Stats counts them).
        st.retrieved_keys.extend(k for k in (parse_arguments(c.arguments)[0] for c in calls) if k)
    return on_answer


def _header_items(headers, drop: frozenset[str] | set[str] = frozenset()) -> list[tuple[str, str]]:
    """A mitmproxy Headers' (name, value) pairs, repeats kept, without the names in `drop` (lower-case)."""
    return [(k, v) for k, v in headers.items(multi=True) if k.lower() not in drop]


def _client_there(flow) -> bool:
    from mitmproxy.connection import ConnectionState

    return bool(flow.client_conn.state & ConnectionState.CAN_READ)


class _Stream:
    """One streamed answer on mitmproxy's own connection to a request that carries the tool: the stream
    callable mitmproxy gives each upstream chunk (and b"" at the end), and, once the upstream has ended,
    the rounds still to do (`more`), which the stream-more hook runs piece by piece."""

    def __init__(self, relay: Relay, flow, job: Job, decode: Decoder | None) -> None:
        self.relay, self.flow, self.job, self.decode = relay, flow, job, decode
        headers = _header_items(flow.response.headers, RESPONSE_DROP)
        self.driver = Retrieval(job.provider, job.body, job.prev_fp, host=job.target.host, stream=True,
                                headers=headers)
        self.more: AsyncGenerator[bytes | Response, None] | None = None  # the rounds left after the first body
        self.broken = False
        self.passing = False  # the stream-more hook passes a later piece through the addons' stream callables

    def __call__(self, data: bytes) -> list[bytes]:
        """Pieces for the client: none at all rather than an empty one, which mitmproxy would send to an
        HTTP/1.1 client as the empty chunk that ends a chunked body."""
        if self.passing:
            return [data] if data else []
        try:
            if self.decode is not None and data:
                data = self.decode(data)
        except Exception as e:  # the body cannot be read: nothing sensible reaches the client from here on
            if not self.broken:
                log.warning("retrieval: a %s stream could not be decoded: %s", self.job.provider, type(e).__name__)
            self.broken = True
            return []
        if self.broken:
            return [data] if data else []
        try:
            actions = self.driver.receive_data(data) if data else self.driver.end_of_body()
        except Exception as e:  # fail open: the rest of the stream goes on as it comes
            log.warning("retrieval: a %s stream passes unwatched: %s", self.job.provider, type(e).__name__)
            self.broken = True
            return [data] if data else []
        i = 0
        while i < len(actions) and isinstance(actions[i], SendToClient):
            i += 1
        out = b"".join(a.data for a in actions[:i])  # type: ignore[union-attr]  # the loop checked them
        rest = actions[i:]
        if rest and not (len(rest) == 1 and isinstance(rest[0], Done) and rest[0].record is None):
            headers = _header_items(self.flow.request.headers)
            self.more = self.relay.rounds(self.job, self.driver, rest, None, headers,
                                          wanted=lambda: _client_there(self.flow))
            self.flow.metadata[compat.STREAM_MORE] = True
        return [out] if out else []

    async def next_piece(self) -> bytes | None:
        """The next data for the client, or None when the answer is complete (or the client has gone)."""
        while self.more is not None:
            if not _client_there(self.flow):
                break
            try:
                item = await self.more.__anext__()
            except StopAsyncIteration:
                break
            except Exception as e:  # the client sees the stream end; its model call stays unanswered
                log.warning("retrieval on %s failed: %s", self.job.target.host, type(e).__name__)
                break
            if isinstance(item, bytes):
                return item
            if isinstance(item, Response):  # a stream's rounds end in events, never a JSON answer
                continue
        await self.close()
        return None

    async def close(self) -> None:
        more, self.more = self.more, None
        if more is not None:
            await more.aclose()
        for r in self.job.continuations:
            await r.aclose()
        self.job.continuations.clear()


class Retrieve:
    AFTER = ("Intercept", "Shape")  # reads the body and the outcome they left in the flow's state

    def __init__(self, chain: Chain | None = None, intercept: Intercept | None = None) -> None:
        self.store: Store | None = None
        self.chain = chain  # the upstream proxy the relay's requests go through, as mitmproxy's do
        # The addon that writes the drops: its store is this one's too (one object: what it wrote moments ago
        # answers `issued` from memory; a second object on the same file read SQLite on every request).
        self.intercept = intercept
        self._owns_store = False
        self.upstream = Upstream()
        self.relay: Relay | None = None
        # Streams stay on mitmproxy's connection where its stream layer lets this addon append to them.
        self.direct_streams = compat.enable_stream_append()

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_retrieve_tool", bool, True,
            "Add the headroom_retrieve tool to requests with compression markers and answer its calls locally "
            "(HEADROOM_RETRIEVE=0 turns it off).",
        )
        loader.add_option(
            "headroom_retrieve_from", str, "first",
            "first: add the tool from the first request of a conversation whose client sets a prompt-cache "
            "breakpoint (the tool, written once and read from the cache after, costs less than the cache miss its "
            "arrival mid-conversation causes; docs/benchmarks.md); marker: only from the first request with a "
            "compression marker. HEADROOM_RETRIEVE_FROM.",
        )

    @property
    def relay_port(self) -> int | None:
        return self.relay.port if self.relay is not None else None

    def configure(self, updated) -> None:
        if updated & {"ssl_verify_upstream_trusted_ca", "ssl_insecure", "headroom_routes", "headroom_tls_strict"}:
            self._configure_upstream()

    def _configure_upstream(self) -> None:
        from mitmproxy import ctx

        routes = self.upstream.routes
        if "headroom_routes" in ctx.options:
            from headroom.addon.route import parse_route

            routes = dict(parse_route(s) for s in ctx.options.headroom_routes)
        # The same trust and the same RFC 5280 strictness as mitmproxy's own upstream connections.
        strict = ctx.options.headroom_tls_strict if "headroom_tls_strict" in ctx.options else True
        self.upstream.configure(routes=routes, cafile=ctx.options.ssl_verify_upstream_trusted_ca,
                                insecure=ctx.options.ssl_insecure, strict=strict,
                                proxy=self.chain.upstream if self.chain is not None else None)

    async def running(self) -> None:
        from mitmproxy import ctx

        from headroom.storage.store import DEFAULT_MAX_BYTES, DEFAULT_TTL_SECONDS, open_store

        # Options given when the master was made (the upstream CA bundle) reach no configure: read them now.
        self._configure_upstream()
        try:
            if self.intercept is not None:
                self.store = await asyncio.to_thread(self.intercept.shared_store)
            else:
                # Alone (no Intercept to share with): the store of Intercept's options, else the defaults.
                self.store = await asyncio.to_thread(
                    open_store, ttl_seconds=getattr(ctx.options, "headroom_ccr_ttl", DEFAULT_TTL_SECONDS),
                    max_bytes=getattr(ctx.options, "headroom_ccr_max_bytes", DEFAULT_MAX_BYTES),
                    url=getattr(ctx.options, "headroom_store", ""),
                    ca_file=getattr(ctx.options, "headroom_store_ca", ""))
                self._owns_store = True
            relay = Relay(self.store, self.upstream)
            await relay.start()
            self.relay = relay
        except Exception as e:  # no store or no relay: requests go on untouched, without the tool
            log.warning("retrieval is off: %s", e)
            self.relay = None

    async def done(self) -> None:
        if self.relay is not None:
            await self.relay.close()
        if self.store is not None and self._owns_store:
            self.store.close()

    # --- request side -------------------------------------------------------------------------------

    async def request(self, flow) -> None:
        from mitmproxy import ctx

        st = state_of(flow)
        if (st is None or flow.response is not None or st.body is None or st.bypass or st.fail_open
                or not retrieval.answers(st.provider) or self.relay is None or self.store is None
                or not ctx.options.headroom_retrieve_tool):
            return
        # From the first request of a cached conversation (HEADROOM_RETRIEVE_FROM=first), never in the
        # compression holdout's control arm (uncompressed: no marker will ever need the tool).
        early = (ctx.options.headroom_retrieve_from == "first" and st.compress_arm != "control"
                 and st.outcome is not None)
        encoding = flow.request.headers.get("content-encoding", "")
        try:
            if self.store.reads_inline and len(st.original or b"") <= INLINE_MAX_BYTES:
                # A few local reads and a small body's changes: less than a hand-off to a thread costs (Intercept).
                prev_fp, changed = self._prepare(st, encoding, early)
            else:
                prev_fp, changed = await asyncio.to_thread(self._prepare, st, encoding, early)
        except Exception as e:  # fail open: the request goes on as Intercept left it
            log.warning("retrieval skipped for %s%s: %s", st.host, st.path, e)
            return
        st.modified = st.modified or changed  # written here, on the event loop, from what the worker returned
        if prev_fp is None:
            return
        target = Target(flow.request.scheme, flow.request.host, flow.request.port)
        own = frozenset(st.outcome.drops) if st.outcome is not None and st.outcome.changed else frozenset()
        job = Job(st.provider, target, st.body, prev_fp, on_answer=_counter(st), scope=st.scope, own_keys=own,
                  path=flow.request.path)
        if not get_provider(st.provider).streams(st.body, st.path):
            flow.metadata[_WHOLE] = job  # answered in `response`, on mitmproxy's own connection
            return
        if self.direct_streams:
            flow.metadata[_STREAMED] = job  # watched as it streams, from `responseheaders` on
            return
        job_id = self.relay.add(job)
        flow.metadata[_META] = (job_id, flow.request.scheme, flow.request.host, flow.request.port,
                                flow.request.headers.get("host"), flow.request.path)
        flow.request.path = RELAY_PREFIX + job_id + flow.request.path
        flow.request.scheme = "http"
        flow.request.host = "127.0.0.1"
        flow.request.port = self.relay_port

    def _prepare(self, st: LLMRequest, content_encoding: str, early: bool = False) -> tuple[str | None, bool]:
        """Runs on the loop for a small body and a local store, else in a worker thread, which has `st.body`
        alone until it returns (the hook awaits it) and changes it in place; it writes nothing else of `st`. Returns the anchor fingerprint if this request goes
        through the relay (else None), and whether the body changed. `early`: the tool may go on a request
        without markers when its client sets a prompt-cache breakpoint (so it never arrives mid-conversation)."""
        body = st.body
        assert body is not None and self.store is not None  # request() checked both
        keys = _marker_keys(st, content_encoding)
        if not keys or not self.store.issued(keys):
            if not (early and get_provider(st.provider).explicit_cache(body)):
                return None, False
        prev_fp = retrieval.prev_fingerprint(st.provider, body)
        changed = retrieval.splice(st.provider, body, self.store.get_exchanges) > 0
        if retrieval.client_has_tool(st.provider, body) or body.get("n", 1) not in (1, None):
            return None, changed  # the client's own tool of that name (or several choices): not ours to answer
        shape = get_provider(st.provider)
        watched = shape.watches(st.path)
        if not watched and not shape.declares_unwatched:
            return None, changed
        if not retrieval.add_tool(st.provider, body):
            return None, changed
        # Token counting and other non-generation endpoints get the tool (so counts match the real
        # request) but have no answer to watch.
        return (prev_fp if watched else None), True

    def responseheaders(self, flow) -> None:
        job = flow.metadata.pop(_STREAMED, None)
        if job is not None:
            self._watch(flow, job)
            return
        meta = flow.metadata.get(_META)
        if meta is None:
            return
        self._restore(flow, meta)
        ctype = flow.response.headers.get("content-type", "")
        if "text/event-stream" in ctype and not flow.response.stream:
            flow.response.stream = True

    def _watch(self, flow, job: Job) -> None:
        """The answer to a streaming request that carries the tool has its head: a stream goes through the
        driver as it comes (the relay's policy: decoded, so its length and encoding headers go); a JSON answer
        (a stream asked for and refused) is answered whole in `response`; a refusal passes as it came."""
        resp = flow.response
        ctype = resp.headers.get("content-type", "")
        if self.relay is None or resp.status_code != 200:
            return
        if "event-stream" not in ctype:
            if "json" in ctype:
                flow.metadata[_WHOLE] = job
            return
        encoding = resp.headers.get("content-encoding", "")
        try:
            decode = Decoder.of(encoding)
        except Exception as e:  # an encoding nobody can read: the stream passes as it comes, calls unanswered
            log.warning("retrieval: a %s stream in %r passes unwatched: %s", job.provider, encoding, e)
            flow.response.stream = True
            return
        headers = resp.headers
        if "content-length" in headers:  # held-back events and continuations change the length
            del headers["content-length"]
            if flow.request.http_version == "HTTP/1.1":  # else close-delimited (1.0) or framed (2, 3)
                headers["transfer-encoding"] = "chunked"
        if decode is not None:
            del headers["content-encoding"]
        run = _Stream(self.relay, flow, job, decode)
        flow.metadata[_RUN] = run
        resp.stream = run

    async def headroom_stream_more(self, flow) -> None:
        """compat.enable_stream_append's hook: the next piece of a stream whose upstream has ended."""
        run = flow.metadata.get(_RUN)
        if run is None:
            return
        piece = await run.next_piece()
        if piece is None:
            return
        outer = flow.response.stream
        if callable(outer) and outer is not run:
            # The later addons' callables around this one (Stats reads the usage of every round) see the piece
            # as they saw the first body; this one lets it pass.
            run.passing = True
            try:
                out = outer(piece)
            finally:
                run.passing = False
            piece = out if isinstance(out, bytes) else b"".join(out)
        flow.metadata[compat.STREAM_CHUNK] = piece

    async def response(self, flow) -> None:
        job = flow.metadata.pop(_WHOLE, None)
        resp = flow.response
        if job is None or self.relay is None or resp is None or resp.status_code != 200:
            return
        if "json" not in resp.headers.get("content-type", ""):
            if "event-stream" in resp.headers.get("content-type", ""):
                log.warning("retrieval: a %s answer streamed though its request did not ask to; its calls of "
                            "the tool are not answered", job.provider)
            return
        body = resp.get_content(strict=False)
        if body is None:
            return
        from mitmproxy.connection import ConnectionState

        client = flow.client_conn
        headers = _header_items(flow.request.headers)
        # The relay's policy: the client gets the answer decoded, so hop-by-hop and encoding headers go.
        upstream_headers = _header_items(resp.headers, RESPONSE_DROP)
        try:
            final = await self.relay.answer_buffered(job, headers, upstream_headers, body,
                                                     wanted=lambda: bool(client.state & ConnectionState.CAN_READ))
        except Exception as e:  # the first answer stands; the model's call goes to the client unanswered
            log.warning("retrieval on %s failed: %s", job.target.host, type(e).__name__)
            return
        if final is None:
            return
        from mitmproxy.http import Headers

        resp.status_code = final.status
        # The driver's headers: the upstream's above, with the whole answer's content-length.
        resp.headers = Headers([(k.encode("latin-1"), v.encode("latin-1")) for k, v in final.headers])
        resp.content = final.body  # no content-encoding now: sent as is

    async def error(self, flow) -> None:
        run = flow.metadata.pop(_RUN, None)
        if run is not None:
            await run.close()
        meta = flow.metadata.get(_META)
        if meta is not None:
            if self.relay is not None:
                self.relay.drop(meta[0])
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
