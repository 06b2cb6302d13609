"""Admin: a loopback-only HTTP server inside the proxy for the dashboard, /stats (JSON) and /metrics (Prometheus),
and /sessions, where `headroom wrap` registers its session's settings (addon/sessions.py).

It runs in its own thread (a stdlib ThreadingHTTPServer), so reading the ledger never touches the proxy's
event loop. Every figure comes from `storage.report.build_report`, the same report `headroom perf` prints;
with a shared ledger, /stats' "team" is that report over the team's database (storage.team_view).
It answers loopback peers only, and only requests addressed to a loopback name (a web page that
rebinds its own DNS name to 127.0.0.1 still cannot read it).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import parse_qs, urlsplit

from headroom import __version__
from headroom.storage.ledger import ledger_path, open_reader
from headroom.storage.report import Report, build_report, parse_period, recent, report_json

if TYPE_CHECKING:
    from headroom.addon.chain import Chain
    from headroom.addon.sessions import Sessions
    from headroom.addon.stats import Stats
    from headroom.storage.team_view import TeamView

__all__ = ["Admin", "AdminServer", "is_loopback", "render_metrics"]

log = logging.getLogger(__name__)

AUTO_PORT = 0  # option value: the proxy's port + 1, or any free port if that one is taken
DISABLED = -1
DEFAULT_PERIOD = "24h"  # what `headroom perf` shows by default, so both open on the same figures
RECENT_ROWS = 50
# A year of heavy use is ~100k rows and a summary of it ~1 s of SQLite: several dashboard tabs and a scraper
# share one computation for this long instead of each paying for it.
STATS_TTL_S = 1.0
METRICS_TTL_S = 5.0
MAX_SESSION_BODY = 64 * 1024  # a registration is a few hundred bytes
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]", "::1"}


def is_loopback(peer: str) -> bool:
    """True for 127.0.0.0/8, ::1 and their IPv4-mapped forms."""
    try:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _host_is_loopback(host_header: str | None) -> bool:
    if not host_header:
        return True  # HTTP/1.0 clients and curl --http1.0 may omit it; the peer check still applies
    host = host_header.strip().lower()
    if host.startswith("["):
        name = host[: host.find("]") + 1] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in _LOOPBACK_NAMES or name.endswith(".localhost") or is_loopback(name.strip("[]"))


def _static_dir():
    return resources.files("headroom").joinpath("dashboard", "static")


def _esc(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v) -> str:
    if v is None:
        return "NaN"
    return repr(float(v)) if isinstance(v, float) else str(int(v))


def render_metrics(all_time: Report, window: Report, live: dict, replica: str = "") -> str:
    """Prometheus text format (0.0.4): counters over the whole ledger, latency gauges over `window`. Every
    sample carries `replica` (HEADROOM_REPLICA, default the host name) when given, so a team's scrapes of
    several replicas add up without relabelling."""
    out: list[str] = []

    def family(name: str, kind: str, help_: str, samples: list[tuple[dict, object]]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if replica:
                labels = {"replica": replica, **labels}
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{lab}}} {_num(value)}" if lab else f"{name} {_num(value)}")

    t = all_time.totals
    family("headroom_requests_total", "counter", "LLM requests recorded in the ledger.", [({}, t.requests)])
    family("headroom_compressed_requests_total", "counter", "LLM requests the compression pipeline ran on.",
           [({}, t.compressed_requests)])
    family("headroom_tokens_before_total", "counter",
           "Tokens before compression: scope=request is the whole request body, scope=tool_outputs the tool outputs alone.",
           [({"scope": "request"}, t.tokens_before), ({"scope": "tool_outputs"}, t.tool_tokens_before)])
    family("headroom_tokens_after_total", "counter", "Tokens sent upstream, same scopes as headroom_tokens_before_total.",
           [({"scope": "request"}, t.tokens_after), ({"scope": "tool_outputs"}, t.tool_tokens_after)])
    # Gauges, not counters: a request can cost tokens (the retrieval tool's definition), so these may go down.
    family("headroom_tokens_saved", "gauge", "Tokens before minus after over the whole ledger, same scopes.",
           [({"scope": "request"}, t.tokens_saved), ({"scope": "tool_outputs"}, t.tool_tokens_saved)])
    u = t.usage
    family("headroom_provider_usage_tokens_total", "counter",
           "Tokens the provider reported: input (all, cache included), cache_read, cache_write, output.",
           [({"kind": k}, getattr(u, k)) for k in ("input", "cache_read", "cache_write", "output")])
    family("headroom_retrievals_total", "counter", "headroom_retrieve calls answered by the proxy.",
           [({}, t.retrievals)])
    n = all_time.needed
    family("headroom_dropped_needed_total", "counter",
           "Dropped runs the model needed later, by how it got them: retrieved (headroom_retrieve), reread (its own "
           "tool: Read, sed -n, grep), guessed (edited or quoted lines it was never shown).",
           [({"kind": k}, getattr(n, k)) for k in ("retrieved", "reread", "guessed")])
    family("headroom_reexpanded_total", "counter",
           "Earlier tool outputs re-expanded because a later question named what they dropped (one prompt-cache "
           "miss each).", [({}, n.reexpanded)])
    family("headroom_fail_open_total", "counter", "Requests forwarded untouched because compression failed.",
           [({}, t.fail_open)])
    family("headroom_bypass_total", "counter", "Requests that asked to bypass compression.", [({}, t.bypass)])
    family("headroom_errors_total", "counter",
           "LLM flows whose client did not get the whole answer (a stream's final event it got: not one).",
           [({}, t.errors)])
    if t.usd_saved is not None:
        family("headroom_usd_saved", "gauge",
               "Saved on the bill, in dollars: removed tokens priced where they sat (new input or a cache write the "
               "first time in a conversation, a cache read after), calibrated to the provider's token counts, minus "
               "the cache breaks Headroom caused; list prices, models with a known price only.", [({}, t.usd_saved)])
        family("headroom_usd_cache_breaks", "gauge", "What the cache breaks Headroom caused cost (taken off "
               "headroom_usd_saved).", [({}, t.usd_cache_breaks)])
    family("headroom_tokens_removed", "gauge", "Tokens removed from the requests sent (our o200k count, every "
           "request summed; scope=once counts each removed span once per conversation).",
           [({"scope": "requests"}, t.tokens_removed), ({"scope": "once"}, t.tokens_removed_new)])
    family("headroom_cache_breaks_total", "counter", "Requests whose cached prompt prefix changed from the previous "
           "turn's, by who changed it.", [({"cause": "headroom"}, t.cache_breaks_headroom),
                                         ({"cause": "client"}, t.cache_breaks_client)])
    family("headroom_model_token_ratio", "gauge", "Provider-reported input tokens per token of our count (the "
           "calibration), per model that has usage.",
           [({"model": m.model, "provider": m.provider}, m.token_ratio) for m in all_time.per_model
            if m.token_ratio is not None])
    family("headroom_model_requests_total", "counter", "LLM requests per model.",
           [({"model": m.model, "provider": m.provider}, m.requests) for m in all_time.per_model])
    family("headroom_model_tokens_saved", "gauge", "Whole-request tokens saved per model.",
           [({"model": m.model, "provider": m.provider}, m.tokens_saved) for m in all_time.per_model])
    if all_time.per_user:  # team mode
        family("headroom_user_requests_total", "counter", "LLM requests per team user.",
               [({"user": u.user}, u.requests) for u in all_time.per_user])
        family("headroom_user_tokens_before_total", "counter", "Whole-request tokens before compression, per team user.",
               [({"user": u.user}, u.tokens_before) for u in all_time.per_user])
        family("headroom_user_tokens_saved", "gauge", "Whole-request tokens saved per team user.",
               [({"user": u.user}, u.tokens_saved) for u in all_time.per_user])
    family("headroom_content_type_tokens_before_total", "counter", "Tool-output tokens before compression, per content type.",
           [({"content_type": c.content_type}, c.tokens_before) for c in all_time.per_content_type])
    family("headroom_content_type_tokens_after_total", "counter", "Tool-output tokens after compression, per content type.",
           [({"content_type": c.content_type}, c.tokens_after) for c in all_time.per_content_type])
    o = all_time.output_shaping
    if o is not None:
        family("headroom_output_shaped_requests_total", "counter",
               "Requests the output shaper changed (HEADROOM_OUTPUT_SHAPER).", [({}, o.shaped_requests)])
        arms = [(g, arm, getattr(g, name)) for g in o.groups for arm, name in (("treatment", "shaped"),
                                                                                 ("control", "control"))]
        family("headroom_output_turns", "gauge",
               "Turns with provider-reported usage per output-holdout arm (treatment shaped, control unshaped), "
               "model ((all) for every model) and turn kind.",
               [({"arm": arm, "model": g.model, "turn_kind": g.turn_kind}, a.turns) for g, arm, a in arms])
        # Only where both arms have enough turns (perf's "not enough data yet" otherwise): a mean and its
        # 95% interval, never one without the other.
        for bound, key in (("mean", "mean"), ("ci_low", "ci_low"), ("ci_high", "ci_high")):
            family(f"headroom_output_tokens_per_turn_{bound}", "gauge",
                   f"Output tokens per turn ({bound.replace('_', ' ')} of the 95% t interval for ci_*), same labels.",
                   [({"arm": arm, "model": g.model, "turn_kind": g.turn_kind}, getattr(a, key))
                    for g, arm, a in arms if g.enough])
        for bound, key in (("", "difference"), ("_ci_low", "difference_ci_low"), ("_ci_high", "difference_ci_high")):
            family(f"headroom_output_tokens_per_turn_difference{bound}", "gauge",
                   "Shaped minus unshaped output tokens per turn (Welch 95% interval for _ci_*), where both arms "
                   "have enough turns.",
                   [({"model": g.model, "turn_kind": g.turn_kind}, getattr(g, key)) for g in o.groups if g.enough])
    samples = []
    for stage, d in window.latency_ms.by_stage():
        for q, key in (("0.5", "p50"), ("0.95", "p95"), ("1", "max")):
            if getattr(d, key) is not None:
                samples.append(({"stage": stage, "quantile": q}, getattr(d, key)))
    family("headroom_latency_ms", "gauge",
           f"Latency in ms over the last {DEFAULT_PERIOD} (nearest-rank quantiles; 1 = max): compression, "
           "overhead (proxy time before forwarding), ttfb, upstream.", samples)
    family("headroom_ledger_dropped_total", "counter", "Ledger rows lost (queue full, disk full, database locked).",
           [({}, live.get("ledger_dropped", 0))])
    if "shared_ledger_dropped" in live:
        family("headroom_shared_ledger_dropped_total", "counter", "Rows the shared PostgreSQL ledger did not take "
               "(database down or refusing; each replica counts its own).", [({}, live["shared_ledger_dropped"])])
        family("headroom_shared_ledger_written_total", "counter", "Rows written to the shared PostgreSQL ledger.",
               [({}, live.get("shared_ledger_written", 0))])
    family("headroom_up", "gauge", "1 while the proxy runs.", [({"version": __version__}, 1)])
    return "\n".join(out) + "\n"


class _Handler(BaseHTTPRequestHandler):
    server_version = "headroom-admin"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the proxy's log is not for dashboard polls
        pass

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj, indent=1).encode(), "application/json")

    def do_HEAD(self):  # noqa: N802
        self.do_GET()

    def do_GET(self):  # noqa: N802
        admin: AdminServer = self.server.admin  # type: ignore[attr-defined]
        if admin.stopped:  # shutting down: kept-alive connections must not go on answering
            self.close_connection = True
            return
        if not is_loopback(self.client_address[0]) or not _host_is_loopback(self.headers.get("Host")):
            self._json(403, {"error": "the headroom admin address answers loopback clients only"})
            return
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        path = url.path
        try:
            if path in ("/", "/dashboard"):
                if path == "/":
                    self._send(302, b"", "text/plain", {"Location": "/dashboard"})
                else:
                    self._static("index.html")
            elif path.startswith("/dashboard/"):
                self._static(path[len("/dashboard/"):])
            elif path == "/stats":
                period = (query.get("since") or [DEFAULT_PERIOD])[0]
                try:
                    seconds = parse_period(period)
                except ValueError as e:
                    self._json(400, {"error": str(e)})
                    return
                self._json(200, admin.stats(seconds, period))
            elif path == "/metrics":
                self._send(200, admin.metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/sessions" and admin.sessions is not None:
                self._json(200, admin.sessions.report())
            elif path == "/chain" and admin.chain_check is not None:
                self._json(200, admin.chain_check((query.get("host") or ["api.anthropic.com"])[0]))
            elif path.startswith("/sessions/") and admin.sessions is not None:
                found = admin.sessions.get(path[len("/sessions/"):])
                if found is None:
                    self._json(404, {"error": "no such session (ended, or registered with another proxy)"})
                else:
                    self._json(200, {**found.to_json(), "flows": admin.sessions.flows.get(found.id, 0)})
            else:
                self._json(404, {"error": f"nothing at {path}; try /dashboard, /stats or /metrics"})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # the ledger may be unreadable; say so instead of dropping the connection
            log.warning("admin request failed", exc_info=True)
            self._json(500, {"error": f"{type(e).__name__}: {e}"})

    def _writable(self) -> Sessions | None:
        """The registry, for a loopback request a web page could not have sent; else answers and None."""
        admin: AdminServer = self.server.admin  # type: ignore[attr-defined]
        if admin.stopped:
            self.close_connection = True
            return None
        if not is_loopback(self.client_address[0]) or not _host_is_loopback(self.headers.get("Host")):
            self._json(403, {"error": "the headroom admin address answers loopback clients only"})
            return None
        if admin.sessions is None or not (self.path == "/sessions" or self.path.startswith("/sessions/")):
            self._json(405, {"error": "read-only: GET /dashboard, /stats or /metrics; POST /sessions"})
            return None
        return admin.sessions

    def do_POST(self):  # noqa: N802
        from headroom.addon.sessions import Session

        sessions = self._writable()
        if sessions is None:
            return
        # application/json only: a browser cannot send that cross-origin without a preflight we never answer.
        if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
            self._json(415, {"error": "send the session as application/json"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if self.path != "/sessions" or not 0 < length <= MAX_SESSION_BODY:
            self._json(400, {"error": f"POST /sessions takes one JSON session of at most {MAX_SESSION_BODY} bytes"})
            return
        try:
            session = Session.from_json(json.loads(self.rfile.read(length)))
            sessions.register(session)
        except ValueError as e:  # JSON errors included
            self._json(400, {"error": str(e)})
            return
        except OSError as e:
            self._json(500, {"error": f"cannot keep the session: {e}"})
            return
        self._json(201, session.to_json())

    def do_DELETE(self):  # noqa: N802
        sessions = self._writable()
        if sessions is None:
            return
        if sessions.end(self.path[len("/sessions/"):]):
            self._json(200, {"ended": True})
        else:
            self._json(404, {"error": "no such session"})

    def _static(self, name: str) -> None:
        suffix = os.path.splitext(name)[1]
        if "/" in name or "\\" in name or name.startswith(".") or suffix not in STATIC_TYPES:
            self._json(404, {"error": "no such dashboard file"})
            return
        f = _static_dir().joinpath(name)
        if not f.is_file():
            self._json(404, {"error": "no such dashboard file"})
            return
        self._send(200, f.read_bytes(), STATIC_TYPES[suffix])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def verify_request(self, request, client_address) -> bool:
        # Refuse non-loopback peers before reading a byte (the handler checks again and says why).
        return is_loopback(client_address[0])


class AdminServer:
    """The server itself, usable without a mitmproxy master (tests, benchmarks)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, ledger: Path | None = None,
                 live: Callable[[], dict] | None = None, pricing: str | None = None,
                 sessions: Sessions | None = None, chain_check: Callable[[str], dict] | None = None,
                 team: TeamView | None = None):
        if not is_loopback(host):
            raise ValueError(f"the admin server listens on loopback only, not {host!r}")
        self.ledger_path = ledger if ledger is not None else ledger_path()
        self.pricing = pricing or None  # the user's price file (HEADROOM_PRICING), merged over the shipped table
        self.live = live or (lambda: {})
        self.sessions = sessions  # the proxy's wrapped sessions (None: no /sessions)
        self.chain_check = chain_check  # GET /chain: the upstream-proxy check doctor asks for (None: no /chain)
        self.team = team  # the shared ledger's team view, /stats' "team" (None: no shared ledger configured)
        self.started = time.time()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.admin = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._cache: dict = {}
        self._cache_lock = threading.Lock()
        self.stopped = False  # refuse further requests, even on kept-alive connections
        self._closed = False

    def _cached(self, key, ttl: float, compute):
        with self._cache_lock:  # one computation at a time; the others wait for its result
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < ttl:
                return hit[1]
            value = compute()
            self._cache[key] = (time.monotonic(), value)
            return value

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def start(self) -> "AdminServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="headroom-admin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped = True
        with self._cache_lock:
            if self._closed:
                return
            self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def _summary(self, since_seconds: float | None) -> dict:
        now = time.time()
        conn = open_reader(self.ledger_path)
        try:
            s = report_json(build_report(conn, since=None if since_seconds is None else now - since_seconds,
                                         now=now, pricing=self.pricing))
            rec = recent(conn, RECENT_ROWS)
        finally:
            if conn is not None:
                conn.close()
        return {**s, "recent": rec}

    def stats(self, since_seconds: float | None, label: str) -> dict:
        s = json.loads(json.dumps(self._cached(("stats", since_seconds), STATS_TTL_S,
                                               lambda: self._summary(since_seconds))))
        live = self.live()
        s["period"]["label"] = label
        s["ledger"]["dropped_total"] = max(s["ledger"]["dropped_total"], int(live.get("ledger_dropped", 0)))
        s["proxy"] = {"version": __version__, "pid": os.getpid(), "uptime_s": round(time.time() - self.started, 1),
                      **live}
        # Every replica's figures from the shared ledger: read in the view's own thread, cached, bounded in time.
        s["team"] = self.team.get(since_seconds) if self.team is not None else None
        return s

    def metrics(self) -> str:
        return self._cached("metrics", METRICS_TTL_S, self._metrics)

    def _metrics(self) -> str:
        live = self.live()
        conn = open_reader(self.ledger_path)
        try:
            now = time.time()
            all_time = build_report(conn, now=now, pricing=self.pricing)
            window = build_report(conn, since=now - (parse_period(DEFAULT_PERIOD) or 0.0), now=now,
                                  pricing=self.pricing)
        finally:
            if conn is not None:
                conn.close()
        live = {**live, "ledger_dropped": max(all_time.ledger.dropped_total, int(live.get("ledger_dropped", 0)))}
        return render_metrics(all_time, window, live, replica=str(live.get("replica", "")))


class Admin:
    def __init__(self, stats: Stats | None = None, sessions: Sessions | None = None, chain: Chain | None = None) -> None:
        self.stats = stats  # whose ledger's live counts /stats and /metrics add (make_addons passes it)
        self.sessions = sessions  # the registry /sessions writes (make_addons passes it)
        self.chain = chain  # whose upstream-proxy check GET /chain runs (doctor's chain check)
        self.server: AdminServer | None = None
        self.url: str | None = None  # reported by the Health addon as admin_url

    def load(self, loader) -> None:
        loader.add_option("headroom_admin_port", int, AUTO_PORT,
                          "Loopback port of the dashboard, /stats and /metrics: 0 = proxy port + 1 (or any free "
                          "port if taken), -1 = off. Also HEADROOM_ADMIN_PORT.")
        loader.add_option("headroom_pricing", str, "",
                          "A JSON file of prices merged over the shipped table, for the dashboard's costs.")

    def configure(self, updated) -> None:
        from mitmproxy import ctx, exceptions

        if "headroom_admin_port" in updated:
            port = ctx.options.headroom_admin_port
            if not DISABLED <= port <= 65535:
                raise exceptions.OptionsError(f"headroom_admin_port must be -1 (off), 0 (auto) or a port, not {port}")

    def _proxy_port(self) -> int | None:
        from mitmproxy import ctx

        try:
            for server in ctx.master.addons.get("proxyserver").servers:
                if server.listen_addrs:
                    return server.listen_addrs[0][1]
        except Exception:  # no server list (e.g. an addon test): fall back to the option
            pass
        port = getattr(ctx.options, "listen_port", None)
        return port or None

    def _live(self) -> dict:
        from mitmproxy import ctx

        from headroom.settings import replica_name

        try:
            replica = replica_name({"HEADROOM_REPLICA": ctx.options.headroom_replica})
        except (AttributeError, KeyError):  # an addon test without the Stats addon's options
            replica = replica_name({})
        led = self.stats.ledger if self.stats is not None else None
        if led is None:
            return {"ledger": "off", "replica": replica}
        out: dict = {"ledger_dropped": led.dropped, "ledger_written": led.written, "ledger_error": led.last_error,
                     "replica": replica}
        shared = self.stats.shared_ledger if self.stats is not None else None
        if shared is not None:
            out.update(shared_ledger_dropped=shared.dropped, shared_ledger_written=shared.written,
                       shared_ledger_error=shared.last_error)
        return out

    def _team_view(self) -> TeamView | None:
        """The shared ledger's team view when the proxy writes to one (HEADROOM_LEDGER=postgresql://...)."""
        from mitmproxy import ctx

        from headroom.storage.team_view import TeamView

        try:
            url, ca, on = ctx.options.headroom_ledger_url, ctx.options.headroom_ledger_ca, ctx.options.headroom_ledger
        except (AttributeError, KeyError):  # an addon test without the Stats addon's options
            return None
        if not (on and url):
            return None
        return TeamView(url, ca_file=ca, pricing=ctx.options.headroom_pricing or None)

    def running(self) -> None:
        from mitmproxy import ctx

        if self.server is not None or ctx.options.headroom_admin_port == DISABLED:
            return
        wanted = ctx.options.headroom_admin_port
        candidates = [wanted] if wanted else []
        if not wanted:
            proxy_port = self._proxy_port()
            if proxy_port and proxy_port < 65535:
                candidates.append(proxy_port + 1)
        candidates.append(0)
        team = self._team_view()
        for port in candidates:
            try:
                self.server = AdminServer("127.0.0.1", port, live=self._live, pricing=ctx.options.headroom_pricing,
                                          sessions=self.sessions,
                                          chain_check=self.chain.check if self.chain is not None else None,
                                          team=team).start()
                break
            except OSError as e:
                if port == wanted:
                    log.warning("admin port %s is busy (%s); using a free port instead", port, e)
        if self.server is not None:
            self.url = self.server.url
            log.info("dashboard at %s/dashboard", self.url)

    def done(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
