"""Retrieve: add the headroom_retrieve tool to requests with markers, and answer the model's calls itself.

Request side (after Intercept, before Encode): when the compressed body carries at least one marker whose
key the store issued, put back the hidden retrieval exchanges of earlier turns (so the provider sees the
history it saw before) and append the tool after the client's tools. With HEADROOM_RETRIEVE_FROM=first (the
default) a compressed request whose client sets a prompt-cache breakpoint gets the tool before any marker,
from the conversation's first request: its arrival mid-conversation would break the cached prefix.

Response side: a request that does not stream stays on mitmproxy's own path: its whole JSON answer is
buffered before the client gets anything, so this addon's (async) `response` hook answers a call there,
continuing upstream as often as the model asks, and the client gets the whole answer. For a stream,
mitmproxy 11 calls `flow.response.stream` synchronously, chunk by chunk, and awaits the `response` hook
after the body's data has gone to the client (only its end of message waits for the hook): an addon can hold
the stream open but has no way to send the continuation's events into it. So a streaming request that
carries the injected tool is pointed at the loopback relay (headroom.relay) this addon runs in
mitmproxy's own event loop. The relay sends the request upstream itself (same bytes, same TLS trust,
same --route), passes events on as they arrive, holds back only the retrieve call's own events, answers it
from the store, sends the continuation upstream and streams that on as the same response. Requests
without the tool never touch the relay: they stay on mitmproxy's normal path.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from headroom.addon.intercept import INLINE_MAX_BYTES
from headroom.addon.state import LLMRequest, state_of
from headroom.core import retrieval
from headroom.core.markers import find_markers
from headroom.core.providers import get_provider
from headroom.core.retrieval.tool import parse_arguments
from headroom.relay.server import RELAY_PREFIX, RESPONSE_DROP, Job, Relay
from headroom.relay.upstream import Target, Upstream

if TYPE_CHECKING:
    from headroom.addon.chain import Chain
    from headroom.core.ports import Store

__all__ = ["Retrieve", "RELAY_PREFIX"]

log = logging.getLogger("headroom.retrieve")

_META = "headroom_relay"
_WHOLE = "headroom_retrieve_json"  # the Job of a request whose JSON answer the response hook answers
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


class Retrieve:
    AFTER = ("Intercept", "Shape")  # reads the body and the outcome they left in the flow's state

    def __init__(self, chain: Chain | None = None) -> None:
        self.store: Store | None = None
        self.chain = chain  # the upstream proxy the relay's requests go through, as mitmproxy's do
        self.upstream = Upstream()
        self.relay: Relay | None = None

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
        # The store's limits are Intercept's options (it writes the store first); alone, the defaults.
        ttl = getattr(ctx.options, "headroom_ccr_ttl", DEFAULT_TTL_SECONDS)
        max_bytes = getattr(ctx.options, "headroom_ccr_max_bytes", DEFAULT_MAX_BYTES)
        try:
            url = getattr(ctx.options, "headroom_store", "")
            ca = getattr(ctx.options, "headroom_store_ca", "")
            self.store = await asyncio.to_thread(open_store, ttl_seconds=ttl, max_bytes=max_bytes, url=url,
                                                 ca_file=ca)
            relay = Relay(self.store, self.upstream)
            await relay.start()
            self.relay = relay
        except Exception as e:  # no store or no relay: requests go on untouched, without the tool
            log.warning("retrieval is off: %s", e)
            self.relay = None

    async def done(self) -> None:
        if self.relay is not None:
            await self.relay.close()
        if self.store is not None:
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
        meta = flow.metadata.get(_META)
        if meta is None:
            return
        self._restore(flow, meta)
        ctype = flow.response.headers.get("content-type", "")
        if "text/event-stream" in ctype and not flow.response.stream:
            flow.response.stream = True

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
        headers = [(k, v) for k, v in flow.request.headers.items(multi=True)]
        # The relay's policy: the client gets the answer decoded, so hop-by-hop and encoding headers go.
        upstream_headers = [(k, v) for k, v in resp.headers.items(multi=True) if k.lower() not in RESPONSE_DROP]
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

    def error(self, flow) -> None:
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
