"""`headroom wrap` (being built; see its issue)."""
from __future__ import annotations

import typer


def wrap() -> None:
    """Not built yet."""
    typer.echo("headroom wrap: not built yet", err=True)
    raise typer.Exit(code=1)
