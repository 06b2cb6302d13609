"""`headroom doctor [--port N] [--json]`: check the whole path an agent's request takes, one line per finding.

Checks: the CA (present, valid, not near expiry, key matches, RFC 5280 strict), the proxy on the port (a
headroom proxy, checked by its identity), this shell's routing (proxy and CA variables), an end-to-end
probe that the proxy answers itself on an LLM host (Python ssl + truststore, curl, node), this shell's
wrapped session (is its credential known to the proxy, or does its traffic get the proxy's own settings), the
compression engine, upstream reachability (a warning at worst: offline is not broken) or, behind an upstream
proxy, the chain through it (checked by the proxy itself: reachable, CONNECT allowed, TLS verified), and the
store.
Exit 0 when all pass, 1 with warnings, 2 with failures.
"""
from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import urlsplit

import typer

from headroom import __version__
from headroom.command import command
from headroom.proxyinfo import DEFAULT_PORT, PROBE_HEADER, PROBE_PATH, port_in_use, probe_health, suggest_port

__all__ = ["Check", "check_chain", "doctor", "run_checks"]

PROBE_HOST = "api.anthropic.com"  # any built-in LLM host works: the proxy answers the probe itself
UPSTREAM_HOSTS = ("api.anthropic.com", "api.openai.com")
NET_TIMEOUT = 5.0  # seconds per network check; doctor must answer quickly even offline
NEAR_EXPIRY_DAYS = 30
CHAIN_TIMEOUT = 12.0  # the proxy's chain check: connect, CONNECT, TLS, each bounded (addon/chain.py CHECK_TIMEOUT)
ROUTING_CAUSES = (
    "the proxy is not running, the client is not pointed at the proxy port, or the agent was started "
    f"outside `{command()} wrap`"
)
NODE_FETCH_GAP = (22, 21)  # Node's fetch honours HTTPS_PROXY (with NODE_USE_ENV_PROXY=1) from 22.21 on


@dataclass
class Check:
    name: str
    status: str  # pass, warn, fail, skip
    summary: str
    fix: str = ""


def _pass(name: str, summary: str) -> Check:
    return Check(name, "pass", summary)


# --- CA ----------------------------------------------------------------------------------------------


def check_ca_hosts(files, hosts) -> Check:
    """Whether the CA may sign for every intercepted host (its name constraints, certs/ca.py)."""
    from headroom.certs.ca import load_ca, permitted_domains, unpermitted

    cert, _ = load_ca(files)
    domains = permitted_domains(cert)
    if domains is None:
        return Check("ca hosts", "warn", "the CA can sign for any host name (made before name constraints)",
                     f"run `{command()} certs rotate` for one limited to the LLM hosts, then trust it again "
                     f"(`{command()} certs install`)")
    missing = unpermitted(cert, hosts)
    if missing:
        return Check("ca hosts", "fail", f"the CA does not permit {', '.join(missing)}: clients refuse its "
                     "certificates there", f"run `{command()} certs rotate` with those hosts set (HEADROOM_EXTRA_HOSTS "
                     f"or HEADROOM_ROUTE), then trust the new CA (`{command()} certs install`)")
    return _pass("ca hosts", f"limited by name constraints to {len(domains)} LLM domains, every intercepted host "
                             "among them")


def check_ca(files, hosts=()) -> list[Check]:
    from headroom.certs.ca import inspect_ca

    st = inspect_ca(files)
    if not st.exists:
        return [Check("ca", "fail", f"no CA at {files.key_and_cert}",
                      f"run `{command()} certs init` (or start the proxy once: it creates one)")]
    if st.error and not st.subject:
        return [Check("ca", "fail", st.error.split(";")[0], st.error.split("; ", 1)[-1])]
    out = []
    if st.days_left < 0:
        out.append(Check("ca", "fail", f"expired on {st.not_after:%Y-%m-%d}", f"run `{command()} certs rotate`"))
    elif st.days_left < NEAR_EXPIRY_DAYS:
        out.append(Check("ca", "warn", f"expires in {st.days_left} days ({st.not_after:%Y-%m-%d})",
                         f"run `{command()} certs rotate` before then"))
    elif st.error:
        out.append(Check("ca", "fail", st.error.split(";")[0], st.error.split("; ", 1)[-1]))
    else:
        out.append(_pass("ca", f"{files.cert} valid until {st.not_after:%Y-%m-%d}"))
    if not st.key_matches:
        out.append(Check("ca key", "fail", "the private key does not match the CA certificate",
                         f"run `{command()} certs rotate`"))
    elif st.key_mode is not None and st.key_mode & 0o077 and os.name == "posix":
        out.append(Check("ca key", "warn", f"{files.key_and_cert} is readable by others ({st.key_mode:o})",
                         f"chmod 600 {files.key_and_cert}"))
    else:
        out.append(_pass("ca key", "matches the certificate, private to this user"))
    if st.key_matches:
        if st.strict_ok:
            out.append(_pass("ca strict", "RFC 5280 strict verification passes (Python 3.13 clients accept it)"))
        else:
            out.append(Check("ca strict", "fail", f"strict verification fails: {st.strict_error}",
                             f"run `{command()} certs rotate` to make a compliant CA"))
        out.append(check_ca_hosts(files, hosts))
    return out


# --- proxy and routing -------------------------------------------------------------------------------


def check_proxy(port: int, info: dict | None, my_home: Path) -> list[Check]:
    if info is None:
        if port_in_use(port):
            return [Check("proxy", "fail", f"127.0.0.1:{port} answers but is not a headroom proxy",
                          f"stop what listens there, or use another port: {command()} wrap --port {suggest_port(port) or 'N'} -- <agent>")]
        return [Check("proxy", "fail", f"no headroom proxy on 127.0.0.1:{port}",
                      f"run your agent as `{command()} wrap -- <agent>` (it starts one), or `{command()} proxy"
                      f"{'' if port == DEFAULT_PORT else f' --port {port}'}` in another terminal")]
    up = info.get("uptime_s")
    summary = f"headroom {info.get('version')} on 127.0.0.1:{port}, pid {info.get('pid')}" + (
        f", up {_duration(up)}" if isinstance(up, (int, float)) else "")
    chained = info.get("upstream_proxy")
    if isinstance(chained, dict) and chained.get("url"):
        summary += f", through {chained['url']}"  # masked by the proxy: its identity never holds a password
    out = [_pass("proxy", summary)]
    if info.get("version") != __version__:
        out[0] = Check("proxy", "warn", f"{summary}; this install is {__version__}",
                       "restart the proxy so it runs the installed version")
    orphan = _orphaned_by_wrap(port, info, my_home)
    if orphan:
        out.append(orphan)
    if info.get("home") and Path(info["home"]) != my_home:
        out.append(Check("proxy home", "warn", f"the proxy uses {info['home']}, this shell {my_home}",
                         "set HEADROOM_HOME the same for both (they have different CAs and stores)"))
    return out


def _orphaned_by_wrap(port: int, info: dict, home: Path) -> Check | None:
    """A proxy a wrap started whose wraps all died (kill -9, a closed laptop): nobody will stop it."""
    from headroom.cli.wrap import live_leases, owner_of

    try:
        owner = owner_of(home, port)
        if owner is None or owner.get("pid") != info.get("pid") or owner.get("keep") or live_leases(home, port):
            return None
    except OSError:
        return None
    return Check("proxy users", "warn", f"the proxy (pid {info.get('pid')}) was started by a wrap that is gone "
                 "and no wrap uses it now", f"stop it (kill {info.get('pid')}) or let the next wrap on port "
                 f"{port} stop it when it exits")


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _contains_ca(path: str | None, ca_pem: bytes) -> bool:
    if not path:
        return False
    try:
        from headroom.certs.clientenv import pem_certs

        ours = pem_certs(ca_pem)
        return bool(ours) and ours[0] in pem_certs(Path(path).read_bytes())
    except OSError:
        return False


def _shell_proxy(env) -> str | None:
    return env.get("https_proxy") or env.get("HTTPS_PROXY")


def _points_at(url: str, port: int) -> bool:
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        return parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port == port
    except ValueError:
        return False


def check_routing(env, port: int, info: dict | None, ca_pem: bytes | None) -> list[Check]:
    from headroom.core.hosts import BUILTIN_HOSTS

    proxy_var = _shell_proxy(env)
    if info is None:
        return [Check("routing", "fail", f"routing is not active (nothing routes through 127.0.0.1:{port})",
                      f"likely causes: {ROUTING_CAUSES}; start the agent with `{command()} wrap -- <agent>`, "
                      "which starts the proxy and points the agent at it")]
    if not proxy_var:
        # The seed's phrase, so a user who read "if doctor reports routing is not active" finds it; only a
        # warning: the proxy is up and wrapped agents are routed, this shell just is not one of them.
        return [Check("routing", "warn", "routing is not active here: this shell is not routed through the "
                      f"proxy (no HTTPS_PROXY); agents started with `{command()} wrap` are", f"run agents as `{command()} wrap -- <agent>`, or route this shell: "
                      f'eval "$({command()} certs env --port {port})"')]
    if not _points_at(proxy_var, port):
        return [Check("routing", "fail", f"routing is not active: HTTPS_PROXY={proxy_var} is not the proxy on "
                      f"127.0.0.1:{port}", f"run the agent with `{command()} wrap --port {port} -- <agent>`, or "
                      f'eval "$({command()} certs env --port {port})"')]
    out = []
    missing = [v for v in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
               if ca_pem is not None and not _contains_ca(env.get(v), ca_pem)]
    if missing:
        out.append(Check("routing", "fail", f"HTTPS_PROXY points at the proxy but {', '.join(missing)} "
                         "do not trust its CA: clients will refuse its certificates",
                         f'eval "$({command()} certs env --port {port})", or use `{command()} wrap`'))
    else:
        out.append(_pass("routing", f"HTTPS_PROXY -> 127.0.0.1:{port}; the CA is trusted via SSL_CERT_FILE, "
                         "REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS"))
    no_proxy = ",".join(filter(None, (env.get("NO_PROXY"), env.get("no_proxy")))).lower()
    bypassed = [h for h in BUILTIN_HOSTS if "*" not in h and any(
        e.strip().lstrip("*.").lstrip(".") and (h == e.strip().lstrip("*").lstrip(".")
                                                or h.endswith("." + e.strip().lstrip("*").lstrip(".")))
        for e in no_proxy.split(",") if e.strip())]
    if "*" in [e.strip() for e in no_proxy.split(",")]:
        bypassed = ["every host"]
    if bypassed:
        out.append(Check("no_proxy", "warn", f"NO_PROXY sends {', '.join(bypassed[:3])} around the proxy",
                         "remove LLM hosts from NO_PROXY / no_proxy"))
    return out


# --- end-to-end probes -------------------------------------------------------------------------------


def _probe_python(port: int, ca_cert: Path, strict: bool) -> Check:
    from headroom.certs.trust import client_context

    try:
        ctx = client_context(ca_cert, strict=strict)
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=NET_TIMEOUT)
        conn.set_tunnel(PROBE_HOST, 443, headers={PROBE_HEADER: "1"})
        try:
            conn.request("GET", PROBE_PATH)
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        data = json.loads(body) if resp.status == 200 else {}
    except ssl.SSLCertVerificationError as e:
        return Check("probe python", "fail", f"Python refused the proxy's certificate: {e.verify_message}",
                     f"run `{command()} certs init`, then restart the proxy so it uses this CA")
    except (OSError, ValueError) as e:
        return Check("probe python", "fail", f"HTTPS via the proxy failed: {e}", "see the proxy log under "
                     "<home>/logs/, or restart it")
    if data.get("probe") != "ok":
        return Check("probe python", "fail", f"{PROBE_HOST}{PROBE_PATH} was not answered by headroom "
                     f"(HTTP {resp.status})", "the host is not intercepted: check HEADROOM_EXTRA_HOSTS / the proxy")
    return _pass("probe python", f"https://{PROBE_HOST} intercepted; CA trusted by Python ssl (truststore"
                 f"{', strict' if strict else ''})")


def _probe_curl(port: int, ca_cert: Path, env) -> Check:
    curl = shutil.which("curl")
    if not curl:
        return Check("probe curl", "skip", "curl is not installed")
    clean = {k: v for k, v in env.items() if k.lower() not in ("no_proxy", "curl_ca_bundle")}
    try:
        r = subprocess.run(
            [curl, "-sS", "--max-time", str(int(NET_TIMEOUT)), "--proxy", f"http://127.0.0.1:{port}",
             "--proxy-header", f"{PROBE_HEADER}: 1", "--cacert", str(ca_cert), f"https://{PROBE_HOST}{PROBE_PATH}"],
            capture_output=True, text=True, timeout=NET_TIMEOUT + 5, env=clean,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("probe curl", "fail", f"curl did not finish: {e}", "check the proxy log under <home>/logs/")
    if r.returncode == 0 and '"probe": "ok"' in r.stdout:
        return _pass("probe curl", f"https://{PROBE_HOST} intercepted; CA trusted by curl")
    return Check("probe curl", "fail", f"curl failed: {(r.stderr or r.stdout).strip()[:160]}",
                 f"curl reads CURL_CA_BUNDLE (not SSL_CERT_FILE): use `{command()} wrap` or `{command()} certs env`")


_NODE_PROBE = r"""
const http = require('http'), tls = require('tls');
const [port, host, path, header] = process.argv.slice(1);
const req = http.request({host: '127.0.0.1', port, method: 'CONNECT', path: host + ':443', headers: {[header]: '1'}});
const timer = setTimeout(() => { console.log('timeout'); process.exit(3); }, 5000);
req.on('connect', (res, socket) => {
  if (res.statusCode !== 200) { console.log('CONNECT ' + res.statusCode); process.exit(2); }
  const s = tls.connect({socket, servername: host}, () => {
    s.write('GET ' + path + ' HTTP/1.1\r\nHost: ' + host + '\r\nConnection: close\r\n\r\n');
  });
  let data = ''; s.on('data', d => data += d);
  s.on('end', () => { clearTimeout(timer); console.log(data.split('\r\n\r\n').slice(1).join('')); });
  s.on('error', e => { console.log(e.code || e.message); process.exit(1); });
});
req.on('error', e => { console.log(e.code || e.message); process.exit(1); });
req.end();
"""


def _probe_node(port: int, ca_cert: Path, env) -> Check:
    node = shutil.which("node")
    if not node:
        return Check("probe node", "skip", "node is not installed")
    clean = dict(env)
    clean["NODE_EXTRA_CA_CERTS"] = str(ca_cert)  # what wrap gives a Node child
    # Node's own warnings (an ExperimentalWarning for a flag in NODE_OPTIONS, or for NODE_USE_ENV_PROXY on
    # Node 24) are not the probe's answer: without this they took the place of the reason in the table.
    clean["NODE_NO_WARNINGS"] = "1"
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        r = subprocess.run([node, "--no-warnings", "-e", _NODE_PROBE, str(port), PROBE_HOST, PROBE_PATH, PROBE_HEADER],
                           capture_output=True, text=True, timeout=NET_TIMEOUT + 10, env=clean)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("probe node", "fail", f"node did not finish: {e}", "check the proxy log under <home>/logs/")
    if r.returncode != 0 or '"probe":"ok"' not in r.stdout.replace(" ", ""):
        said = " ".join((r.stdout + " " + r.stderr).split())  # one line: a table row
        return Check("probe node", "fail", f"node failed: {said[:160]}",
                     f"Node trusts extra CAs only through NODE_EXTRA_CA_CERTS, read at start: use `{command()} wrap`")
    summary = f"https://{PROBE_HOST} intercepted; CA trusted by node {version} (NODE_EXTRA_CA_CERTS)"
    try:
        major, minor = (int(x) for x in version.lstrip("v").split(".")[:2])
    except ValueError:
        major, minor = NODE_FETCH_GAP
    if (major, minor) < NODE_FETCH_GAP:
        summary += f"; note: fetch() on Node < 22.21 ignores HTTPS_PROXY, so a Node agent using plain fetch goes direct"
    return _pass("probe node", summary)


# --- engine, upstream, store -------------------------------------------------------------------------


def _compress_off(info: dict | None) -> bool:
    if info:
        opt = (info.get("options") or {}).get("headroom_compress")
        if opt is not None:
            return not opt
        setting = (info.get("settings") or {}).get("HEADROOM_COMPRESS")
    else:
        setting = os.environ.get("HEADROOM_COMPRESS")
    from headroom.settings import is_off

    return is_off(setting)


def check_engine(info: dict | None) -> Check:
    if _compress_off(info):
        return _pass("engine", "pure gateway: compression is off (HEADROOM_COMPRESS=0 / --no-compress); no model needed")
    try:
        from headroom.core.compressors import compress_text
        from headroom.core.compressors.base import Context

        from headroom.settings import pipeline_env

        floor = pipeline_env()  # this environment's HEADROOM_MIN_TOKENS and relevance model, as compress reads them
        sample = "\n".join(f"2026-01-01 12:00:{i % 60:02d} INFO worker {i} ok" for i in range(200)) + "\nERROR boom"
        t0 = time.perf_counter()
        compress_text(sample, Context(query="what failed?"), floor)
        ms = (time.perf_counter() - t0) * 1000
    except Exception as e:  # any failure here is what doctor exists to show
        return Check("engine", "fail", f"the compressor fails: {type(e).__name__}: {e}",
                     "reinstall headroom; meanwhile HEADROOM_COMPRESS=0 runs it as a pure gateway")
    try:
        from headroom.core import relevance

        model_ok = relevance.available()
        why = relevance.load_error()
    except Exception as e:
        model_ok, why = False, f"{type(e).__name__}: {e}"
    if not model_ok:
        return Check("engine", "warn", f"compressors ready ({ms:.0f} ms sample), relevance model not loaded: {why}",
                     "compression still works lexically; reinstall headroom to restore the model")
    return _pass("engine", f"ready: compressors ({ms:.0f} ms sample) and relevance model loaded")


def _routes(info: dict | None) -> dict[str, tuple[str, int]]:
    raw: list[str] = []
    if info:
        raw = list((info.get("options") or {}).get("headroom_routes") or [])
        if not raw:
            raw = ((info.get("settings") or {}).get("HEADROOM_ROUTE") or "").replace(",", " ").split()
    from headroom.addon.route import parse_route

    out = {}
    for spec in raw:
        try:
            host, target = parse_route(spec)  # the proxy's own reading: what it refuses is no route
        except ValueError:
            continue
        out[host] = target
    return out


def _reach(host: str, addr: tuple[str, int], cafile: Path | None, strict: bool) -> tuple[str, str, str]:
    from headroom.certs.trust import STRICT_FIX, is_strict_only_error, upstream_context

    try:
        ctx = upstream_context(cafile if cafile is not None and cafile.is_file() else None, strict=strict)
        with socket.create_connection(addr, timeout=NET_TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname=host):
                return "pass", host, ""
    except ssl.SSLCertVerificationError as e:
        if strict and is_strict_only_error(e.verify_code):
            return "warn", f"{host}: {e.verify_message}", STRICT_FIX
        return "warn", f"{host}: certificate refused ({e.verify_message})", (
            "if your network inspects TLS, give the proxy its CA: --upstream-ca FILE or HEADROOM_CA_BUNDLE=FILE")
    except (OSError, ssl.SSLError) as e:
        return "warn", f"{host}: unreachable ({e.strerror or e})", (
            "offline or blocked: requests will fail until it is reachable (a proxy or firewall allowing it?)")


def _bounded_parallel(calls, timeout: float, fallbacks: list) -> list:
    """Run `calls` in daemon threads; whatever has not answered after `timeout` s gets its fallback. (A
    resolver can hang past any socket timeout; daemon threads never keep doctor from exiting.)"""
    import threading

    results = list(fallbacks)
    threads = []
    for i, call in enumerate(calls):
        def run(i=i, call=call):
            results[i] = call()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return results


def check_upstream(info: dict | None) -> Check:
    routes = _routes(info)
    strict = bool(info.get("tls_strict", True)) if info else True
    bundle = Path(info["upstream_bundle"]) if info and info.get("upstream_bundle") else None
    if routes:
        targets = {h: a for h, a in routes.items()}
        cafile = bundle if bundle and bundle.is_file() else None
    else:
        targets = {h: (h, 443) for h in UPSTREAM_HOSTS}
        cafile = None  # the OS trust store, as the proxy's own bundle holds it
    results = _bounded_parallel([(lambda h=h, a=a: _reach(h, a, cafile, strict)) for h, a in targets.items()],
                                NET_TIMEOUT + 2,
                                [("warn", f"{h}: no answer within {NET_TIMEOUT + 2:.0f} s (DNS or network hanging)",
                                  "offline or blocked: requests will fail until it is reachable") for h in targets])
    bad = [(s, m, f) for s, m, f in results if s != "pass"]
    via = " (routed)" if routes else ""
    if not bad:
        return _pass("upstream", f"reachable with verified TLS{via}: {', '.join(targets)}")
    return Check("upstream", "warn", "; ".join(m for _, m, _ in bad), bad[0][2])


def check_chain(env, info: dict | None, port: int) -> Check | None:
    """The upstream proxy the proxy chains to, checked by the proxy itself (its admin API's /chain): reachable,
    does it take a CONNECT to an LLM host with the proxy's credentials, and does TLS through it verify. None
    when there is no chain to check and this shell names no proxy of its own."""
    chained = (info or {}).get("upstream_proxy")
    if not chained:
        if info is None:
            return None
        from headroom.proxyinfo import upstream_proxy_for

        try:
            mine = upstream_proxy_for(env, env.get("HEADROOM_UPSTREAM_PROXY"), own_port=port)
        except ValueError as e:
            return Check("chain", "fail", str(e), "fix that variable, or set HEADROOM_UPSTREAM_PROXY=none")
        if mine is None:
            return None
        return Check("chain", "warn", f"this shell uses the proxy {mine.masked}, but the headroom proxy on port {port} "
                     "connects directly (your network may forbid that)",
                     f"restart it from this shell (`headroom wrap` does), or with --upstream-proxy {mine.host}:{mine.port}")
    url = chained.get("url")
    if not info or not info.get("admin_url"):
        return Check("chain", "warn", f"chains to {url}; cannot check it without the proxy's admin API",
                     "restart the proxy without HEADROOM_ADMIN_PORT=-1")
    host = next(iter(_routes(info)), PROBE_HOST)
    try:
        status, got = _admin_get(info, f"/chain?host={host}", timeout=CHAIN_TIMEOUT)
    except (OSError, ValueError) as e:
        return Check("chain", "warn", f"chains to {url}; cannot ask the proxy to check it: {e}",
                     "check the proxy log under <home>/logs/")
    if status == 404:
        return Check("chain", "warn", f"chains to {url}; this proxy cannot check its chain (an older version)",
                     "restart the proxy so it runs the installed version")
    if got.get("direct"):
        return _pass("chain", f"chains to {url}; {host} goes direct (NO_PROXY)")
    if got.get("reachable") is False:
        return Check("chain", "fail", f"cannot reach the upstream proxy {url}: {got.get('error')}",
                     "check its host and port in --upstream-proxy / HTTPS_PROXY, and that it runs")
    status_code = got.get("status")
    if status_code and not 200 <= int(status_code) < 300:
        return Check("chain", "fail", f"the upstream proxy {url} refused CONNECT {got.get('connect')}: {status_code}",
                     str(got.get("fix") or "see the upstream proxy's log"))
    if got.get("tls_error"):
        from headroom.certs.trust import STRICT_FIX

        err = str(got["tls_error"])
        fix = STRICT_FIX if "strict" in err.lower() or "critical" in err.lower() else (
            "a proxy that inspects TLS signs with its own CA: give it to the proxy, --upstream-ca FILE or "
            "HEADROOM_CA_BUNDLE=FILE")
        return Check("chain", "fail", f"through {url}, {host}'s certificate is refused: {err}", fix)
    if got.get("error"):
        return Check("chain", "fail", f"through {url}, {host} failed: {got.get('error')}",
                     "see the upstream proxy's log; NO_PROXY exempts a host reachable directly")
    return _pass("chain", f"through {url}: CONNECT {got.get('connect')} allowed, {host}'s TLS verified")


def check_store() -> Check:
    try:
        from headroom.settings import open_user_store

        store = open_user_store()
        try:
            stats = getattr(store, "stats")()  # both backends have it; the Store Protocol does not ask for it
            path = getattr(store, "path", None)
        finally:
            store.close()
    except ValueError as e:  # a HEADROOM_CCR_* value it cannot read: the message names the variable
        return Check("store", "fail", f"cannot open the store: {e}", "fix or unset that variable")
    except Exception as e:  # unwritable home, damaged file, locked database: all say the same fix
        from headroom.storage.redis_store import StoreUnreachable

        if isinstance(e, StoreUnreachable):  # the team's shared store (HEADROOM_STORE) does not answer
            return Check("store", "fail", f"{e}: requests go upstream uncompressed",
                         "start that Redis, or fix HEADROOM_STORE (unset it for the embedded store)")
        return Check("store", "fail", f"cannot open the store: {e}",
                     "make the headroom home writable, or set HEADROOM_HOME to a writable folder")
    if path is not None and not os.access(path, os.W_OK):
        return Check("store", "fail", f"{path} is read-only", f"fix its owner/permissions ({path})")
    path = path or stats.get("where")
    drops = stats.get("drops")
    return _pass("store", f"writable{f' ({path})' if path else ''}" + (f", {drops} dropped text{'' if drops == 1 else 's'} kept" if drops is not None else ""))


# --- the command -------------------------------------------------------------------------------------


# --- sessions ----------------------------------------------------------------------------------------

# Measured (docs/wrap.md): these send the proxy URL's credential on CONNECT. A client with a proxy setting of its
# own, or one that drops the credential, gets the proxy's own settings.
CARRIES_CREDENTIAL = "curl, the openai and anthropic Python SDKs, Node's undici, Claude Code and Codex"


def _session_of(env) -> str | None:
    from headroom.addon.sessions import SESSION_RE, USER

    url = _shell_proxy(env)
    try:
        parts = urlsplit(url if url and "://" in url else f"http://{url}")
    except ValueError:
        return None
    if parts.username == USER and parts.password and SESSION_RE.match(parts.password):
        return parts.password
    return None


def _admin_get(info: dict, path: str, timeout: float = NET_TIMEOUT) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(str(info["admin_url"]) + path, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {}


def _describe(settings: dict) -> str:
    def on(v: object) -> str:
        return "on" if v is True else "off" if v is False else "?"

    return (f"compression {on(settings.get('compress'))}, bypass {on(settings.get('bypass'))}, "
            f"holdout {settings.get('compress_holdout')}, min tokens {settings.get('min_tokens')}")


def check_session(env, info: dict | None) -> list[Check]:
    """This shell's wrapped session: known to the proxy (its settings apply) or not (the proxy's own do)."""
    if info is None:
        return []
    sid = _session_of(env)
    if not info.get("admin_url"):
        return [Check("session", "warn", "the proxy has no admin API (HEADROOM_ADMIN_PORT=-1): wraps cannot register "
                      "their settings, so every wrap's traffic gets the proxy's own",
                      "restart the proxy without HEADROOM_ADMIN_PORT=-1")]
    try:
        status, got = _admin_get(info, f"/sessions/{sid}" if sid else "/sessions")
    except (OSError, ValueError) as e:
        return [Check("session", "warn", f"cannot ask the proxy's admin API about sessions: {e}",
                      "check the proxy log under <home>/logs/")]
    if sid is None:
        unknown = got.get("unknown_flows", 0) if status == 200 else 0
        if unknown:
            return [Check("session", "warn", f"{unknown} request(s) named a session the proxy does not know and got "
                          "its own settings", "a wrap outlived its proxy's home: restart that wrap")]
        return [_pass("session", f"this shell is no wrap's session; {len(got.get('sessions', []))} wrapped "
                      "session(s) on the proxy get their own settings")]
    if status == 404:
        return [Check("session", "warn", f"this shell's session {sid} is not known to the proxy: its traffic gets the "
                      "proxy's own settings", "the wrap ended or the proxy restarted with another home: run "
                      f"`{command()} wrap` again")]
    if status != 200:
        return [Check("session", "warn", f"the proxy's admin API answered {status} for this shell's session")]
    return [_pass("session", f"this shell is session {sid}: {_describe(got.get('settings', {}))}, for clients that "
                  f"send the proxy URL's credential ({CARRIES_CREDENTIAL} do); any other gets the proxy's own")]


def _port_from_env(env) -> int | None:
    url = _shell_proxy(env)
    if not url:
        return None
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port:
            return parts.port
    except ValueError:
        pass
    return None


def run_checks(port: int, env=None) -> list[Check]:
    from headroom.certs.ca import ca_files
    from headroom.home import home

    env = os.environ if env is None else env
    my_home = home()
    info = probe_health(port)
    proxy_home = Path(info["home"]) if info and info.get("home") else my_home
    files = ca_files(proxy_home)
    from headroom.settings import intercepted_hosts

    # The running proxy's hosts (extra and routed) when there is one, else what this shell would start it with.
    hosts = (info.get("options") or {}).get("headroom_extra_hosts") if info else None
    checks = check_ca(files, hosts if isinstance(hosts, list) else intercepted_hosts(env))
    checks += check_proxy(port, info, my_home)
    ca_pem = files.cert.read_bytes() if files.cert.is_file() else None
    checks += check_routing(env, port, info, ca_pem)
    checks += check_session(env, info)
    if info is not None and ca_pem is not None:
        strict = bool(info.get("tls_strict", True))
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            probes = [pool.submit(_probe_python, port, files.cert, strict),
                      pool.submit(_probe_curl, port, files.cert, env),
                      pool.submit(_probe_node, port, files.cert, env)]
            checks += [p.result() for p in probes]
    else:
        checks.append(Check("probe", "skip", "no end-to-end probe without a running proxy"))
    checks.append(check_engine(info))
    chain = check_chain(env, info, port)
    if chain is not None:
        checks.append(chain)
    if not (info or {}).get("upstream_proxy"):  # chained, the proxy cannot connect directly: the chain is checked
        checks.append(check_upstream(info))
    checks.append(check_store())
    return checks


def exit_code(checks: list[Check]) -> int:
    statuses = {c.status for c in checks}
    return 2 if "fail" in statuses else 1 if "warn" in statuses else 0


def doctor(
    port: Annotated[Optional[int], typer.Option(
        "--port", envvar="HEADROOM_PORT",
        help="Proxy port (default: the port this shell's HTTPS_PROXY points at, else 8787).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON, for scripts.")] = False,
) -> None:
    """Check the CA, the proxy, this shell's routing, an end-to-end probe, the engine, upstreams (or the chain
    through your own proxy) and the store."""
    from tabulate import tabulate

    if port is None:
        port = _port_from_env(os.environ) or DEFAULT_PORT
    if not 0 < port < 65536:
        typer.echo(f"headroom doctor: --port {port} is not a TCP port (1-65535)", err=True)
        raise typer.Exit(code=2)
    checks = run_checks(port)
    code = exit_code(checks)
    if as_json:
        typer.echo(json.dumps({"port": port, "installed_version": __version__, "exit_code": code,
                               "checks": [asdict(c) for c in checks]}, indent=2))
        raise typer.Exit(code=code)
    marks = {"pass": "pass", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
    typer.echo(tabulate([(c.name, marks[c.status], c.summary) for c in checks],
                        headers=("check", "status", "summary"), tablefmt="simple", maxcolwidths=[None, None, 90]))
    fixes = [c for c in checks if c.fix and c.status in ("warn", "fail")]
    if fixes:
        typer.echo("")
        for c in fixes:
            typer.echo(f"{c.name}: {c.fix}")
    fails = sum(c.status == "fail" for c in checks)
    warns = sum(c.status == "warn" for c in checks)
    typer.echo("")
    typer.echo("all checks passed" if code == 0 else f"{fails} failure(s), {warns} warning(s)")
    raise typer.Exit(code=code)
