"""`headroom compress` (being built; see its issue)."""
from __future__ import annotations

import typer


def compress() -> None:
    """Not built yet."""
    typer.echo("headroom compress: not built yet", err=True)
    raise typer.Exit(code=1)
