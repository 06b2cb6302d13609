"""Stats: when an LLM flow ends, put one row of numbers about it in the ledger, without slowing it down.

It watches the response stream the other addons set up (composing with their callable, never replacing
it) for the first byte and the provider's usage, and does the token counting in a worker thread after
the flow has ended, so neither the request nor the response waits for it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor, wait

from mitmproxy import ctx, http

from headroom.addon.intercept import INLINE_MAX_BYTES
from headroom.addon.state import state_of
from headroom.core import bill, needed, tokens
from headroom.core.encoding import MAX_BODY_BYTES, EncodingError, decode_body
from headroom.core.ports import Entry, LedgerWriter, UnitRow
from headroom.core.providers import get_provider
from headroom.core.usage import Usage, UsageReader, usage_from_body
from headroom.storage.ledger import Ledger, ledger_path

__all__ = ["Needs", "Stats", "build_entry"]

log = logging.getLogger(__name__)

_META = "headroom.stats"  # this addon's per-flow notes, beside the shared state
COUNT_WORKERS = 2  # token counting of finished flows; one per core is plenty and keeps the proxy's share small
REEXPANDED = "re-expanded"  # the pipeline's re-expansions, counted once per conversation like the needs
MAX_CONVERSATIONS = 4096  # conversations whose counted needs are remembered; the oldest is forgotten first
ORDER_WAIT_S = 10.0  # the longest a row waits for the rows of the flows that ended before it (then goes on)


class Needs:
    """Dropped, then needed, counted once per conversation: which (kind, marker key) pairs each conversation
    has already counted, so a retried request (the same newest turn sent again) or a run needed twice the
    same way counts once. Memory only (opaque conversation ids and marker keys, no content), bounded."""

    def __init__(self, max_conversations: int = MAX_CONVERSATIONS) -> None:
        self._seen: OrderedDict[str, set[tuple[str, str]]] = OrderedDict()
        self._max = max_conversations
        self._lock = threading.Lock()

    def retrieved(self, conversation: str) -> set[str]:
        with self._lock:
            return {key for kind, key in self._seen.get(conversation, ()) if kind == needed.RETRIEVED}

    def first_times(self, conversation: str, pairs) -> dict[str, int]:
        """Count the (kind, key) pairs not counted before in this conversation, by kind; remember them."""
        counts = dict.fromkeys((*needed.KINDS, REEXPANDED), 0)
        with self._lock:
            seen = self._seen.get(conversation)
            if seen is None:
                seen = self._seen[conversation] = set()
                while len(self._seen) > self._max:
                    self._seen.popitem(last=False)
            else:
                self._seen.move_to_end(conversation)
            for pair in pairs:
                if pair not in seen:
                    seen.add(pair)
                    counts[pair[0]] += 1
        return counts


class _Turnstile:
    """Tickets in the order flows end (taken on the event loop), so each row meets the bill (core.bill) after
    the rows of the flows that ended before it, whichever worker counted faster: a conversation's request
    compared with the one after it would be a cache break the client never made, and its history counted as
    new. A ticket is left exactly once, whatever happens to its row."""

    def __init__(self) -> None:
        self._next = 0  # the oldest ticket not yet left
        self._issued = 0
        self._left: set[int] = set()
        self._cond = threading.Condition()

    def take(self) -> int:
        with self._cond:
            self._issued += 1
            return self._issued - 1

    def wait(self, ticket: int, timeout: float = ORDER_WAIT_S) -> bool:
        """Until every earlier ticket has been left. Never deadlocks in Stats' pool: a worker's earlier tickets
        were taken (and submitted, FIFO) before its own, so each is being counted or done."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._next >= ticket, timeout=timeout)
        if not ok:
            log.debug("a ledger row went on without the rows before it (waited %.0f s)", timeout)
        return ok

    def leave(self, ticket: int) -> None:
        with self._cond:
            self._left.add(ticket)
            while self._next in self._left:
                self._left.discard(self._next)
                self._next += 1
            self._cond.notify_all()


class _Notes:
    __slots__ = ("sent", "first_byte", "reader", "recorded")

    def __init__(self) -> None:
        self.sent: float | None = None  # wall time the request was handed on upstream
        self.first_byte: float | None = None  # wall time of the first streamed response chunk
        self.reader: UsageReader | None = None  # set when the response is streamed
        self.recorded = False


def _notes(flow) -> _Notes:
    n = flow.metadata.get(_META)
    if n is None:
        n = flow.metadata[_META] = _Notes()
    return n


def _model(state, path: str, fallback: str | None) -> str | None:
    """The request's model as its shape reads it (the pipeline's tokenizer reads the same), else the one the
    response named."""
    body = state.body if isinstance(state.body, dict) else {}
    return get_provider(state.provider).model_of(body, path) or fallback


def _ms(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return max(0.0, (b - a) * 1000.0)


def _units(outcome) -> tuple[UnitRow, ...]:
    groups: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, 0, 0.0])
    for u in getattr(outcome, "units", ()) or ():
        g = groups[(str(u.content_type), str(u.compressor))]
        g[0] += 1
        g[1] += int(u.tokens_before)
        g[2] += int(u.tokens_after)
        g[3] += float(u.ms)
    return tuple(UnitRow(ct, comp, n, b, a, round(ms, 3)) for (ct, comp), (n, b, a, ms) in sorted(groups.items()))


def build_entry(*, ts: float, provider: str, host: str, model: str | None, original: bytes | None, sent: bytes,
                outcome, modified: bool, usage: Usage, streaming: bool, status: int | None,
                compress_ms: float | None, overhead_ms: float | None, upstream_ms: float | None,
                ttfb_ms: float | None, total_ms: float | None, retrievals: int, fail_open: bool, bypass: bool,
                error: bool, compress_arm: str | None = None, output_arm: str | None = None,
                turn_kind: str | None = None, shaped: tuple[str, ...] = (), needs: dict | None = None,
                reexpanded: int = 0, session: str | None = None, user: str | None = None,
                within: tuple[str, ...] | list[str] = ()) -> Entry:
    """The ledger row of one finished flow: CPU work (token counting), meant for a worker thread. `within`:
    the long strings of the original body (tokens.long_strings of its parse)."""
    enc = tokens.encoding_for_model(model)
    # Whole bodies are new every turn, but most of each is what the last turn sent too (tool definitions,
    # earlier tool outputs, their frozen compressed forms): counted exactly as a whole (tokens.count_body),
    # what repeats from memory.
    unchanged = original is not None and original == sent
    after = tokens.count_body(sent.decode("utf-8", "replace"), enc, within if unchanged else ())
    if unchanged:
        before = after  # forwarded byte for byte: one count
    elif original is not None:
        before = tokens.count_body(original.decode("utf-8", "replace"), enc, within)
    elif not modified:
        before = after  # forwarded as received
    else:
        # Intercept did not keep the original bytes: the tool-output saving is exact, the rest is unchanged.
        before = after + int(getattr(outcome, "tokens_before", 0)) - int(getattr(outcome, "tokens_after", 0))
    entry = Entry(
        ts=ts, provider=provider, host=host, model=model, tokens_before=before, tokens_after=after,
        tool_tokens_before=int(getattr(outcome, "tokens_before", 0) or 0),
        tool_tokens_after=int(getattr(outcome, "tokens_after", 0) or 0),
        compressed=outcome is not None, streaming=streaming, status=status, compress_ms=compress_ms,
        overhead_ms=overhead_ms, upstream_ms=upstream_ms, ttfb_ms=ttfb_ms, total_ms=total_ms,
        usage_reported=usage.reported, usage_input=usage.input, usage_cache_read=usage.cache_read,
        usage_cache_write=usage.cache_write, usage_output=usage.output, retrievals=retrievals,
        fail_open=fail_open, bypass=bypass, error=error, compress_arm=compress_arm, output_arm=output_arm,
        turn_kind=turn_kind, shaped=",".join(c for c in shaped if not c.startswith("skipped:")), session=session, user=user,
        units=_units(outcome),
    )
    return with_needs(entry, needs, reexpanded) if needs or reexpanded else entry


def with_needs(entry: Entry, needs: dict | None, reexpanded: int = 0) -> Entry:
    """The row with its dropped-then-needed counts: the first-time needs by kind, and the re-expansions."""
    needs = needs or {}
    return dataclasses.replace(entry, needed_retrieved=needs.get(needed.RETRIEVED, 0),
                               needed_reread=needs.get(needed.REREAD, 0), needed_guessed=needs.get(needed.GUESSED, 0),
                               reexpanded=needs.get(REEXPANDED, 0) + int(reexpanded or 0))


def _decoded(raw: bytes | None, encoding: str) -> bytes | None:
    """The client's original body without its Content-Encoding (as Intercept decoded it); None if it cannot
    be decoded within Intercept's bound."""
    if raw is None:
        return None
    try:
        return decode_body(raw, encoding, limit=MAX_BODY_BYTES)
    except EncodingError:
        return None


def _parsed_once(data: bytes | None):
    """A function returning `data` parsed as JSON, parsed on the first call only (a parse error each time).
    Callers only read what it returns."""
    done: list = []

    def parsed():
        if not done:
            done.append(json.loads(data))
        return done[0]
    return parsed


class Stats:
    # Its request hook notes when the body as it goes upstream is ready (after Encode); its responseheaders
    # wraps whatever stream Intercept and Retrieve set up.
    AFTER = ("Intercept", "Shape", "Retrieve", "Encode")

    def __init__(self) -> None:
        self.ledger: LedgerWriter | None = None
        self.shared_ledger: LedgerWriter | None = None  # HEADROOM_LEDGER=postgresql://... (storage.pg_ledger)
        self._pool: ThreadPoolExecutor | None = None
        self._pending: set = set()  # rows being counted in the pool
        self._pending_lock = threading.Lock()
        self.recorded = 0  # flows handed to the ledger (tests and /metrics)
        self.needs = Needs()
        self.bill = bill.Conversations()  # the bill without Headroom, per conversation (core.bill)
        self._order = _Turnstile()  # rows meet the bill in the order their flows ended
        # The ledger's conversation ids are keyed by a secret of this process, so a stored id says nothing of
        # the conversation's first message (needed.conversation_id is a plain hash of it, kept in memory).
        self._conversation_key = os.urandom(16)

    def load(self, loader) -> None:
        loader.add_option("headroom_ledger", bool, True,
                          "Record one row of numbers (no content) per LLM request in the ledger under the headroom "
                          "home. Also HEADROOM_LEDGER=0.")
        loader.add_option("headroom_ledger_url", str, "",
                          "A postgresql:// URL: every row is also written to the team's shared ledger there. "
                          "Also HEADROOM_LEDGER=postgresql://...")
        loader.add_option("headroom_ledger_ca", str, "",
                          "The CA bundle the shared ledger's certificate is checked against (sslmode=verify-full "
                          "unless the URL sets one). Also HEADROOM_LEDGER_CA.")
        loader.add_option("headroom_replica", str, "",
                          "This proxy's name in the shared ledger and /metrics (default the host name). Also "
                          "HEADROOM_REPLICA.")

    def running(self) -> None:
        if ctx.options.headroom_ledger and self.ledger is None:
            self.ledger = Ledger(ledger_path()).start()
            url = ctx.options.headroom_ledger_url
            if url and self.shared_ledger is None:
                from headroom.settings import replica_name
                from headroom.storage.pg_ledger import PgLedger

                self.shared_ledger = PgLedger(url, replica=replica_name({"HEADROOM_REPLICA": ctx.options.headroom_replica}),
                                              ca_file=ctx.options.headroom_ledger_ca).start()
            self._pool = ThreadPoolExecutor(max_workers=COUNT_WORKERS, thread_name_prefix="headroom-stats")

    def done(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
            self._pool = None
        if self.ledger is not None:
            self.ledger.close(timeout=5.0)
        if self.shared_ledger is not None:
            self.shared_ledger.close(timeout=5.0)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait for every finished flow to be counted and written (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._pending_lock:
            pending = list(self._pending)
        if pending:
            _, not_done = wait(pending, timeout=timeout)
            if not_done:
                return False
        ok = self.ledger.flush(max(0.0, deadline - time.monotonic())) if self.ledger else True
        if self.shared_ledger is not None:
            ok = self.shared_ledger.flush(max(0.0, deadline - time.monotonic())) and ok
        return ok

    # The request hooks of the other addons ran before this one: the body is now what goes upstream.
    def request(self, flow: http.HTTPFlow) -> None:
        if state_of(flow) is None or flow.response:
            return
        _notes(flow).sent = time.time()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        state = state_of(flow)
        if state is None or flow.response is None:
            return
        previous = flow.response.stream
        if not previous:
            return  # buffered: the usage is read from the whole body when the flow ends
        notes = _notes(flow)
        notes.reader = UsageReader(state.provider, content_encoding=flow.response.headers.get("content-encoding"),
                                   content_type=flow.response.headers.get("content-type"))
        flow.response.stream = self._watch(notes, notes.reader, previous)

    def _watch(self, notes: _Notes, reader: UsageReader, previous):
        inner = previous if callable(previous) else None

        def watch(chunk: bytes):
            out = inner(chunk) if inner is not None else chunk
            if not isinstance(out, (bytes, bytearray)):
                out = b"".join(out)  # the other addon may yield pieces; the client gets the same bytes
            try:
                if out and notes.first_byte is None:
                    notes.first_byte = time.time()
                reader.feed(out)
            except Exception:  # watching must never break the stream the client is reading
                log.debug("usage watch failed", exc_info=True)
            # Nothing rather than b"" (what an addon before held back): mitmproxy sends an empty piece to an
            # HTTP/1.1 client as the empty chunk that ends a chunked body.
            return out if out else []

        return watch

    def response(self, flow: http.HTTPFlow) -> None:
        self._record(flow, error=False)

    def error(self, flow: http.HTTPFlow) -> None:
        # A client that closes as soon as it has a stream's final event (Codex, aider) has the whole answer,
        # even though the flow ends in mitmproxy's "client disconnected" before the upstream's end of body.
        reader = _notes(flow).reader
        self._record(flow, error=not (reader is not None and reader.ended))

    def _record(self, flow: http.HTTPFlow, *, error: bool) -> None:
        state = state_of(flow)
        if state is None or self.ledger is None or self._pool is None:
            return
        notes = _notes(flow)
        if notes.recorded:
            return
        notes.recorded = True
        req, resp = flow.request, flow.response
        request_encoding = req.headers.get("content-encoding", "")
        # Raw here, decoded in the worker with Intercept's bound (mitmproxy's own decoding has none: a 10 KB
        # zstd body took the proxy to 1.8 GB here, on the event loop).
        sent = (req.raw_content or b"", request_encoding)
        streamed_reader = notes.reader
        body = None
        content_type = None
        if resp is not None and streamed_reader is None:
            body = (resp.raw_content, resp.headers.get("content-encoding", ""))
            content_type = resp.headers.get("content-type")
        now = time.time()
        resp_start = resp.timestamp_start if resp is not None else None
        resp_end = (resp.timestamp_end or now) if resp is not None else None
        first_byte = notes.first_byte or resp_start
        outcome = state.outcome
        compress_ms = state.compress_ms or (sum(u.ms for u in outcome.units) if outcome is not None else None)
        args = dict(
            ts=now, provider=state.provider, host=state.host, original=(state.original, request_encoding), sent=sent,
            outcome=outcome,
            modified=state.modified, streaming=bool(state.streaming or streamed_reader is not None),
            status=resp.status_code if resp is not None else None,
            compress_ms=compress_ms if outcome is not None else None,
            overhead_ms=_ms(req.timestamp_end, notes.sent), upstream_ms=_ms(notes.sent, resp_end),
            ttfb_ms=_ms(req.timestamp_end, first_byte), total_ms=_ms(req.timestamp_start, resp_end),
            retrievals=int(state.retrievals or 0), fail_open=bool(state.fail_open), bypass=bool(state.bypass),
            error=error or resp is None,  # an error: the client did not get the whole answer (docs/savings.md)
            # The holdouts' arms and the shaper's notes, for perf's control-vs-treatment tables.
            compress_arm=state.compress_arm, output_arm=state.output_arm, turn_kind=state.turn_kind,
            shaped=state.shaped,
            session=state.session,  # the wrapped session's id (never content), for perf --session
            user=state.user,  # the team user (a name `headroom team add` issued), for perf --by-user and /metrics
        )
        # What the model asked headroom_retrieve for (the retrieval loop noted it), taken now: the flow is over.
        args["retrieved_keys"] = tuple(k.lower() for k in state.retrieved_keys)
        path = req.path
        ticket = self._order.take()
        with self._pending_lock:
            behind = bool(self._pending)  # a row still being counted ended first: this one waits its turn there
        if (not behind and len(sent[0]) <= INLINE_MAX_BYTES and len(state.original or b"") <= INLINE_MAX_BYTES and not request_encoding
                and (body is None or (len(body[0] or b"") <= INLINE_MAX_BYTES and not body[1]))):
            # A small flow's row is counted here, on the loop: less CPU than a hand-off to a thread and back
            # under load (Intercept's INLINE_MAX_BYTES); the ledger's own writer thread writes it.
            self._finish(state, path, args, streamed_reader, body, content_type, ticket)
            self.recorded += 1
            return
        try:
            future = self._pool.submit(self._finish, state, path, args, streamed_reader, body, content_type, ticket)
            with self._pending_lock:
                self._pending.add(future)
            future.add_done_callback(self._done)
            self.recorded += 1
        except RuntimeError:  # shutting down: the pool no longer takes work
            self._order.leave(ticket)
            self.ledger.note_dropped()

    def _needs(self, state, original: bytes | None, retrieved: tuple[str, ...], parsed=None) -> dict | None:
        """This request's first-time needs by kind: its newest turn's re-reads and guesses (core.needed) and
        the runs retrieval answered for it. Never raises: a body it cannot read counts nothing."""
        outcome = state.outcome
        drops = getattr(outcome, "drops", None) if getattr(outcome, "changed", False) else None
        # Stable ids of the re-expansions: the same question re-expands the same output in every later
        # request of the conversation, and each is one cache miss, once.
        reexpansions = tuple(getattr(outcome, "reexpansions", ()) or ())
        if original is None or not (retrieved or drops or reexpansions):
            return None
        try:
            body = parsed() if parsed is not None else json.loads(original)
            if not isinstance(body, dict):
                return None
            conversation = needed.conversation_id(state.provider, body)
            found: tuple[needed.Need, ...] = ()
            if drops:
                found = needed.classify(state.provider, body, outcome, sent=state.body,
                                        retrieved=self.needs.retrieved(conversation))
            pairs = ([(n.kind, n.key) for n in found] + [(needed.RETRIEVED, k) for k in retrieved]
                     + [(REEXPANDED, r) for r in reexpansions])
            return self.needs.first_times(conversation, pairs)
        except Exception:  # a measurement must never cost the row
            log.debug("could not classify what the model needed", exc_info=True)
            return None

    def _bill(self, state, entry: Entry, original: bytes | None, sent: bytes, parsed=None) -> Entry:
        """The row with its place in the conversation's bill (core.bill). Never raises: a body it cannot read
        leaves the row as it was (not measured)."""
        try:
            sent_body = state.body if isinstance(state.body, dict) else json.loads(sent) if sent else None
            original_body = (parsed() if parsed is not None else json.loads(original)) if original else sent_body
            if not isinstance(sent_body, dict) or not isinstance(original_body, dict):
                return entry
            conversation = needed.conversation_id(state.provider, original_body)
            turn = self.bill.turn(conversation, entry.tokens_before - entry.tokens_after,
                                  *bill.prompts_of(state.provider, sent_body, original_body), entry.tokens_after)
            stored = hashlib.blake2b(conversation.encode(), key=self._conversation_key, digest_size=8).hexdigest()
            return dataclasses.replace(entry, conversation=stored, removed_new=turn.removed_new,
                                       removed_again=turn.removed_again, cache_break=turn.cache_break,
                                       break_tokens=turn.break_tokens)
        except Exception:  # a measurement must never cost the row
            log.debug("could not place the request in its conversation's bill", exc_info=True)
            return entry

    def _done(self, future) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    def _finish(self, state, path, args, reader, body, content_type, ticket) -> None:
        try:
            if reader is not None:
                usage, model_seen = reader.finish(), reader.model
            elif body is not None and (decoded := _decoded(*body)):
                usage, model_seen = usage_from_body(state.provider, decoded, content_type=content_type)
            else:
                usage, model_seen = Usage(), None
            if not usage.reported:
                usage = Usage()
            raw, encoding = args["original"]
            if state.fail_open in ("too large", "content-encoding"):  # Intercept could not decode it: nor can we
                args = {**args, "original": None, "sent": b""}
            else:
                args = {**args, "original": _decoded(raw, encoding), "sent": _decoded(*args["sent"]) or b""}
            retrieved = args.pop("retrieved_keys")
            parsed = _parsed_once(args["original"])  # the client's body, for the needs and the bill alike
            # Without stable ids (an Outcome that only counts them), the request's own count.
            reexpanded = 0 if hasattr(state.outcome, "reexpansions") else int(
                getattr(state.outcome, "reexpanded", 0) or 0)
            within: list[str] = []
            if args["original"] is not None:
                try:
                    within = tokens.long_strings(parsed())
                except ValueError:  # not JSON after all: cut at its string ends only
                    pass
            entry = build_entry(model=_model(state, path, model_seen), usage=usage, within=within,
                                **args)  # counted in parallel
            # What a conversation needed and its bill are remembered turn after turn: in the order the flows ended.
            self._order.wait(ticket)
            needs = self._needs(state, args["original"], retrieved, parsed)
            if needs or reexpanded:
                entry = with_needs(entry, needs, reexpanded)
            entry = self._bill(state, entry, args["original"], args["sent"], parsed)
            if self.ledger is not None:
                self.ledger.record(entry)
            if self.shared_ledger is not None:
                self.shared_ledger.record(entry)
        except Exception:  # a row we cannot build is a row lost, never a crash in the proxy
            log.warning("could not record a ledger row", exc_info=True)
            for led in (self.ledger, self.shared_ledger):
                if led is not None:
                    led.note_dropped()
        finally:
            self._order.leave(ticket)
