"""`headroom retrieve` (being built; see its issue)."""
from __future__ import annotations

import typer


def retrieve() -> None:
    """Not built yet."""
    typer.echo("headroom retrieve: not built yet", err=True)
    raise typer.Exit(code=1)
