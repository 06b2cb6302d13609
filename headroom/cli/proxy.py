"""`headroom proxy` (being built; see its issue)."""
from __future__ import annotations

import typer


def proxy() -> None:
    """Not built yet."""
    typer.echo("headroom proxy: not built yet", err=True)
    raise typer.Exit(code=1)
