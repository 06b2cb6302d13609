"""Build and run the embedded mitmproxy (DumpMaster) that is `headroom proxy`.

Regular proxy mode; only the LLM hosts of core/hosts.py are decrypted (`allow_hosts`), everything else
is a raw tunnel. The CA lives under the headroom home (certs/ca.py); upstreams are verified against
certifi + the OS roots + any `--upstream-ca` (certs/trust.py).
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from headroom.command import command
from headroom.core.hosts import BUILTIN_HOSTS, allow_hosts_patterns, parse_host_list
from headroom.core.proxychain import UpstreamProxy
from headroom.proxyinfo import suggest_port
from headroom.settings import Settings

__all__ = ["ProxyConfig", "PortInUse", "RunnerError", "build_master", "check_port", "listen_address", "serve",
           "setup_logging"]


# Requests larger than this are not buffered: no provider accepts a body this size, and a request that
# is streamed through can't be compressed anyway (platform.md: don't set stream_large_bodies low).
STREAM_LARGE_BODIES = "256m"


class RunnerError(Exception):
    """The proxy cannot start; the message says what to do."""


class PortInUse(RunnerError):
    pass


@dataclass
class ProxyConfig:
    host: str = "127.0.0.1"
    port: int = 8787
    routes: list[str] = field(default_factory=list)  # HOST=ADDR:PORT
    upstream_ca: list[Path] = field(default_factory=list)
    compress: bool = True
    extra_hosts: list[str] = field(default_factory=list)
    # The user's own proxy (a corporate one) every upstream connection goes through, but NO_PROXY's.
    upstream_proxy: UpstreamProxy | None = None
    settings: Settings = field(default_factory=Settings)  # the rest, from the environment (Settings.from_env)

    def effective(self) -> dict[str, str]:
        """The proxy's effective settings, flags and environment together (Settings.effective)."""
        return self.settings.effective(routes=self.routes, upstream_ca=self.upstream_ca, extra_hosts=self.extra_hosts,
                                       compress=self.compress)

    def intercepted_hosts(self) -> list[str]:
        """Built-in hosts, extra hosts, and every routed host (routing a host means wanting it decrypted)."""
        from headroom.addon.route import parse_route

        routed = [parse_route(r)[0] for r in self.routes]
        return list(dict.fromkeys([*BUILTIN_HOSTS, *parse_host_list(self.extra_hosts), *routed]))


def _who_listens(port: int) -> str | None:
    """'name (pid N)' of the process listening on TCP `port`, best effort (Linux /proc), else None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(parts[9])
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:  # closed since the listing (a busy process opens and closes files all the time)
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        return f"{f.read().strip()} (pid {pid})"
                except OSError:
                    break
    return None


def check_port(host: str, port: int) -> None:
    """Raise RunnerError (PortInUse for a taken port) in one line naming the fix if host:port cannot be
    bound, before mitmproxy tries and logs its own multi-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise RunnerError(f"--host {host}: not an address of this machine ({e.strerror}); use --host 127.0.0.1") from e
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise RunnerError(
                    f"cannot listen on {host}:{port}: {e.strerror}; use --host 127.0.0.1 "
                    "(or an address of this machine) and a port you may bind (1024 or higher)"
                ) from e
            who = _who_listens(port)
            by = f" by {who}" if who else ""
            raise PortInUse(
                f"port {port} on {host} is already in use{by}: stop it, or pick another port with "
                f"--port (or HEADROOM_PORT), e.g. `{command()} proxy --port {suggest_port(port) or 'N'}`"
            ) from e


async def build_master(config: ProxyConfig):
    """A configured DumpMaster with the headroom addons. Must be called inside a running event loop."""
    from mitmproxy.options import Options
    from mitmproxy.tools.dump import DumpMaster

    from headroom.addon import make_addons
    from headroom.certs.ca import ensure_ca
    from headroom.certs.trust import upstream_bundle
    from headroom.home import ensure_home

    for ca in config.upstream_ca:
        if not Path(ca).is_file():
            raise RunnerError(f"--upstream-ca {ca}: no such file; give a PEM file of CA certificates")
    hosts = config.intercepted_hosts()
    ca_files = ensure_ca(hosts=hosts)
    from headroom.certs.ca import load_ca, unpermitted

    for host in unpermitted(load_ca(ca_files)[0], hosts):  # a host added after the CA was made
        logging.getLogger("headroom.certs").warning(
            "the CA does not permit %s (its name constraints were set when it was made): clients refuse its "
            "certificates for it; run `%s certs rotate` to make a CA for the current hosts, then trust it again "
            "(`%s certs install`)", host, command(), command())
    bundle = upstream_bundle(ensure_home() / "trust", [Path(p) for p in config.upstream_ca])
    opts = Options(
        listen_host=config.host,
        listen_port=config.port,
        confdir=str(ca_files.confdir),
        ssl_verify_upstream_trusted_ca=str(bundle),
        allow_hosts=allow_hosts_patterns(config.intercepted_hosts()),
    )
    if config.upstream_proxy is not None:
        # mitmproxy's upstream mode: every CONNECT's upstream side (decrypted or tunnelled) is a CONNECT through
        # it, plain HTTP goes to it in absolute form. No credentials in the mode: the Chain addon adds them.
        opts.update(mode=[f"upstream:{config.upstream_proxy.spec}"])
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    master.addons.add(*make_addons(config.settings, effective=config.effective(), upstream=config.upstream_proxy))
    # Addon-defined options exist only once the addons are loaded (platform.md §2).
    updates: dict[str, object] = {"stream_large_bodies": STREAM_LARGE_BODIES, "headroom_routes": list(config.routes)}
    updates.update({k: v for k, v in config.settings.options().items() if k in master.options})
    if "headroom_compress" in master.options:
        updates["headroom_compress"] = config.compress
    if "headroom_extra_hosts" in master.options:
        updates["headroom_extra_hosts"] = list(config.intercepted_hosts())
    master.options.update(**updates)
    return master, ca_files


def listen_address(master) -> tuple[str, int] | None:
    ps = master.addons.get("proxyserver")
    addrs = ps.listen_addrs() if ps else []
    return (addrs[0][0], addrs[0][1]) if addrs else None


class _Ready:
    """Calls back once mitmproxy is listening, with the real address (port 0 picks one)."""

    def __init__(self, master, on_ready: Callable[[tuple[str, int]], None]):
        self.master = master
        self.on_ready = on_ready

    def running(self) -> None:
        addr = listen_address(self.master)
        if addr is not None:
            self.on_ready(addr)


def _quiet_shutdown_noise(loop: asyncio.AbstractEventLoop) -> None:
    def handler(loop, context):
        exc = context.get("exception")
        if isinstance(exc, (asyncio.CancelledError, ConnectionError)):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


async def serve(config: ProxyConfig, on_ready: Callable[[tuple[str, int], Path], None]) -> None:
    """Run the proxy until SIGINT/SIGTERM (or master.shutdown()). `on_ready(addr, ca_cert)` once listening."""
    loop = asyncio.get_running_loop()
    _quiet_shutdown_noise(loop)
    master, ca_files = await build_master(config)
    master.addons.add(_Ready(master, lambda addr: on_ready(addr, ca_files.cert)))
    from headroom.addon.ops import Ops

    ops = next((a for a in master.addons.chain if isinstance(a, Ops)), None)
    # SIGTERM (an orchestrator's stop) drains: /readyz 503, the listener closed, requests in flight finished
    # (bounded by HEADROOM_DRAIN_SECONDS), exit 0. SIGINT (Ctrl-C) and a second SIGTERM stop at once.
    handlers = {signal.SIGINT: master.shutdown,
                signal.SIGTERM: (lambda: ops.start_drain(master.shutdown)) if ops is not None else master.shutdown}
    for sig, handler in handlers.items():
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    await master.run()


def setup_logging() -> None:
    """Warnings from mitmproxy and notes from headroom to stderr, one line each, without request content."""
    from headroom.logs import ContentFree

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ContentFree("headroom: %(message)s"))  # never an exception's message: it may hold content
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("headroom").setLevel(logging.INFO)
