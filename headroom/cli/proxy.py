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
    timeout_ms = os.environ.get("HEADROOM_COMPRESS_TIMEOUT_MS", "").strip()
    if timeout_ms and (not timeout_ms.isdigit() or int(timeout_ms) == 0):
        _fail(f"HEADROOM_COMPRESS_TIMEOUT_MS={timeout_ms!r}: give the compression budget in milliseconds, e.g. 2000")
    for ca in cas:
        if not ca.is_file():
            _fail(f"--upstream-ca {ca}: no such file; give a PEM file of CA certificates")
    config = ProxyConfig(host=host, port=port, routes=routes, upstream_ca=cas, compress=compress, extra_hosts=extra)
    try:
        check_port(host, port)
    except RunnerError as e:
        _fail(str(e))

    def on_ready(addr: tuple[str, int], ca_cert: Path) -> None:
        shown = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
        mode = "" if compress else ", compression off"
        print(f"headroom proxy listening on {shown}:{addr[1]} (trust the CA at {ca_cert}{mode})", flush=True)

    setup_logging()
    try:
        asyncio.run(serve(config, on_ready))
    except KeyboardInterrupt:
        pass
    except RunnerError as e:
        _fail(str(e))
    except Exception as e:  # the CA or the bundle can fail on a broken home; say so in one line
        from headroom.certs.ca import CAError

        if isinstance(e, (CAError, OSError)):
            _fail(str(e))
        raise
    sys.stdout.flush()
