"""The user's own forward proxy (a corporate one), which the proxy chains to: its URL, credentials and NO_PROXY.

One parsed, frozen `UpstreamProxy` is what every leg reads: mitmproxy's upstream mode (the runner), the per-flow
exemptions and the Proxy-Authorization (addon/chain.py), the relay's own upstream leg (relay/upstream.py),
doctor's chain check and wrap's comparison with a running proxy. Its credentials are only in `authorization`;
`masked` (the password replaced) is what identities, logs and messages show.

NO_PROXY is read the way curl and Go read it: comma-separated names, each matching the host and its
subdomains (a leading `.` or `*.` says the same), `*` alone for every host, `HOST:PORT` for one port, an
IP address or CIDR range for addresses. Loopback (localhost, 127.0.0.0/8, ::1) is never sent to the upstream
proxy, as Go's http.ProxyFromEnvironment does: a proxy elsewhere cannot reach this machine's loopback.
"""
from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import quote, unquote, urlsplit

__all__ = ["ENV_VARS", "NO_PROXY_VARS", "OFF_WORDS", "UpstreamProxy", "from_env", "is_loopback", "mask_url",
           "no_proxy_of", "parse_no_proxy", "parse_upstream_proxy"]

# Where a user's shell names its proxy for HTTPS, in the order curl prefers them (lower case first).
ENV_VARS = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
NO_PROXY_VARS = ("no_proxy", "NO_PROXY")
OFF_WORDS = frozenset({"none", "direct", "off", "0"})  # `--upstream-proxy none`: connect directly
DEFAULT_PORT = 3128  # squid's, the usual one; a URL without a port means this (curl says 1080, which is SOCKS')


def is_loopback(host: str) -> bool:
    """localhost (and its subdomains) or a loopback address."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def mask_url(text: str) -> str:
    """`text` with the password of any `scheme://user:password@` in it replaced by ***."""
    out, rest = [], text
    while "://" in rest:
        head, _, tail = rest.partition("://")
        authority_end = min((i for i in (tail.find("/"), tail.find(" "), tail.find(",")) if i >= 0), default=len(tail))
        authority = tail[:authority_end]
        at = authority.rfind("@")
        if at >= 0 and ":" in authority[:at]:
            user = authority[:at].split(":", 1)[0]
            authority = f"{user}:***{authority[at:]}"
        out.append(f"{head}://{authority}")
        rest = tail[authority_end:]
    out.append(rest)
    return "".join(out)


@dataclass(frozen=True)
class _Exemption:
    name: str = ""  # a host name, matched with its subdomains
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None
    everything: bool = False

    def matches(self, host: str, port: int | None) -> bool:
        if self.port is not None and port is not None and self.port != port:
            return False
        if self.everything:
            return True
        if self.network is not None:
            try:
                return ipaddress.ip_address(host.split("%", 1)[0]) in self.network
            except ValueError:
                return False
        return host == self.name or host.endswith("." + self.name)


def _exemption(entry: str) -> _Exemption | None:
    entry = entry.strip().lower()
    if not entry:
        return None
    if entry == "*":
        return _Exemption(everything=True)
    port: int | None = None
    if entry.startswith("["):  # [::1]:8080
        addr, _, rest = entry[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
        entry = addr
    elif entry.count(":") == 1:
        name, _, p = entry.partition(":")
        if p.isdigit():
            entry, port = name, int(p)
    try:
        return _Exemption(network=ipaddress.ip_network(entry, strict=False), port=port)
    except ValueError:
        pass
    name = entry.lstrip("*").lstrip(".").rstrip(".")
    return _Exemption(name=name, port=port) if name else None


def parse_no_proxy(raw: str) -> tuple[str, ...]:
    """The entries of a NO_PROXY value, trimmed, order kept, duplicates dropped."""
    out: list[str] = []
    for item in raw.split(","):
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class UpstreamProxy:
    """An HTTP forward proxy to send every upstream connection through, but those NO_PROXY exempts."""

    scheme: str  # http (https: TLS to the proxy itself, which mitmproxy's upstream mode also speaks)
    host: str
    port: int
    username: str = ""
    password: str = ""
    no_proxy: tuple[str, ...] = ()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def spec(self) -> str:
        """scheme://host:port, without credentials: mitmproxy's `upstream:` mode takes this."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL with its credentials (never shown; what a client of the proxy itself needs)."""
        if not self.username and not self.password:
            return self.spec
        user = quote(self.username, safe="")
        secret = f":{quote(self.password, safe='')}" if self.password else ""
        return self.spec.replace("://", f"://{user}{secret}@", 1)

    @property
    def masked(self) -> str:
        """The URL as identities, logs and messages show it: the user name kept, the password ***."""
        if not self.username and not self.password:
            return self.spec
        return self.spec.replace("://", f"://{quote(self.username, safe='')}{':***' if self.password else ''}@", 1)

    @property
    def authorization(self) -> str | None:
        """The Proxy-Authorization value (Basic) for its credentials, or None without any."""
        if not self.username and not self.password:
            return None
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def bypasses(self, host: str, port: int | None = None) -> bool:
        """Does a connection to host[:port] go direct (NO_PROXY, or loopback) rather than through the proxy?"""
        name = host.strip().strip("[]").lower().rstrip(".")
        if is_loopback(name):
            return True
        for entry in self.no_proxy:
            ex = _exemption(entry)
            if ex is not None and ex.matches(name, port):
                return True
        return False

    def goes_direct(self, host: str, port: int | None = None, routed: tuple[str, int] | None = None) -> bool:
        """Does a connection to host:port (sent to `routed` by a --route) skip the proxy? Either name exempted
        is enough: NO_PROXY may name the host the client asked for or the address it is routed to."""
        return self.bypasses(host, port) or (routed is not None and self.bypasses(*routed))

    def refusal(self, status: int, target: str) -> str:
        """What this proxy's refusal (its status) of a CONNECT to `target` means and what to do, in one line."""
        where = f"the upstream proxy {self.host}:{self.port}"
        if status == 407:
            if self.authorization is None:
                return (f"{where} wants credentials (407): put them in its URL, --upstream-proxy "
                        f"http://USER:PASSWORD@{self.host}:{self.port} (or HTTPS_PROXY / HEADROOM_UPSTREAM_PROXY)")
            return (f"{where} refused the credentials of {self.masked} (407): fix the user name or password in "
                    "--upstream-proxy (or HTTPS_PROXY / HEADROOM_UPSTREAM_PROXY) and restart the proxy")
        if status == 403:
            return (f"{where} does not allow {target} (403): ask its admins to allow it, or exempt the host with "
                    "NO_PROXY if it is reachable directly")
        return f"{where} refused {target} ({status}): see its own log; NO_PROXY exempts a host reachable directly"

    def describe(self) -> dict[str, object]:
        """What an identity reports: the masked URL and the exemptions (no password)."""
        return {"url": self.masked, "no_proxy": list(self.no_proxy)}


def parse_upstream_proxy(raw: str, no_proxy: str | tuple[str, ...] = ()) -> UpstreamProxy:
    """`http://[user:password@]host[:port]` (a bare `host:port` means http) → UpstreamProxy. Raises ValueError
    in one line saying what form is expected; the message never holds the password."""
    text = raw.strip()
    shown = mask_url(text if "://" in text else f"http://{text}")
    if not text:
        raise ValueError("--upstream-proxy: empty; give http://[USER:PASSWORD@]HOST:PORT, or none")
    parts = urlsplit(text if "://" in text else f"http://{text}")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        why = "SOCKS is not supported" if scheme.startswith("socks") else f"{scheme}:// is not a proxy URL"
        raise ValueError(f"--upstream-proxy {shown}: {why}; give an HTTP proxy, http://[USER:PASSWORD@]HOST:PORT")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"--upstream-proxy {shown}: the port is not a number from 1 to 65535") from None
    host = parts.hostname or ""
    if not host or port == 0:
        raise ValueError(f"--upstream-proxy {shown}: no host; give http://[USER:PASSWORD@]HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"--upstream-proxy {shown}: a proxy URL has no path; give http://[USER:PASSWORD@]HOST:PORT")
    exempt = parse_no_proxy(no_proxy) if isinstance(no_proxy, str) else tuple(no_proxy)
    return UpstreamProxy(scheme=scheme, host=host, port=port, username=unquote(parts.username or ""),
                         password=unquote(parts.password or ""), no_proxy=exempt)


def from_env(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, value) of the proxy a shell names for HTTPS (https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY),
    or None."""
    for var in ENV_VARS:
        value = (env.get(var) or "").strip()
        if value:
            return var, value
    return None


def no_proxy_of(env: Mapping[str, str]) -> tuple[str, ...]:
    """The NO_PROXY / no_proxy entries of `env`, both merged."""
    return parse_no_proxy(",".join(env.get(v) or "" for v in NO_PROXY_VARS))
