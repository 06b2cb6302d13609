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
    "port_in_use", "probe_health", "suggest_port",
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
