"""Intercept and Encode: compress the tool outputs of LLM requests; stream LLM responses.

Intercept (early request hook) decides the provider from host + path, decodes and parses the body and
runs core.pipeline.compress_body off the event loop within a time budget; what compressors dropped is
in the store before the request goes on. Encode (the last request hook of ours) writes the body back,
in the same Content-Encoding, only if an addon changed it: an untouched request keeps its exact bytes.
Any failure forwards the original bytes (fail open), counted and logged once per kind.

Codex's WebSocket upgrade on a Responses path (its preferred transport) is answered 426 Upgrade Required
by the proxy itself, so Codex uses its HTTPS transport, which is compressed and where retrieval works;
over a WebSocket neither would happen (HEADROOM_RESPONSES_WEBSOCKET=pass lets it through untouched).
Other clients' WebSockets pass: they might have no fallback.
"""
from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Sequence

from mitmproxy import exceptions, http

from headroom.addon.state import STATE_KEY, LLMRequest, state_of
from headroom.core.compressors import MIN_TOKENS
from headroom.core.encoding import MAX_BODY_BYTES, EncodingError, decode_body
from headroom.core.holdout import CONTROL
from headroom.core.hosts import HostMatcher
from headroom.core.jsonstyle import JsonStyle, detect, dumps
from headroom.core.providers import provider_for
from headroom.core.shaper import DEFAULT_LEVEL
from headroom.core.retrieval.scope import credential_scope
from headroom.logs import describe
from headroom.settings import DEFAULT_TIMEOUT_MS, WEBSOCKET_MODES, SessionSettings, is_on
from headroom.storage.store import DEFAULT_MAX_BYTES, DEFAULT_TTL_SECONDS

if TYPE_CHECKING:
    from headroom.addon.sessions import Sessions
    from headroom.addon.team import Team
    from headroom.core.pipeline import Outcome
    from headroom.core.ports import Store

__all__ = ["Encode", "Intercept", "LLM_HOST_KEY", "HEADERS_KEY", "WEBSOCKET_MODES", "falls_back_to_https",
           "is_responses_websocket", "parse_body"]

log = logging.getLogger("headroom.intercept")

LLM_HOST_KEY = "headroom_llm_host"  # flow.metadata: the request went to a decrypted LLM host
HEADERS_KEY = "headroom_headers"  # flow.metadata: the x-headroom-* request headers, before stripping
# Codex (0.1xx) answers a 426 on its Responses WebSocket by falling back to HTTPS at once; any other
# refusal costs it five reconnect attempts (about 10 s) first.
_WS_REFUSAL = b'{"error":{"type":"invalid_request_error","code":"websocket_not_supported","message":' \
    b'"headroom: this proxy compresses Responses requests over HTTPS; use the HTTPS transport ' \
    b'(or start the proxy with HEADROOM_RESPONSES_WEBSOCKET=pass)"}}'


class _FailOpen(Exception):
    def __init__(self, kind: str, detail: str = ""):
        super().__init__(detail or kind)
        self.kind = kind


def is_responses_websocket(req: http.Request) -> bool:
    """A WebSocket upgrade on a Responses generation path (`/v1/responses`, Codex's backend paths)."""
    if req.method.upper() != "GET" or "websocket" not in req.headers.get("upgrade", "").lower():
        return False
    return provider_for(req.host, req.path, "POST") == "openai_responses"


def falls_back_to_https(req: http.Request) -> bool:
    """A client known to retry over HTTPS when its Responses WebSocket is refused: Codex (CLI, exec, IDE
    and desktop; it names itself in `originator` / User-Agent and sends x-codex-* headers). Any other
    client might have no fallback, so its WebSocket passes (fail open)."""
    for name in ("originator", "user-agent"):
        if req.headers.get(name, "").strip().lower().startswith("codex"):
            return True
    return any(k.lower().startswith("x-codex-") for k in req.headers)


def _decode(raw: bytes, encoding: str) -> bytes:
    """The body without its Content-Encoding, decoded no further than MAX_BODY_BYTES (a small compressed body
    can decode to gigabytes); _FailOpen otherwise."""
    try:
        return decode_body(raw, encoding, limit=MAX_BODY_BYTES)
    except EncodingError as e:
        raise _FailOpen(e.kind, str(e)) from e


def parse_body(raw: bytes, encoding: str) -> dict:
    """A request body decoded and parsed as a JSON object; _FailOpen (with its kind) when it is not one: such a
    request goes upstream as the client sent it."""
    return _parse(_decode(raw, encoding))


def _parse(data: bytes) -> dict:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise _FailOpen("not json", f"body is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise _FailOpen("unknown shape", "body is JSON but not an object")
    return body


def _parse_job(provider: str, path: str, raw: bytes, encoding: str,
               holdout: float) -> tuple[dict, str | None, bytes]:
    """Worker-thread part of Intercept, first step: decode, parse, pick the compression holdout's arm. Returns
    (body, arm, the decoded bytes)."""
    from headroom.core import holdout as hold

    data = _decode(raw, encoding)
    body = _parse(data)
    return body, hold.arm_for(provider, body, path, holdout, hold.COMPRESS), data


def _compress_job(provider: str, path: str, body: dict, deadline: float, store_getter: Callable[[], Store] | None,
                  min_tokens: int = MIN_TOKENS, data: bytes | None = None,
                  abandoned: threading.Event | None = None, scope: str = "") -> tuple[Outcome, JsonStyle | None]:
    """Worker-thread part of Intercept, second step: compress, check that the body can be written back in the
    client's own JSON style (`data`: the bytes `body` was parsed from), and persist what was dropped, unless
    the request went on without waiting for it (`abandoned`: past the time budget, it went uncompressed, and
    what only its compression dropped must not fill the store). `store_getter` None: the caller persists."""
    from headroom.core.pipeline import compress_body

    outcome = compress_body(provider, body, deadline=deadline, path=path, min_tokens=min_tokens)
    style = None
    if outcome.changed and data is not None:
        style = detect(data, body)  # `body` is as parsed: compression copies what it changes
        if style is None:
            raise _FailOpen("json style", "the body does not write back byte-identical outside the tool outputs "
                                          "(duplicate keys, numbers or escapes JSON parsing changes, or formatting)")
    if (store_getter is not None and outcome.changed and outcome.drops
            and not (abandoned is not None and abandoned.is_set())):
        # Before the request goes on: a retrieval for a marker the model sees must always succeed.
        store_getter().put_many(dict(outcome.drops), scope)
    return outcome, style


def _intercept_job(provider: str, path: str, raw: bytes, encoding: str, holdout: float, deadline: float,
                   store_getter: Callable[[], Store], min_tokens: int, abandoned: threading.Event, scope: str,
                   arm: list[str | None]) -> tuple[dict, Outcome | None, JsonStyle | None]:
    """Intercept's worker job: parse, put the holdout's arm in `arm` (the hook reads it even past the budget),
    and, in the treatment arm, compress. Returns (body, outcome or None for the control arm, style)."""
    body, which, data = _parse_job(provider, path, raw, encoding, holdout)
    arm.append(which)
    if which == CONTROL:
        return body, None, None
    outcome, style = _compress_job(provider, path, body, deadline, store_getter, min_tokens, data, abandoned, scope)
    return body, outcome, style


# A request body up to this size is parsed, compressed and written back on the event loop, not in a worker
# thread. Measured under load (docs/benchmarks.md, "Proxy cost"): a hand-off to a thread and back costs
# more than that work on a typical body (parse ~25 us, dumps ~90 us for 17 KB), and a worker busy with
# Python code holds the GIL the loop needs for every socket call (up to sys.getswitchinterval(), 5 ms, at a
# time), so it stalls the loop about as long as doing the work there. Compressing 32 KB of never-seen tool
# output takes ~5 ms at worst (7 MB/s); a larger body, or one in a Content-Encoding, goes to a worker.
INLINE_MAX_BYTES = 32 * 1024


def _warm_up() -> None:
    """Load the tokenizer vocabulary and the relevance model, and run each once."""
    try:
        from headroom.core import relevance, tokens

        tokens.count("warm up")
        relevance.warm_up()  # a model that cannot load says so once, itself; compression works without it
    except Exception as e:  # noqa: BLE001 - a start-up nicety must never take the proxy down
        log.warning("compressor warm-up failed: %s", describe(e))


def _trim() -> None:
    """Give freed heap back to the system (glibc keeps it otherwise: the RSS would not fall)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by the process, just not returned
        pass


_M_ARENA_MAX = -8  # glibc's mallopt parameter


def _one_arena() -> None:
    """One malloc arena for the process. glibc gives threads arenas of their own (64 MB heaps), and a
    vocabulary loaded in one thread and freed later leaves its arena fragmented: measured, a reload after
    an idle release kept ~15 MB more each time, none with one arena. The threads here mostly wait on the GIL
    anyway, so they do not contend for malloc's lock."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, 1)
    except (OSError, AttributeError):  # not glibc
        pass


def _release() -> None:
    """Drop the tokenizer vocabularies, the relevance model, the memo of per-text work and the cached
    compression results: all load or are computed again, the same, on next use. (Not the record of
    re-expanded outputs: that one decides what later turns send.)"""
    from headroom.core import pipeline, relevance, tokens
    from headroom.core.memo import MEMO

    vocabularies, model, chars = tokens.release(), relevance.release(), MEMO.release()
    results = len(pipeline._CACHE._items)
    pipeline._CACHE.clear()  # up to 16 M chars of compressed texts and drops
    gc.collect()
    _trim()
    log.info("idle: released %d tokenizer vocabulary(ies), %s relevance model, %d memo chars, %d cached results",
             vocabularies, "the" if model else "no", chars, results)


DEFAULT_IDLE_S = 300  # HEADROOM_MODELS_IDLE_SECONDS
LOAD_WAIT_S = 30.0  # how long a request waits for a load in progress (~1 s on a busy 2-core box) before failing open


class Models:
    """The compressor's models (tokenizer vocabularies, relevance model) over the proxy's life: loaded in the
    background (at start, or when a request finds them released), released after `idle_s` seconds without a
    compression or a token count (0: never), loaded again when work comes back.

    A compression `acquire`s them first: None when they are loaded, else the Future of the one load in
    progress, which every request arriving meanwhile shares. From `acquire` to `done` the compression is
    counted as active and nothing is released; a release starts only with none active, and a load that
    starts while a release runs waits for it to end (`_work`), so a compression never finds them half gone."""

    def __init__(self, idle_s: float = DEFAULT_IDLE_S, load: Callable[[], None] = _warm_up,
                 release: Callable[[], None] = _release, last_use: Callable[[], float] | None = None,
                 loaded: Callable[[], bool] | None = None) -> None:
        self.idle_s = idle_s
        self._load_fn, self._release_fn = load, release
        self._last_use = last_use if last_use is not None else _tokens_last_use
        self._loaded = loaded if loaded is not None else _any_loaded
        self._lock = threading.Lock()  # the state below; held briefly, also on the event loop
        self._work = threading.Lock()  # a load or a release in progress; taken only off the event loop
        self._ready = False
        self._loading: Future[None] | None = None
        self._active = 0
        self._last = time.monotonic()
        self.loads = self.releases = 0
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def active(self) -> int:
        return self._active

    @property
    def started(self) -> bool:
        """Loaded or loading."""
        return self._ready or self._loading is not None

    def wait(self, timeout: float) -> bool:
        """Wait (bounded) for a load in progress, without starting one; True if loaded."""
        fut = self._loading
        if fut is not None:
            fut.result(timeout)
        return self._ready

    def warm_up(self) -> Future[None] | None:
        """Start loading them unless loaded or loading; the load's Future (None: loaded)."""
        with self._lock:
            return self._start_load()

    def _start_load(self) -> Future[None] | None:
        if self._ready:
            return None
        if self._loading is None:
            fut: Future[None] = Future()
            self._loading = fut
            threading.Thread(target=self._load, args=(fut,), name="headroom-models-load", daemon=True).start()
        return self._loading

    def _load(self, fut: Future[None]) -> None:
        try:
            with self._work:  # after a release in progress
                self._load_fn()
        finally:
            with self._lock:
                self._ready, self._loading = True, None
                self._last = time.monotonic()
                self.loads += 1
            fut.set_result(None)

    def acquire(self) -> Future[None] | None:
        """Count a compression as active (until `done`); None if the models are loaded, else the Future of
        their load (started now if none is in progress) to wait for."""
        with self._lock:
            self._active += 1
            return self._start_load()

    def done(self) -> None:
        with self._lock:
            self._active -= 1
            self._last = time.monotonic()

    def idle_for(self) -> float:
        return time.monotonic() - max(self._last, self._last_use())

    def release_if_idle(self) -> bool:
        """Release them if loaded, no compression is active or loading and nothing used them for idle_s (a
        vocabulary Stats loaded again by itself counts as loaded); True if it did."""
        if self.idle_s <= 0:
            return False
        with self._lock:
            if self._loading is not None or self._active or self.idle_for() < self.idle_s:
                return False
            if not (self._ready or self._loaded()):
                return False
            if not self._work.acquire(blocking=False):  # free: no load is in progress
                return False
            self._ready = False  # from here a compression waits for a new load, which waits for this release
        try:
            self._release_fn()
            self.releases += 1
        except Exception as e:  # noqa: BLE001 - a failed release leaves memory in use, nothing else
            log.warning("releasing the idle compressor models failed: %s", describe(e))
        finally:
            self._work.release()
        return True

    def watch(self) -> None:
        """Look for idleness in a background thread (a few times per idle_s, at most every 30 s)."""
        if self.idle_s <= 0 or self._watch is not None:
            return
        every = min(30.0, max(0.2, self.idle_s / 4))

        def run() -> None:
            while not self._stop.wait(every):
                self.release_if_idle()

        self._watch = threading.Thread(target=run, name="headroom-models-idle", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._stop.set()


def _any_loaded() -> bool:
    from headroom.core import relevance, tokens

    return tokens.loaded() or relevance.loaded()


def _tokens_last_use() -> float:
    # Token counts outside compression (Stats' whole-body counts) keep the vocabulary in use too.
    from headroom.core import tokens

    return tokens.last_use()


class Intercept:
    # Health and TlsPolicy answer their own requests (and failed upstreams) first: nothing to compress then.
    AFTER = ("Health", "TlsPolicy", "Sessions")

    def __init__(self, sessions: Sessions | None = None, team: Team | None = None) -> None:
        self.sessions = sessions  # whose wrapped sessions' settings a flow may run with (make_addons passes it)
        self.team = team  # whose user a flow's connection named (team mode): its drops are scoped to that user
        self.matcher = HostMatcher()
        self.compress = True
        self.bypass = False  # HEADROOM_BYPASS: every request forwarded untouched, counted as bypassed
        self.timeout_s = DEFAULT_TIMEOUT_MS / 1000
        self.websocket_mode = "http"
        self.compress_holdout = 0.0  # HEADROOM_COMPRESS_HOLDOUT: the fraction of conversations left uncompressed
        self.min_tokens = MIN_TOKENS
        self.store_limits = (DEFAULT_TTL_SECONDS, DEFAULT_MAX_BYTES)
        self.store_url = ("", "")  # HEADROOM_STORE and its CA bundle: "" is the SQLite store
        self.failures: Counter[str] = Counter()  # fail-open count by kind, for Stats and Admin
        self._logged: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._store = None
        self._store_lock = threading.Lock()
        self.models = Models()  # the tokenizer and relevance model: loaded, released when idle, loaded again
        _one_arena()  # before the worker threads exist

    def load(self, loader) -> None:
        loader.add_option("headroom_compress", bool, True, "Compress tool outputs in LLM requests.")
        loader.add_option("headroom_bypass", bool, False,
                          "Forward every LLM request untouched, counted as bypassed (as x-headroom-bypass: 1 does).")
        loader.add_option(
            "headroom_extra_hosts", Sequence[str], [],
            "More LLM API hosts (names or globs) to decrypt and compress, besides the built-in list.",
        )
        loader.add_option(
            "headroom_compress_timeout_ms", int, DEFAULT_TIMEOUT_MS,
            "Time budget for compressing one request; past it the original goes upstream.",
        )
        loader.add_option(
            "headroom_responses_websocket", str, "http",
            "Codex's WebSocket upgrades on Responses paths: 'http' answers 426 so it uses HTTPS (compressed); "
            "'pass' lets them through untouched.",
            choices=WEBSOCKET_MODES,
        )
        loader.add_option("headroom_min_tokens", int, MIN_TOKENS,
                          "Tool outputs smaller than this many tokens pass untouched.")
        loader.add_option("headroom_compress_holdout", float, 0.0,
                          "Fraction (0 to 1) of conversations forwarded uncompressed as a control group.")
        loader.add_option("headroom_relevance_model", bool, True,
                          "Rank by meaning with the bundled MiniLM model (off: lexical relevance only).")
        loader.add_option("headroom_model_dir", str, "",
                          "Folder of the relevance model files; empty is the package's own.")
        loader.add_option("headroom_models_idle_seconds", int, DEFAULT_IDLE_S,
                          "Release the tokenizer and relevance model after this many seconds without a request "
                          "(they load again, ~1 s, when one comes, outside its compression budget); 0 keeps them.")
        loader.add_option("headroom_ccr_ttl", int, DEFAULT_TTL_SECONDS,
                          "Seconds an original stays retrievable after the last request that carried its marker.")
        loader.add_option("headroom_ccr_max_bytes", int, DEFAULT_MAX_BYTES,
                          "Size cap of the store of originals; least recently used entries go first.")
        loader.add_option("headroom_store", str, "",
                          "The shared store of originals: redis://[user:pass@]host:port/db or rediss://... "
                          "(HEADROOM_STORE, docs/team.md); empty: the SQLite store under the headroom home.")
        loader.add_option("headroom_store_ca", str, "",
                          "CA bundle a rediss:// store's certificate is checked against (HEADROOM_STORE_CA).")
        # mitmproxy calls configure() only for options that change after this: the fields start at the
        # options' defaults (set in __init__).

    def configure(self, updated) -> None:
        from mitmproxy import ctx

        if "headroom_compress" in updated:
            self.compress = ctx.options.headroom_compress
        if "headroom_bypass" in updated:
            self.bypass = ctx.options.headroom_bypass
        if "headroom_extra_hosts" in updated:
            try:
                self.matcher = HostMatcher(ctx.options.headroom_extra_hosts)
            except ValueError as e:
                raise exceptions.OptionsError(str(e)) from e
        if "headroom_compress_timeout_ms" in updated:
            if ctx.options.headroom_compress_timeout_ms <= 0:
                raise exceptions.OptionsError("headroom_compress_timeout_ms must be positive")
            self.timeout_s = ctx.options.headroom_compress_timeout_ms / 1000
        if "headroom_responses_websocket" in updated:
            mode = ctx.options.headroom_responses_websocket
            if mode not in WEBSOCKET_MODES:
                raise exceptions.OptionsError(f"headroom_responses_websocket must be http or pass, not {mode!r}")
            self.websocket_mode = mode
        if "headroom_min_tokens" in updated:
            if ctx.options.headroom_min_tokens < 0:
                raise exceptions.OptionsError("headroom_min_tokens must be 0 or more")
            self.min_tokens = ctx.options.headroom_min_tokens
        if "headroom_compress_holdout" in updated:
            if not 0.0 <= ctx.options.headroom_compress_holdout <= 1.0:
                raise exceptions.OptionsError("headroom_compress_holdout must be from 0 to 1")
            self.compress_holdout = ctx.options.headroom_compress_holdout
        if updated & {"headroom_relevance_model", "headroom_model_dir"}:
            from headroom.core import relevance

            relevance.configure(enabled=ctx.options.headroom_relevance_model,
                                directory=ctx.options.headroom_model_dir or None)
        if "headroom_models_idle_seconds" in updated:
            if ctx.options.headroom_models_idle_seconds < 0:
                raise exceptions.OptionsError("headroom_models_idle_seconds must be 0 (never release) or more")
            self.models.idle_s = ctx.options.headroom_models_idle_seconds
        if updated & {"headroom_ccr_ttl", "headroom_ccr_max_bytes"}:
            if ctx.options.headroom_ccr_ttl <= 0 or ctx.options.headroom_ccr_max_bytes <= 0:
                raise exceptions.OptionsError("headroom_ccr_ttl and headroom_ccr_max_bytes must be positive")
            self.store_limits = (ctx.options.headroom_ccr_ttl, ctx.options.headroom_ccr_max_bytes)
        if updated & {"headroom_store", "headroom_store_ca"}:
            self.store_url = (ctx.options.headroom_store, ctx.options.headroom_store_ca)

    def own_settings(self) -> SessionSettings:
        """What a flow of no wrapped session runs with: the proxy's own options (the shaper's are Shape's,
        declared by it; their defaults when it is not loaded)."""
        from mitmproxy import ctx

        opts = ctx.options
        return SessionSettings(compress=self.compress, bypass=self.bypass, compress_holdout=self.compress_holdout,
                               min_tokens=self.min_tokens,
                               output_shaper=bool(getattr(opts, "headroom_output_shaper", False)),
                               output_shaper_level=int(getattr(opts, "headroom_output_shaper_level", DEFAULT_LEVEL)),
                               output_shaper_effort=bool(getattr(opts, "headroom_output_shaper_effort", True)),
                               output_holdout=float(getattr(opts, "headroom_output_holdout", 0.0)))

    def settings_for(self, flow: http.HTTPFlow) -> tuple[str | None, SessionSettings]:
        own = self.own_settings()
        return self.sessions.settings_for(flow, own) if self.sessions is not None else (None, own)

    def running(self) -> None:
        # Load the compressor's assets now, in the background (0.5-1.5 s), so the first request finds them
        # ready; they are released after HEADROOM_MODELS_IDLE_SECONDS without requests. A pure gateway never
        # loads them, until a wrapped session that compresses registers (then, from the admin thread, the same
        # way). Either way a request that finds them not loaded waits for them outside its time budget.
        self.models.watch()
        if self.sessions is not None:
            self.sessions.on_register = lambda s: self.warm_up() if s.settings.compress else None
        if self.compress or (self.sessions is not None and any(s.settings.compress for s in self.sessions.all())):
            self.warm_up()

    def warm_up(self) -> None:
        self.models.warm_up()

    def done(self) -> None:
        self.models.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def shared_store(self):
        """The store this addon writes drops to, opened on first use: Retrieve reads it through the same
        object, so what was written moments ago is known without a read (SQLiteStore.issued)."""
        return self._get_store()

    def _get_store(self):
        with self._store_lock:  # called from the worker threads; open the store once
            if self._store is None:
                from headroom.storage.store import open_store

                ttl, max_bytes = self.store_limits
                url, ca = self.store_url
                self._store = open_store(ttl_seconds=ttl, max_bytes=max_bytes, url=url, ca_file=ca)
            return self._store

    def _store_path(self) -> str:
        store = self._store
        return str(getattr(store, "path", None) or getattr(store, "url", None) or "under the headroom home")

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="headroom-compress")
        return self._pool

    def fail_open(self, state: LLMRequest, kind: str, detail: str) -> None:
        state.fail_open = kind
        self.failures[kind] += 1
        if kind not in self._logged:  # once per kind: a broken client must not flood the log
            self._logged.add(kind)
            log.warning("forwarded a request (%s) unchanged, %s: %s", state.provider, kind, detail)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or not flow.live or not self.matcher(flow.request.host):
            return
        flow.metadata[LLM_HOST_KEY] = True
        req = flow.request
        session, settings = self.settings_for(flow)  # once per flow: the session's, or the proxy's own
        if (self.websocket_mode == "http" and settings.compress and is_responses_websocket(req)
                and falls_back_to_https(req)):
            flow.response = http.Response.make(426, _WS_REFUSAL, {"content-type": "application/json"})
            return
        provider = provider_for(req.host, req.path, req.method)
        if provider is None or flow.websocket is not None or "upgrade" in req.headers:
            return
        user = self.team.user_for(flow) if self.team is not None else None
        state = LLMRequest(provider=provider, host=req.host, path=req.path, session=session, settings=settings,
                           user=user, scope=credential_scope(req.headers.items(multi=True), req.path, user=user))
        state.original = req.raw_content  # for Stats' exact before-count; a reference, decoded off the loop
        flow.metadata[STATE_KEY] = state
        if settings.bypass or is_on(req.headers.get("x-headroom-bypass")):
            state.bypass = True
            return
        if not settings.compress or not req.raw_content:
            return
        handed: list[bool] = []  # [True] once a compression job owns the models' use (it ends it)
        loading = self.models.acquire()
        try:
            if loading is not None and not await self._wait_for_models(state, loading):
                return
            await self._compress_within_budget(state, req, handed)
        finally:
            if not handed:
                self.models.done()

    async def _wait_for_models(self, state: LLMRequest, loading: Future[None]) -> bool:
        """Wait for the models' load in progress (shared with every request waiting), up to LOAD_WAIT_S; past
        that the request goes on uncompressed (False)."""
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(loading)), LOAD_WAIT_S)
        except (asyncio.TimeoutError, TimeoutError):
            self.fail_open(state, "models loading", f"the compressor's models took over {LOAD_WAIT_S:.0f} s to load")
            return False
        return True

    async def _compress_within_budget(self, state: LLMRequest, req: http.Request, handed: list[bool]) -> None:
        started = time.monotonic()  # the budget starts once the models are loaded
        try:
            body, outcome = await self._compress(state, req, started + self.timeout_s, handed)
        except _FailOpen as e:
            self.fail_open(state, e.kind, str(e))
            return
        except (asyncio.TimeoutError, TimeoutError):
            self.fail_open(state, "timeout", f"compression took longer than {self.timeout_s * 1000:.0f} ms")
            return
        except Exception as e:  # fail open on anything: the request must go out
            from headroom.core.pipeline import DeadlineExceeded

            from headroom.storage import disk_full

            from headroom.storage.redis_store import StoreUnreachable

            if isinstance(e, StoreUnreachable):  # a marker must never go unretrievable: uncompressed instead
                self.fail_open(state, "store unreachable", f"{e}; requests go upstream uncompressed until it answers")
                return
            if disk_full(e):  # the store cannot keep what compression drops: a marker must never go unretrievable
                self.fail_open(state, "disk full", f"the retrieval store {self._store_path()} cannot grow: its disk "
                                                   "is full; requests go upstream uncompressed until there is space")
                return
            kind = "timeout" if isinstance(e, DeadlineExceeded) else f"error {type(e).__name__}"
            self.fail_open(state, kind, describe(e))  # never the message: it may quote the body
            return
        finally:
            state.compress_ms = (time.monotonic() - started) * 1000
        state.streaming = body.get("stream") is True or ":streamGenerateContent" in req.path
        if outcome is None:  # the control arm: the original bytes go on, no retrieval tool (body stays None)
            return
        state.outcome = outcome
        if outcome.changed:
            state.body = outcome.body
            state.modified = True
        else:
            state.body = body

    async def _compress(self, state: LLMRequest, req: http.Request, deadline: float,
                        handed: list[bool]) -> tuple[dict, Outcome | None]:
        """The body and its compression (None for the holdout's control arm), within the time budget: on the
        loop for a small body (`_compress_inline`), else off it in one worker job (parse, arm, compress: each hand-off to a thread and back
        costs more CPU under load than parsing a typical body, docs/benchmarks.md); the state is written here,
        on the loop, from what the worker returns. The job ends the models' use when it ends (`handed`), even
        past the budget: it may still be using them."""
        loop = asyncio.get_running_loop()
        raw = req.raw_content or b""
        # Inline once the store is open (opening it is IO) and only for a body as sent (a small gzip or zstd body
        # may decode to far more).
        if (len(raw) <= INLINE_MAX_BYTES and self._store is not None
                and req.headers.get("content-encoding", "").strip().lower() in ("", "identity")):
            return await self._compress_inline(state, req, raw, deadline)
        abandoned = threading.Event()
        arm: list[str | None] = []  # the job's holdout arm, as soon as it has parsed the body
        submitted = self._executor().submit(_intercept_job, state.provider, req.path, req.raw_content or b"",
                                            req.headers.get("content-encoding", ""), state.settings.compress_holdout,
                                            deadline, self._get_store, state.settings.min_tokens, abandoned,
                                            state.scope, arm)
        submitted.add_done_callback(lambda _: self.models.done())  # run, failed or cancelled before it ran
        handed.append(True)
        job = asyncio.wrap_future(submitted, loop=loop)
        try:
            body, outcome, state.style = await asyncio.wait_for(job, max(0.0, deadline - time.monotonic()))
        except BaseException:
            abandoned.set()
            raise
        finally:
            if arm:  # known once parsed: a timeout while compressing still leaves a treatment request
                state.compress_arm = arm[0]
        return body, outcome

    async def _compress_inline(self, state: LLMRequest, req: http.Request, raw: bytes,
                               deadline: float) -> tuple[dict, Outcome | None]:
        """A small body (INLINE_MAX_BYTES) parsed and compressed on the event loop; only the store write, IO
        that may wait for another writer, goes to a worker, and the request goes on once it is done."""
        body, arm, data = _parse_job(state.provider, req.path, raw, req.headers.get("content-encoding", ""),
                                     state.settings.compress_holdout)
        state.compress_arm = arm
        if arm == CONTROL:
            return body, None
        outcome, style = _compress_job(state.provider, req.path, body, deadline, None, state.settings.min_tokens, data)
        if time.monotonic() > deadline:  # done, but past the budget: as a worker's result would be, it is not used
            raise asyncio.TimeoutError
        state.style = style
        if outcome.changed and outcome.drops:
            store = self._get_store()
            # What this process wrote moments ago is not written again (SQLiteStore.refresh_s): a resent output's
            # drops usually need no IO, and then no thread.
            todo = store.unwritten(outcome.drops, state.scope)
            if todo:
                written = self._executor().submit(store.put_many, todo, state.scope)
                await asyncio.wait_for(asyncio.wrap_future(written), max(0.0, deadline - time.monotonic()))
        return body, outcome

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or not flow.metadata.get(LLM_HOST_KEY):
            return
        if callable(flow.response.stream) or flow.response.stream:
            return
        ctype = flow.response.headers.get("content-type", "").lower()
        chunked = "content-length" not in flow.response.headers
        st = state_of(flow)
        # SSE and chunked bodies pass chunk by chunk (invariant 7); a plain JSON answer is small and
        # may be wanted whole by Retrieve, so it is left buffered.
        if "text/event-stream" in ctype or chunked or (st is not None and st.streaming):
            flow.response.stream = True


def _encode_job(body: dict, encoding: str, style: JsonStyle | None, original: bytes | None) -> bytes:
    """The changed body in the client's JSON style (found here from the original when Intercept did not
    change the body itself), in the request's Content-Encoding; _FailOpen when no style writes it back."""
    from mitmproxy.net import encoding as mencoding

    if style is None:
        data = decode_body(original or b"", encoding, limit=MAX_BODY_BYTES)
        style = detect(data, json.loads(data))
        if style is None:
            raise _FailOpen("json style", "the body does not write back byte-identical")
    data = dumps(body, style)
    enc = encoding.strip().lower()
    return data if enc in ("", "identity") else mencoding.encode(data, enc)


class Encode:
    """The last request hook of ours: re-encode a changed body; strip x-headroom-* headers."""

    AFTER = ("Intercept", "Shape", "Retrieve")  # writes back the body they changed, once

    def __init__(self) -> None:
        self.failures: Counter[str] = Counter()
        self._pool: ThreadPoolExecutor | None = None

    def done(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or not flow.metadata.get(LLM_HOST_KEY):
            return
        internal = {k: v for k, v in flow.request.headers.items() if k.lower().startswith("x-headroom-")}
        if internal:
            flow.metadata[HEADERS_KEY] = internal
            for k in internal:
                flow.request.headers.pop(k, None)
        st = state_of(flow)
        if st is None or not st.modified or st.body is None:
            return
        encoding = flow.request.headers.get("content-encoding", "")
        try:
            if len(st.original or b"") <= INLINE_MAX_BYTES and not encoding:
                raw = _encode_job(st.body, encoding, st.style, st.original)
            else:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="headroom-encode")
                raw = await asyncio.get_running_loop().run_in_executor(self._pool, _encode_job, st.body, encoding,
                                                                       st.style, st.original)
        except Exception as e:  # the original bytes go
            st.modified = False
            st.fail_open = e.kind if isinstance(e, _FailOpen) else f"encode {type(e).__name__}"
            if not self.failures[st.fail_open]:
                log.warning("forwarded a request (%s) unchanged, re-encoding failed: %s", st.provider, e)
            self.failures[st.fail_open] += 1
            return
        flow.request.raw_content = raw
        if "transfer-encoding" not in flow.request.headers:
            flow.request.headers["content-length"] = str(len(raw))
