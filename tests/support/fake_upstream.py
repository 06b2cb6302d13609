"""A fake LLM API server for tests: real TLS with its own test CA, HTTP/1.1 keep-alive and SSE.

It records every request it receives and answers in each provider's format, streaming or not:

    def test_something(fake_upstream):          # the pytest fixture (one server per test)
        fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": "04587734918162531065"}))
        fake_upstream.queue(Reply.text("final answer"))
        ...  # send requests (directly, or through the proxy: see tests/support/proxy.py)
        req = fake_upstream.requests[-1]        # Recorded: method, path, headers, body (raw bytes), json
        assert req.json["messages"][-1]["role"] == "tool"

What it answers (by method + path, like the real APIs):
  POST .../chat/completions             OpenAI Chat Completions (stream: true → SSE chunks, [DONE])
  POST .../responses                    OpenAI Responses (stream: true → typed SSE events)
  POST .../v1/messages                  Anthropic Messages (stream: true → message_start … message_stop)
  POST .../models/M:generateContent     Gemini; :streamGenerateContent (?alt=sse → SSE, else a JSON array)
  POST /v1internal:generateContent      Cloud Code Assist (the Gemini CLI's Google login): Gemini in an envelope,
                                        {model, project, request: {...}} in, {response: {...}, traceId} out;
                                        :loadCodeAssist and :onboardUser answered as for a set-up user
  POST .../publishers/anthropic/models/M:rawPredict, :streamRawPredict
                                        Anthropic Messages on Vertex (the model in the path)
  POST .../v1/messages/count_tokens     Anthropic token count (a rough count; on Vertex count-tokens:rawPredict)
  anything else                         200 {"ok": true, "method": ..., "path": ...} (or a queued Reply.raw)

Replies are taken from the queue in order, one per generation request (count_tokens and "anything
else" only consume Reply.raw). Concurrent clients each get their own replies with
`queue_for(tag, *replies)`: a request whose decoded body contains `tag` takes the next reply keyed to
that tag (before the global queue); with an empty queue the answer is Reply.text(default_text). SSE events
are spaced by `sse_interval` seconds (per reply: `Reply.text(..., interval=0.2)`), so a test can check
that a proxy passes them on as they come (`streamed_as_sent(arrival_times, interval)`). Usage fields are realistic: input tokens ~ body bytes / 4
(`fake.count_tokens`, bytes -> tokens, can be replaced), and reported as a caching provider reports them:
`fake.cache` (PromptCache) reads back a prefix written at a cache_control breakpoint (Anthropic:
cache_read_input_tokens / cache_creation_input_tokens) or, automatically, any earlier prompt of 1024+ tokens
(OpenAI: prompt_tokens_details / input_tokens_details.cached_tokens; Gemini: cachedContentTokenCount).
`fake.bills` lists each generation request's input, cache_read, cache_write and output tokens: the bill.

Gemini requests are checked as Google checks them (`gemini_refusal`): an unknown field, a turn with no
parts, function calls not answered one for one, or (gemini-3 models) a call turn of the current turn
without a thought signature is answered 400 INVALID_ARGUMENT, and recorded in `fake.refused`. Gemini
replies can be given as exact parts (`Reply.parts_`, thoughts and signatures included), and any reply
can be computed from the request (`Reply.dynamic(fn)`, fn(request JSON) -> Reply). A JSON-mode Gemini
request (a client's own side call, like the Gemini CLI's model router) is answered with the simplest
value of its schema and takes nothing from the queue.

Trust: `fake.ca_cert` is the test CA (PEM) that signed the server's leaf; the leaf is valid for the
known LLM host names, localhost and 127.0.0.1 (and any `extra_names`). Give it to a proxy as
`--upstream-ca`, or to a direct client as its CA file. Decoded request bodies: gzip, deflate, br and
zstd Content-Encoding are decoded into `Recorded.decoded` / `.json`; `.body` is always the raw bytes.
"""
from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

__all__ = ["FakeUpstream", "LLM_HOSTS", "Recorded", "Reply", "TestPKI", "fake_upstream", "gemini_refusal", "make_pki",
           "streamed_as_sent"]

# The names the leaf certificate is valid for: the hosts tests route through the proxy.
LLM_HOSTS = (
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "chatgpt.com",
    "openrouter.ai",
    "api.mistral.ai",
    "api.deepseek.com",
    "api.groq.com",
    "api.githubcopilot.com",
    "us-central1-aiplatform.googleapis.com",
    "cloudcode-pa.googleapis.com",
)
MAX_BODY = 512 * 1024 * 1024  # tests send at most a few MB; this only guards against a broken length
HOLD_BOUND_S = 60.0  # a held stream never outlives its test by much, even when the test forgets to release it


def streamed_as_sent(arrivals: list[float], interval: float) -> bool:
    """Did events sent `interval` seconds apart reach the client spread out, not bunched together?

    `arrivals` are the client's arrival times (seconds) of consecutive events. Buffering makes every
    gap ~0; a loaded machine may delay one event and bunch it with the next, so the check asks for the
    whole spread and most gaps, not each gap: at least 3 gaps, a total spread of at least half the
    sending time, and at least half the gaps longer than half the interval.
    """
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    return (len(gaps) >= 3 and arrivals[-1] - arrivals[0] >= 0.5 * interval * len(gaps)
            and sum(g > interval / 2 for g in gaps) * 2 >= len(gaps))


@dataclass(frozen=True)
class TestPKI:
    """A test CA and a leaf it signed, as PEM files in `dir`."""

    __test__ = False  # not a pytest test class
    dir: Path
    ca_cert: Path
    ca_key: Path
    cert: Path  # leaf certificate followed by the CA certificate (full chain)
    key: Path


def make_pki(dir: Path, names: tuple[str, ...] = (), *, ca_name: str = "Headroom fake upstream test CA") -> TestPKI:
    """Create a test CA (tests/support/pki.py: EC P-256, RFC 5280 extensions so Python 3.13 strict mode
    accepts it) and a leaf for LLM_HOSTS + localhost + 127.0.0.1 + `names`."""
    from tests.support.pki import make_ca, make_leaf, write_pems

    dir = Path(dir)
    ca = make_ca(ca_name)
    leaf = make_leaf(ca, *LLM_HOSTS, "localhost", *names, "127.0.0.1", common_name="fake-upstream")
    pki = TestPKI(dir, dir / "test-ca.pem", dir / "test-ca.key", dir / "leaf.pem", dir / "leaf.key")
    write_pems(ca, pki.ca_cert, pki.ca_key)
    write_pems(leaf, pki.cert, pki.key, chain=[ca])
    return pki


@dataclass
class Reply:
    """One scripted answer. Build with the class methods; `FakeUpstream.queue(reply)` to use it.

    kind "text": an assistant message; "tool_call": one call of tool `name` with `arguments`;
    "raw": exactly `status`, `headers`, `body` (for errors or odd bodies, in any format).
    `interval` overrides the server's SSE spacing for this reply; `chunks` is how many pieces a
    streamed text is split into; `delay` is how long the server waits before answering (a slow model);
    `output_tokens` is the output usage it reports (default: a quarter of the text's length, 12 for a call);
    `tail` is how long a stream stays open after its last event before it ends (an upstream whose end of
    body comes late, so a client that closes on the final event closes before the proxy has the end);
    `hold` (a threading.Event) keeps a stream in flight after its first event until the test sets it (bounded
    by HOLD_BOUND_S), so "while a stream runs" is a state the test controls, not a race against the clock.
    """

    kind: str
    text: str = ""
    name: str = ""
    arguments: dict = field(default_factory=dict)
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    interval: float | None = None
    chunks: int = 4
    delay: float = 0.0
    output_tokens: int | None = None
    parts: list = field(default_factory=list)  # kind "parts": a Gemini answer's parts, one streamed chunk each
    fn: Any = None  # kind "dynamic": request JSON -> the Reply to give
    tail: float = 0.0
    hold: threading.Event | None = None

    def usage_output(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        return max(1, len(self.text) // 4) if self.kind == "text" else 12

    @classmethod
    def parts_(cls, parts: list, *, interval: float | None = None) -> "Reply":
        return cls("parts", parts=[dict(p) for p in parts], interval=interval)

    @classmethod
    def dynamic(cls, fn) -> "Reply":
        return cls("dynamic", fn=fn)

    @classmethod
    def text_(cls, text: str, *, interval: float | None = None, chunks: int = 4, delay: float = 0.0,
              output_tokens: int | None = None, tail: float = 0.0, hold: threading.Event | None = None) -> "Reply":
        return cls("text", text=text, interval=interval, chunks=chunks, delay=delay, output_tokens=output_tokens,
                   tail=tail, hold=hold)

    @classmethod
    def tool_call(cls, name: str, arguments: dict | None = None, *, interval: float | None = None,
                  delay: float = 0.0, output_tokens: int | None = None, tail: float = 0.0) -> "Reply":
        return cls("tool_call", name=name, arguments=dict(arguments or {}), interval=interval, delay=delay,
                   output_tokens=output_tokens, tail=tail)

    @classmethod
    def raw(cls, status: int = 200, body: bytes | str | dict = b"", headers: dict | None = None,
            delay: float = 0.0) -> "Reply":
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        elif isinstance(body, str):
            body = body.encode()
        return cls("raw", status=status, body=body, headers=dict(headers or {}), delay=delay)

    @classmethod
    def error(cls, status: int, message: str) -> "Reply":
        return cls.raw(status, {"error": {"type": "fake_error", "message": message}})


# `Reply.text(...)` reads best at call sites; the field is also called `text`, hence the alias.
Reply.text = Reply.text_  # type: ignore[method-assign,assignment]


@dataclass
class Recorded:
    """One request as the fake upstream received it."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes  # raw bytes as received (still content-encoded)
    decoded: bytes  # body with Content-Encoding undone
    json: Any  # decoded body parsed as JSON, or None
    received_at: float  # time.monotonic()
    tls_server_name: str | None = None  # the SNI the client sent

    @property
    def route(self) -> str:
        return urlsplit(self.path).path


def decode_body(body: bytes, encoding: str) -> bytes:
    """Undo a Content-Encoding (gzip, deflate, br, zstd; several comma-separated are undone in reverse)."""
    for enc in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
        if enc in ("gzip", "x-gzip"):
            body = gzip.decompress(body)
        elif enc == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif enc == "br":
            import brotli

            body = brotli.decompress(body)
        elif enc == "zstd":
            import zstandard

            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        elif enc != "identity":
            raise ValueError(f"unknown content-encoding {enc}")
    return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients that hang up mid-stream or fail the handshake are part of what tests do; stay quiet.
        pass


def _rough_tokens(data: bytes) -> int:
    return max(1, len(data) // 4)


OPENAI_MIN_CACHED = 1024  # OpenAI and Gemini cache a prompt automatically from this many tokens on


def _part(x: Any) -> bytes:
    """One prompt part as the fake's cache keys it: canonical JSON, the breakpoint marker left out (a block
    that carried cache_control last turn and none now is the same block)."""
    if isinstance(x, dict):
        x = {k: v for k, v in x.items() if k != "cache_control"}
    return json.dumps(x, sort_keys=True, separators=(",", ":")).encode()


def prompt_parts(kind: str, body: dict) -> tuple[list[bytes], list[int] | None]:
    """The prompt in the provider's cache order, and where the client's cache breakpoints end (part counts);
    None: the provider caches automatically (the whole prompt, when long enough)."""
    if kind == "code_assist":
        body = body.get("request") or {}
    parts: list[bytes] = []
    if kind == "anthropic":
        marks: list[int] = []

        def add(x):
            parts.append(_part(x))
            if isinstance(x, dict) and x.get("cache_control"):
                marks.append(len(parts))
        for tool in body.get("tools") or []:
            add(tool)
        system = body.get("system")
        for block in ([{"type": "text", "text": system}] if isinstance(system, str) else system or []):
            if not str(block.get("text", "")).startswith("x-anthropic-billing-header:"):  # a header, not prompt
                add(block)
        for m in body.get("messages") or []:
            content = m.get("content")
            for block in ([{"type": "text", "text": content}] if isinstance(content, str) else content or []):
                add({"role": m.get("role"), **block} if isinstance(block, dict) else block)
        if body.get("cache_control"):  # automatic caching: a breakpoint on the last block
            marks.append(len(parts))
        return parts, marks
    for key in ("tools", "instructions", "systemInstruction", "system_instruction"):
        if body.get(key):
            parts.append(_part(body[key]))
    history = body.get("messages") or body.get("contents") or body.get("input") or []
    for item in ([history] if isinstance(history, str) else history):
        parts.append(_part(item))
    return parts, None


class PromptCache:
    """The provider's prompt cache, as the fake bills it: a prefix (chained digests of the prompt parts) written
    at a breakpoint is read back by any later request that starts with the same parts. Per model, never
    expiring (a test's conversation lasts seconds)."""

    def __init__(self, count) -> None:
        self.count = count
        self._written: set[bytes] = set()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._written.clear()

    def bill(self, kind: str, model: str, body: dict, total: int) -> tuple[int, int]:
        """(cache_read, cache_write) tokens of this request, of its `total` input tokens."""
        parts, marks = prompt_parts(kind, body)
        sizes = [self.count(p) for p in parts]
        if marks is None:
            marks = [len(parts)] if total >= OPENAI_MIN_CACHED else []
        chain, digest = [], hashlib.sha256(model.encode()).digest()
        for p in parts:
            digest = hashlib.sha256(digest + p).digest()
            chain.append(digest)
        last = max(marks, default=0)
        with self._lock:
            hit = max((i + 1 for i in range(last) if chain[i] in self._written), default=0)
            for m in marks:
                if m:
                    self._written.add(chain[m - 1])
        read = min(total, sum(sizes[:hit]))
        write = min(total - read, sum(sizes[hit:last])) if kind == "anthropic" else 0
        return read, write


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # Nagle + delayed ACK costs ~40 ms per request (platform.md §2)
    server_version = "fake-upstream/1"
    fake: "FakeUpstream"

    def log_message(self, format, *args):  # noqa: A002 - tests want a quiet server
        pass

    def setup(self):
        # The TLS handshake happens here, in the connection's own thread, not in accept(): a slow or
        # failing client must not block the others.
        self.request.settimeout(30)
        self.request.do_handshake()
        super().setup()

    # -- reading -----------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large for the fake upstream")
        return self.rfile.read(n) if n else b""

    def _handle(self) -> None:
        body = self._read_body()
        headers: dict[str, str] = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        try:
            decoded = decode_body(body, headers.get("content-encoding", ""))
        except Exception:
            decoded = body
        try:
            parsed = json.loads(decoded) if decoded else None
        except ValueError:
            parsed = None
        sni = getattr(self.connection, "_headroom_sni", None)
        rec = Recorded(self.command, self.path, headers, body, decoded, parsed, time.monotonic(), sni)
        self.fake._record(rec)
        self.fake._answer(self, rec)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    # -- writing -----------------------------------------------------------------------------
    def send_json(self, status: int, obj: Any, headers: dict | None = None) -> None:
        self.send_bytes(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})

    def send_bytes(self, status: int, data: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def send_stream(self, events: list[bytes], interval: float, content_type: str = "text/event-stream",
                    tail: float = 0.0, hold: threading.Event | None = None) -> None:
        """Chunked transfer, one chunk per event, `interval` seconds apart (the first goes at once; with
        `hold`, the second waits for it to be set, at most HOLD_BOUND_S); the end of the body `tail` seconds
        after the last event."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for i, ev in enumerate(events):
            if i == 1 and hold is not None:
                hold.wait(HOLD_BOUND_S)
            if i and interval:
                time.sleep(interval)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
            self.wfile.flush()
        if tail:
            time.sleep(tail)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {payload}\n\n".encode()


def _split_text(text: str, n: int) -> list[str]:
    if not text:
        return [""]
    n = max(1, min(n, len(text)))
    step = -(-len(text) // n)
    return [text[i : i + step] for i in range(0, len(text), step)]


class FakeUpstream:
    """The fake server. Start with `start()` (or use it as a context manager / the `fake_upstream`
    fixture); `port`, `ca_cert`, `requests`, `queue()`, `wait_for()` are what tests use."""

    def __init__(self, pki: TestPKI, *, sse_interval: float = 0.0, default_text: str = "Hello from the fake upstream.",
                 host: str = "127.0.0.1"):
        self.pki = pki
        self.host = host  # the address it listens on
        self.sse_interval = sse_interval
        self.default_text = default_text
        self.requests: list[Recorded] = []
        self.refused: list[tuple[str, str]] = []  # (path, why) of each request answered 400 as Google would
        self._replies: list[Reply] = []
        self._keyed: dict[str, list[Reply]] = {}  # tag -> replies for requests whose body contains tag
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # How it counts input tokens (bytes -> tokens; set it to give the proxy's calibration a known ratio),
        # its prompt cache, and the bill of every generation request: what a caching provider reports.
        self.count_tokens = _rough_tokens
        self.cache = PromptCache(lambda data: self.count_tokens(data))
        self.bills: list[dict] = []

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def ca_cert(self) -> Path:
        return self.pki.ca_cert

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake upstream first"
        return self._server.server_address[1]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        """A direct URL (no proxy) to this server, e.g. for measuring the baseline."""
        return f"https://{host}:{self.port}{path}"

    def route_for(self, host: str) -> str:
        """The `--route` value that sends `host` to this server."""
        return f"{host}={self.address}"

    def start(self) -> "FakeUpstream":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.pki.cert, self.pki.key)
        ctx.set_alpn_protocols(["http/1.1"])

        def remember_sni(sock, server_name, _ctx):
            sock._headroom_sni = server_name  # noqa: SLF001 - read back by the handler

        ctx.sni_callback = remember_sni
        handler = type("Handler", (_Handler,), {"fake": self})
        server = _Server((self.host, 0), handler, bind_and_activate=True)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        # Handshake in the handler thread, not in accept(): a slow client must not block the others.
        orig_get_request = server.get_request

        def get_request():
            sock, addr = orig_get_request()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock, addr

        server.get_request = get_request  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeUpstream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- scripting and records ---------------------------------------------------------------
    def queue(self, *replies: Reply) -> None:
        """Answer the next generation requests with these replies, in order."""
        with self._lock:
            self._replies.extend(replies)

    def queue_for(self, tag: str, *replies: Reply) -> None:
        """Answer the next generation requests whose decoded body contains `tag` with these replies, in
        order, whatever other requests arrive meanwhile (one FIFO per tag; tags must not contain each other)."""
        with self._lock:
            self._keyed.setdefault(tag, []).extend(replies)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self._keyed.clear()
            self.bills.clear()
        self.cache.clear()

    @property
    def last(self) -> Recorded:
        with self._lock:
            assert self.requests, "the fake upstream has received no request"
            return self.requests[-1]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Recorded]:
        """Block until at least `n` requests were received (AssertionError after `timeout` s)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fake upstream got {len(self.requests)} requests, expected {n}")
                self._cond.wait(left)
            return list(self.requests)

    def _record(self, rec: Recorded) -> None:
        with self._cond:
            self.requests.append(rec)
            self._cond.notify_all()

    def _next_reply(self, generation: bool, decoded: bytes = b"") -> Reply | None:
        with self._lock:
            if generation and self._keyed:
                text = decoded.decode("utf-8", "replace")
                for tag, replies in self._keyed.items():
                    if replies and tag in text:
                        return replies.pop(0)
            if self._replies and (generation or self._replies[0].kind == "raw"):
                return self._replies.pop(0)
        return None

    # -- answering ---------------------------------------------------------------------------
    def _answer(self, h: _Handler, rec: Recorded) -> None:
        route = rec.route
        body = rec.json if isinstance(rec.json, dict) else {}
        kind = None
        if rec.method == "POST":
            if route.endswith("/chat/completions"):
                kind = "openai_chat"
            elif route.endswith("/responses"):
                kind = "openai_responses"
            elif route.endswith("/v1/messages") or (
                    "/publishers/anthropic/models/" in route and route.endswith((":rawPredict", ":streamRawPredict"))
                    and "/count-tokens:" not in route):  # Claude on Vertex: the model in the path
                kind = "anthropic"
            elif route.endswith(("/v1internal:generateContent", "/v1internal:streamGenerateContent")):
                kind = "code_assist"
            elif route.endswith((":generateContent", ":streamGenerateContent")):
                kind = "gemini"
            elif route.endswith("/v1internal:loadCodeAssist"):
                h.send_json(200, {"currentTier": {"id": "standard-tier", "name": "Fake Standard"},
                                  "cloudaicompanionProject": "fake-project"})
                return
            elif route.endswith("/v1internal:onboardUser"):
                h.send_json(200, {"done": True, "response": {"cloudaicompanionProject": {"id": "fake-project"}}})
                return
        if kind in ("gemini", "code_assist"):
            refusal = gemini_refusal(body, wrapped=kind == "code_assist",
                                     model=str(body.get("model") or route.rsplit("/", 1)[-1].split(":")[0]))
            if refusal is not None:
                with self._lock:
                    self.refused.append((rec.path, refusal))
                h.send_json(400, {"error": {"code": 400, "message": refusal, "status": "INVALID_ARGUMENT"}})
                return
        json_mode = (_json_schema(body.get("request") if kind == "code_assist" else body)
                     if kind in ("gemini", "code_assist") else None)
        if json_mode is not None:  # a client's side call (the Gemini CLI's model router): never the script's
            reply = Reply.text(json.dumps(_schema_example(json_mode)), chunks=1)
        else:
            reply = self._next_reply(kind is not None, rec.decoded)
        if reply is not None and reply.kind == "dynamic":
            reply = reply.fn(body)
        if reply is not None and reply.delay > 0:
            time.sleep(reply.delay)
        if reply is not None and reply.kind == "raw":
            h.send_bytes(reply.status, reply.body, reply.headers)
            return
        if kind is None:
            if rec.method == "POST" and route.endswith(("/count_tokens", "/count-tokens:rawPredict")):
                h.send_json(200, {"input_tokens": _rough_tokens(rec.decoded)})
            else:
                h.send_json(200, {"ok": True, "method": rec.method, "path": rec.path})
            return
        reply = reply or Reply.text(self.default_text)
        interval = self.sse_interval if reply.interval is None else reply.interval
        n = next(self._ids)
        model = str(body.get("model") or route.rsplit("/", 1)[-1].split(":")[0] or "fake-model")
        usage_in = self.count_tokens(rec.decoded)
        read, write = self.cache.bill(kind, model, body, usage_in)
        with self._lock:
            self.bills.append({"model": model, "kind": kind, "input": usage_in, "cache_read": read,
                               "cache_write": write, "output": reply.usage_output(), "decoded": rec.decoded})
        usage_in = (usage_in, read, write)
        getattr(self, f"_{kind}")(h, rec, body, reply, interval, n, model, usage_in)

    def _openai_chat(self, h, rec, body, reply, interval, n, model, usage_in):
        cid, created = f"chatcmpl-fake{n}", int(time.time())
        out_tokens = reply.usage_output()
        usage_in, read, _ = usage_in
        usage = {
            "prompt_tokens": usage_in, "completion_tokens": out_tokens, "total_tokens": usage_in + out_tokens,
            "prompt_tokens_details": {"cached_tokens": read, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
        call = {"id": f"call_fake{n}", "type": "function",
                "function": {"name": reply.name, "arguments": json.dumps(reply.arguments)}}
        finish = "stop" if reply.kind == "text" else "tool_calls"
        if not body.get("stream"):
            msg = ({"role": "assistant", "content": reply.text, "refusal": None} if reply.kind == "text"
                   else {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]})
            h.send_json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}],
                "usage": usage, "system_fingerprint": "fp_fake",
            })
            return

        def chunk(delta, finish_reason=None, **extra):
            return _sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                         "system_fingerprint": "fp_fake",
                         "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
                         **extra})

        events = [chunk({"role": "assistant", "content": "" if reply.kind == "text" else None, "refusal": None})]
        if reply.kind == "text":
            events += [chunk({"content": piece}) for piece in _split_text(reply.text, reply.chunks)]
        else:
            events.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                                 "function": {"name": reply.name, "arguments": ""}}]}))
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]}))
        events.append(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(_sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        h.send_stream(events, interval, tail=reply.tail, hold=reply.hold)

    def _openai_responses(self, h, rec, body, reply, interval, n, model, usage_in):
        rid, created = f"resp_fake{n}", int(time.time())
        out_tokens = reply.usage_output()
        usage_in, read, _ = usage_in
        usage = {"input_tokens": usage_in, "input_tokens_details": {"cached_tokens": read},
                 "output_tokens": out_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": usage_in + out_tokens}
        if reply.kind == "text":
            item = {"type": "message", "id": f"msg_fake{n}", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}]}
        else:
            item = {"type": "function_call", "id": f"fc_fake{n}", "call_id": f"call_fake{n}", "name": reply.name,
                    "arguments": json.dumps(reply.arguments), "status": "completed"}

        def response(status, output, usage_):
            return {"id": rid, "object": "response", "created_at": created, "status": status, "model": model,
                    "output": output, "usage": usage_, "error": None, "incomplete_details": None,
                    "instructions": body.get("instructions"), "metadata": {}, "parallel_tool_calls": True,
                    "temperature": 1.0, "tool_choice": "auto", "tools": body.get("tools") or [], "top_p": 1.0,
                    "text": {"format": {"type": "text"}}, "truncation": "disabled", "store": False}

        if not body.get("stream"):
            h.send_json(200, response("completed", [item], usage))
            return
        seq = itertools.count()

        def ev(type_, **data):
            return _sse({"type": type_, "sequence_number": next(seq), **data}, type_)

        events = [ev("response.created", response=response("in_progress", [], None)),
                  ev("response.in_progress", response=response("in_progress", [], None))]
        if reply.kind == "text":
            empty = {**item, "status": "in_progress", "content": []}
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            events.append(ev("response.output_item.added", output_index=0, item=empty))
            events.append(ev("response.content_part.added", item_id=item["id"], output_index=0, content_index=0, part=part))
            for piece in _split_text(reply.text, reply.chunks):
                events.append(ev("response.output_text.delta", item_id=item["id"], output_index=0, content_index=0,
                                 delta=piece, logprobs=[]))
            events.append(ev("response.output_text.done", item_id=item["id"], output_index=0, content_index=0,
                             text=reply.text, logprobs=[]))
            events.append(ev("response.content_part.done", item_id=item["id"], output_index=0, content_index=0,
                             part={**part, "text": reply.text}))
        else:
            events.append(ev("response.output_item.added", output_index=0,
                             item={**item, "arguments": "", "status": "in_progress"}))
            events.append(ev("response.function_call_arguments.delta", item_id=item["id"], output_index=0,
                             delta=item["arguments"]))
            events.append(ev("response.function_call_arguments.done", item_id=item["id"], output_index=0,
                             arguments=item["arguments"]))
        events.append(ev("response.output_item.done", output_index=0, item=item))
        events.append(ev("response.completed", response=response("completed", [item], usage)))
        h.send_stream(events, interval, tail=reply.tail, hold=reply.hold)

    def _anthropic(self, h, rec, body, reply, interval, n, model, usage_in):
        mid = f"msg_fake{n}"
        out_tokens = reply.usage_output()
        usage_in, read, write = usage_in  # Anthropic's input_tokens are the uncached ones
        usage = {"input_tokens": usage_in - read - write, "output_tokens": out_tokens,
                 "cache_creation_input_tokens": write, "cache_read_input_tokens": read}
        if reply.kind == "text":
            block = {"type": "text", "text": reply.text}
            stop = "end_turn"
        else:
            block = {"type": "tool_use", "id": f"toolu_fake{n}", "name": reply.name, "input": reply.arguments}
            stop = "tool_use"
        if not body.get("stream"):
            h.send_json(200, {"id": mid, "type": "message", "role": "assistant", "model": model,
                              "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage})
            return
        events = [
            _sse({"type": "message_start", "message": {
                "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 1}}}, "message_start"),
        ]
        if reply.kind == "text":
            events.append(_sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                               "content_block_start"))
            events.append(_sse({"type": "ping"}, "ping"))
            for piece in _split_text(reply.text, reply.chunks):
                events.append(_sse({"type": "content_block_delta", "index": 0,
                                    "delta": {"type": "text_delta", "text": piece}}, "content_block_delta"))
        else:
            events.append(_sse({"type": "content_block_start", "index": 0,
                                "content_block": {**block, "input": {}}}, "content_block_start"))
            events.append(_sse({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "input_json_delta", "partial_json": json.dumps(reply.arguments)}},
                               "content_block_delta"))
        events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        events.append(_sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                            "usage": {"output_tokens": out_tokens}}, "message_delta"))
        events.append(_sse({"type": "message_stop"}, "message_stop"))
        h.send_stream(events, interval, tail=reply.tail, hold=reply.hold)

    def _gemini(self, h, rec, body, reply, interval, n, model, usage_in, wrap=None):
        out_tokens = reply.usage_output()
        usage_in, read, _ = usage_in
        usage = {"promptTokenCount": usage_in, "candidatesTokenCount": out_tokens,
                 "totalTokenCount": usage_in + out_tokens,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage_in}]}
        if read:
            usage["cachedContentTokenCount"] = read

        def resp(parts, finish=None, with_usage=True):
            cand = {"content": {"parts": parts, "role": "model"}, "index": 0}
            if finish:
                cand["finishReason"] = finish
            out = {"candidates": [cand], "modelVersion": model, "responseId": f"fake{n}"}
            if with_usage:
                out["usageMetadata"] = usage
            return wrap(out) if wrap else out

        if reply.kind == "text":
            pieces = [[{"text": p}] for p in _split_text(reply.text, reply.chunks)]
            whole = [{"text": reply.text}]
        elif reply.kind == "parts":
            pieces = [[p] for p in reply.parts]
            whole = reply.parts
        else:
            pieces = [[{"functionCall": {"name": reply.name, "args": reply.arguments}}]]
            whole = pieces[0]
        if not rec.route.endswith(":streamGenerateContent"):
            h.send_json(200, resp(whole, "STOP"))
            return
        chunks = [resp(p, "STOP" if i == len(pieces) - 1 else None, i == len(pieces) - 1) for i, p in enumerate(pieces)]
        if parse_qs(urlsplit(rec.path).query).get("alt") == ["sse"]:
            h.send_stream([b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks], interval, tail=reply.tail, hold=reply.hold)
        else:  # without alt=sse Gemini streams one JSON array
            body_parts = [b"[" + json.dumps(chunks[0]).encode()] + [b",\r\n" + json.dumps(c).encode() for c in chunks[1:]]
            body_parts[-1] += b"]"
            h.send_stream(body_parts, interval, "application/json", tail=reply.tail, hold=reply.hold)

    def _code_assist(self, h, rec, body, reply, interval, n, model, usage_in):
        self._gemini(h, rec, body.get("request") or {}, reply, interval, n, model, usage_in,
                     wrap=lambda inner: {"response": inner, "traceId": f"fake-trace-{n}"})


def _json_schema(request: Any) -> dict | None:
    """The response schema of a JSON-mode Gemini request ({} for JSON without one), or None."""
    config = request.get("generationConfig") if isinstance(request, dict) else None
    if not isinstance(config, dict) or config.get("responseMimeType") != "application/json":
        return None
    schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
    return schema if isinstance(schema, dict) else {}


def _schema_example(schema: dict) -> Any:
    """The simplest value a JSON schema (OpenAPI or JSON Schema spelling) accepts: what the fake answers."""
    kind = str(schema.get("type", "object")).lower()
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object":
        return {k: _schema_example(v) for k, v in (schema.get("properties") or {}).items() if isinstance(v, dict)}
    return {"string": "fake", "integer": 1, "number": 1, "boolean": False, "array": []}.get(kind)


# What a generateContent request may carry (the REST API takes camelCase and snake_case names alike), and
# what Cloud Code Assist's envelope may (the Gemini CLI's code_assist/converter.ts).
_GEMINI_FIELDS = {"contents", "tools", "toolConfig", "tool_config", "safetySettings", "safety_settings",
                  "systemInstruction", "system_instruction", "generationConfig", "generation_config",
                  "cachedContent", "cached_content", "labels", "model"}
_CODE_ASSIST_FIELDS = {"model", "project", "user_prompt_id", "request", "enabled_credit_types"}


def gemini_refusal(body: Any, *, wrapped: bool = False, model: str = "") -> str | None:
    """Why Google would answer this generateContent request 400, or None (see the module docstring)."""
    if wrapped:
        unknown = sorted(set(body) - _CODE_ASSIST_FIELDS) if isinstance(body, dict) else []
        if unknown:
            return f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        body = body.get("request") if isinstance(body, dict) else None
        fields = _GEMINI_FIELDS - {"model"} | {"session_id"}
    else:
        fields = _GEMINI_FIELDS
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    unknown = sorted(set(body) - fields)
    if unknown:
        return f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for i, c in enumerate(contents):
        if not isinstance(c, dict) or not c.get("parts"):
            return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
    last_user_text = max((i for i, c in enumerate(contents) if c.get("role", "user") == "user"
                          and any(isinstance(p, dict) and "text" in p for p in c["parts"])), default=-1)
    for i, c in enumerate(contents):
        calls = [p for p in c["parts"] if isinstance(p, dict) and "functionCall" in p]
        if c.get("role") != "model" or not calls:
            continue
        nxt = contents[i + 1]["parts"] if i + 1 < len(contents) else None
        if nxt is not None and sum(1 for p in nxt if isinstance(p, dict) and "functionResponse" in p) != len(calls):
            return ("Please ensure that the number of function response parts is equal to the number of "
                    "function call parts of the function call turn.")
        if model.startswith("gemini-3") and i > last_user_text and "thoughtSignature" not in calls[0]:
            return (f"Function call is missing a thought_signature in functionCall parts. The first functionCall "
                    f"part of contents[{i}] needs one.")
    return None


@pytest.fixture(scope="session")
def fake_pki(tmp_path_factory) -> TestPKI:
    """The test CA and leaf, made once per session (cheap, but every fake shares them)."""
    return make_pki(tmp_path_factory.mktemp("fake-upstream-pki"))


@pytest.fixture
def fake_upstream(fake_pki) -> FakeUpstream:
    """A started FakeUpstream for one test; stopped at teardown. Set `.sse_interval` to space events."""
    with FakeUpstream(fake_pki) as fake:
        yield fake
