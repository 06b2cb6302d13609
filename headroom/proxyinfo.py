"""How commands find a running headroom proxy and tell it apart from anything else on the port.

The proxy answers plain-HTTP proxy requests for the reserved host HEALTH_HOST itself (the Health addon):
`GET http://headroom.proxy/health` sent *through* the proxy returns its identity as JSON. Something
else listening on the port cannot answer that, so "a headroom proxy is there" is checked, not assumed.
Over HTTPS, any intercepted LLM host answers PROBE_PATH itself, which proves interception and trust
end to end without an upstream or an API key.
"""
from __future__ import annotations

import json
import os
import socket

__all__ = [
    "DEFAULT_PORT", "HEALTH_HOST", "HEALTH_PATH", "PROBE_HEADER", "PROBE_PATH", "SERVICE", "effective_settings",
    "port_in_use", "probe_health", "socks_ignored", "suggest_port", "upstream_proxy_for",
]

DEFAULT_PORT = 8787
HEALTH_HOST = "headroom.proxy"  # never resolvable: only the proxy itself can answer it
HEALTH_PATH = "/health"
PROBE_PATH = "/__headroom/probe"
# Sent on the CONNECT of a probe: the proxy then opens the tunnel without connecting upstream, so the probe
# works offline whatever the connection strategy.
PROBE_HEADER = "X-Headroom-Probe"
SERVICE = "headroom"


def probe_health(port: int = DEFAULT_PORT, host: str = "127.0.0.1", timeout: float = 2.0) -> dict | None:
    """The identity of the headroom proxy on host:port (a dict with at least service, version, pid),
    or None if nothing listens there or what listens is not a headroom proxy."""
    request = (
        f"GET http://{HEALTH_HOST}{HEALTH_PATH} HTTP/1.1\r\nHost: {HEALTH_HOST}\r\n"
        "Connection: close\r\nAccept: application/json\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(request)
            chunks = []
            total = 0
            while total < 1_000_000:  # an identity is a few hundred bytes; anything huge is not us
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                total += len(b)
    except OSError:
        return None
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    try:
        info = json.loads(body)
    except ValueError:
        return None
    return info if isinstance(info, dict) and info.get("service") == SERVICE else None


def effective_settings(env=None) -> dict[str, str]:
    """What a proxy started from this environment would do (settings.Settings.effective, the flags' variables
    included): what wrap compares with the running proxy's identity's "effective", which the proxy makes the
    same way from its flags and environment. Raises SettingsError for a value the proxy would refuse."""
    from headroom.settings import Settings, proxy_lists

    env = os.environ if env is None else env
    routes, cas, hosts = proxy_lists(env)
    return Settings.from_env(env).effective(routes=routes, upstream_ca=cas, extra_hosts=hosts)


def _is_headroom(url: str, own_port: int | None) -> bool:
    """Is this proxy URL a headroom proxy (a wrapped shell's own HTTPS_PROXY), not the user's?"""
    from urllib.parse import urlsplit

    from headroom.core.proxychain import is_loopback

    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        port = parts.port
    except ValueError:
        return False
    if parts.username == "headroom":  # a wrapped session's credential (addon/sessions.py USER)
        return True
    if not parts.hostname or not is_loopback(parts.hostname) or not port:
        return False
    return port == own_port or probe_health(port, parts.hostname, timeout=1.0) is not None


def _is_socks(value: str) -> bool:
    return value.strip().lower().startswith("socks")


def socks_ignored(env) -> str | None:
    """The variable naming a SOCKS proxy that upstream_proxy_for passed over (the proxy says so at start)."""
    from headroom.core.proxychain import ENV_VARS

    return next((v for v in ENV_VARS if _is_socks(env.get(v) or "")), None)


def upstream_proxy_for(env, explicit: str | None = None, own_port: int | None = None):
    """The user's proxy a headroom proxy on `own_port` chains to (core.proxychain.UpstreamProxy), or None:
    `explicit` (--upstream-proxy / HEADROOM_UPSTREAM_PROXY; `none` connects directly), else the shell's
    https_proxy / HTTPS_PROXY / all_proxy / ALL_PROXY unless that is a headroom proxy (a wrapped shell's) or a
    SOCKS one (ALL_PROXY=socks5://... is common, and only HTTP proxies are chained to);
    NO_PROXY / no_proxy are its exemptions. ValueError (one line, no password) for one it cannot use."""
    from headroom.core.proxychain import OFF_WORDS, from_env, mask_url, no_proxy_of, parse_upstream_proxy

    no_proxy = no_proxy_of(env)
    if explicit is not None and explicit.strip():
        if explicit.strip().lower() in OFF_WORDS:
            return None
        if _is_headroom(explicit.strip(), own_port):
            raise ValueError(f"--upstream-proxy {mask_url(explicit.strip())}: that is a headroom proxy (this one or "
                             "another); give your network's own proxy, or none")
        return parse_upstream_proxy(explicit, no_proxy)
    found = from_env({k: v for k, v in env.items() if not _is_socks(v)})  # a SOCKS proxy is not for HTTPS here
    if found is None or _is_headroom(found[1], own_port):
        return None
    var, value = found
    try:
        return parse_upstream_proxy(value, no_proxy)
    except ValueError as e:
        raise ValueError(f"{var}: {str(e).removeprefix('--upstream-proxy ')}; or set HEADROOM_UPSTREAM_PROXY=none "
                         "to connect directly") from None


def port_in_use(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Does anything accept TCP connections on host:port?"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def suggest_port(busy: int, host: str = "127.0.0.1") -> int:
    """A port to suggest instead of `busy`: free now, and so is the one after it (a proxy's dashboard takes
    its port + 1 by default, so `busy + 1` is never suggested: it is `busy`'s own admin port)."""
    for port in range(busy + 2, min(busy + 202, 65535), 2):
        if _free(port, host) and _free(port + 1, host):
            return port
    return 0  # nothing near: the caller says "a free port"


def _dechunk(body: bytes) -> bytes:
    out = []
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            return b""
        if size == 0:
            break
        out.append(rest[:size])
        body = rest[size + 2 :]
    return b"".join(out)
