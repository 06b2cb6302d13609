"""`headroom proxy`: the transparent compressing proxy, in the foreground."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from headroom.proxyinfo import DEFAULT_PORT


def _split(values: Optional[list[str]]) -> list[str]:
    """Options that may come from one env var hold a whitespace/comma separated list."""
    out: list[str] = []
    for v in values or []:
        out.extend(t for t in re.split(r"[\s,]+", v) if t)
    return out


def _fail(message: str) -> None:
    typer.echo(f"headroom proxy: {message}", err=True)
    raise typer.Exit(code=1)


def env_problem(env=None) -> str | None:
    """The first HEADROOM_* variable the proxy would misread, as a one-line fix, else None."""
    from headroom.settings import Settings, SettingsError

    try:
        Settings.from_env(os.environ if env is None else env)
    except SettingsError as e:
        return str(e)
    return None


def exposure_warning(host: str) -> str | None:
    """A one-line note when `host` is reachable from other machines (the proxy decrypts LLM traffic: it is in
    team mode there, every client needs a user token), else None."""
    from headroom.settings import is_loopback_host

    if is_loopback_host(host):
        return None
    return (f"listening on {host}, not loopback: team mode, every client needs a user token (`headroom team add "
            "NAME`; docs/team.md); use --host 127.0.0.1 unless you mean to share it")


def _not_pem(path: Path) -> bool:
    try:
        return b"-----BEGIN CERTIFICATE-----" not in path.read_bytes()
    except OSError:
        return False  # unreadable: reported by the caller as it is


def proxy(
    host: Annotated[str, typer.Option(envvar="HEADROOM_HOST", help="Address to listen on (loopback unless told otherwise).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="HEADROOM_PORT", min=0, max=65535, help="Port to listen on; 0 picks a free one.")] = DEFAULT_PORT,
    route: Annotated[Optional[list[str]], typer.Option(
        envvar="HEADROOM_ROUTE", metavar="HOST=ADDR:PORT",
        help="Send HOST's decrypted traffic to ADDR:PORT, keeping its Host header and TLS name. Repeatable.")] = None,
    upstream_ca: Annotated[Optional[list[Path]], typer.Option(
        envvar="HEADROOM_UPSTREAM_CA", metavar="FILE",
        help="Extra CA certificates (PEM) to trust for upstream servers. Repeatable. Also HEADROOM_CA_BUNDLE.")] = None,
    compress: Annotated[bool, typer.Option(
        "--compress/--no-compress", envvar="HEADROOM_COMPRESS",
        help="Compress tool outputs; --no-compress forwards every request untouched.")] = True,
    extra_host: Annotated[Optional[list[str]], typer.Option(
        "--extra-host", envvar="HEADROOM_EXTRA_HOSTS", metavar="HOST",
        help="Another LLM API host (or glob like *.example.com) to decrypt and compress. Repeatable.")] = None,
    upstream_proxy: Annotated[Optional[str], typer.Option(
        "--upstream-proxy", envvar="HEADROOM_UPSTREAM_PROXY", metavar="URL",
        help="Your network's own HTTP proxy, http://[USER:PASSWORD@]HOST:PORT, for every upstream connection "
             "(NO_PROXY hosts and loopback go direct). Default: this shell's HTTPS_PROXY / ALL_PROXY unless it "
             "is a headroom proxy; none connects directly.")] = None,
) -> None:
    """Run the proxy in the foreground: point agents at it with HTTPS_PROXY and trust its CA."""
    import asyncio

    from headroom.addon.route import parse_route
    from headroom.core.hosts import parse_host_list
    from headroom.runner import ProxyConfig, RunnerError, check_port, serve, setup_logging

    routes = _split(route)
    # Paths are not split further (they may hold spaces); HEADROOM_UPSTREAM_CA is split on whitespace
    # by click like any multi-value env var, HEADROOM_CA_BUNDLE names one file.
    cas = [Path(p) for p in upstream_ca or []]
    if not cas and os.environ.get("HEADROOM_CA_BUNDLE", "").strip():
        cas = [Path(os.environ["HEADROOM_CA_BUNDLE"].strip())]
    try:
        for r in routes:
            parse_route(r)
        extra = parse_host_list(_split(extra_host))
    except ValueError as e:
        _fail(str(e))
    from headroom.settings import Settings, SettingsError

    try:  # the one place the proxy's HEADROOM_* variables are read; validated here, once
        settings = Settings.from_env(os.environ).for_host(host)
    except SettingsError as e:
        _fail(str(e))
    for ca in cas:
        if ca.is_dir():
            _fail(f"--upstream-ca {ca}: is a folder; give a PEM file of CA certificates (several can be "
                  "concatenated into one)")
        if not ca.is_file():
            _fail(f"--upstream-ca {ca}: no such file; give a PEM file of CA certificates")
        if _not_pem(ca):
            _fail(f"--upstream-ca {ca}: no PEM certificate in it (-----BEGIN CERTIFICATE-----); give a PEM file "
                  "of CA certificates (convert DER with `openssl x509 -inform der -in FILE -out FILE.pem`)")
    from headroom.proxyinfo import socks_ignored, upstream_proxy_for

    try:
        chain = upstream_proxy_for(os.environ, upstream_proxy, own_port=port or None)
    except ValueError as e:
        _fail(str(e))
    socks = socks_ignored(os.environ) if chain is None and upstream_proxy is None else None
    if socks:
        typer.echo(f"headroom proxy: warning: {socks} names a SOCKS proxy, which the proxy does not chain to: it "
                   "connects directly (HEADROOM_UPSTREAM_PROXY=http://HOST:PORT gives an HTTP proxy)", err=True)
    config = ProxyConfig(host=host, port=port, routes=routes, upstream_ca=cas, compress=compress, extra_hosts=extra,
                         upstream_proxy=chain, settings=settings)
    try:
        check_port(host, port)
    except RunnerError as e:
        _fail(str(e))
    exposed = exposure_warning(host)
    if exposed:
        typer.echo(f"headroom proxy: {exposed}", err=True)
    if settings.team:
        from headroom.storage.users import Users, users_path

        users = Users(Path(settings.team_users) if settings.team_users else users_path())
        active = [u for u in users.all() if u.revoked is None]
        if users.error:
            _fail(users.error)
        if not active:
            typer.echo(f"headroom proxy: team mode with no users yet in {users.path}: every client is refused until "
                       f"`headroom team add NAME` issues a token", err=True)

    def on_ready(addr: tuple[str, int], ca_cert: Path) -> None:
        shown = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
        mode = "" if compress else ", compression off"
        if chain is not None:
            mode += f", through {chain.masked}"
        print(f"headroom proxy listening on {shown}:{addr[1]} (trust the CA at {ca_cert}{mode})", flush=True)

    setup_logging()
    import logging

    for warning in settings.warnings:  # values the proxy works around (a safe default), said once at start
        logging.getLogger("headroom.settings").warning("%s", warning)
    try:
        asyncio.run(serve(config, on_ready))
    except KeyboardInterrupt:
        pass
    except RunnerError as e:
        _fail(str(e))
    except Exception as e:  # the CA or the bundle can fail on a broken home; say so in one line
        from headroom.certs.ca import CAError

        if isinstance(e, CAError):
            _fail(str(e))
        if isinstance(e, OSError):
            where = f"{e.filename}: " if e.filename else ""
            _fail(f"{where}{e.strerror or e}; set HEADROOM_HOME to a writable folder")
        raise
    sys.stdout.flush()
