"""`headroom dashboard` (being built; see its issue)."""
from __future__ import annotations

import typer


def dashboard() -> None:
    """Not built yet."""
    typer.echo("headroom dashboard: not built yet", err=True)
    raise typer.Exit(code=1)
