"""`headroom dashboard`: find the running proxy, then open its live savings page (or print the URL)."""
from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from headroom.command import command
from headroom.proxyinfo import DEFAULT_PORT

__all__ = ["dashboard"]


def _fail(message: str) -> NoReturn:
    typer.echo(f"headroom dashboard: {message}", err=True)
    raise typer.Exit(code=1)


def dashboard(
    port: Annotated[int, typer.Option(envvar="HEADROOM_PORT", min=1, max=65535,
                                      help="Port of the running headroom proxy.")] = DEFAULT_PORT,
    no_open: Annotated[bool, typer.Option("--no-open", help="Print the URL instead of opening a browser.")] = False,
) -> None:
    """Open the live savings dashboard of the running proxy (proxy must be running)."""
    from headroom.proxyinfo import probe_health

    info = probe_health(port)
    if info is None:
        _fail(f"no headroom proxy answers on 127.0.0.1:{port}: the proxy must be running. Start one with "
              f"`{command()} proxy --port {port}` (or `{command()} wrap -- <agent>`), or give its port with --port. "
              f"`{command()} perf` shows the same figures without a proxy.")
    admin = info.get("admin_url")
    if not isinstance(admin, str) or not admin.startswith("http://"):
        _fail(f"the headroom proxy on port {port} (pid {info.get('pid')}) serves no dashboard: its admin server "
              f"is off (HEADROOM_ADMIN_PORT=-1). Restart it without that setting, or use `{command()} perf`.")
    url = admin.rstrip("/") + "/dashboard"
    if no_open:
        typer.echo(url)
        return
    import webbrowser

    opened = False
    try:
        opened = webbrowser.open(url, new=2)
    except webbrowser.Error:
        opened = False
    if opened:
        typer.echo(f"Opened {url}")
    else:
        typer.echo(f"No browser could be opened here; open this URL on this machine: {url}")
