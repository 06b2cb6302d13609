"""`headroom doctor` (being built; see its issue)."""
from __future__ import annotations

import typer


def doctor() -> None:
    """Not built yet."""
    typer.echo("headroom doctor: not built yet", err=True)
    raise typer.Exit(code=1)
