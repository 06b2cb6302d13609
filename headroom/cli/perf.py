"""`headroom perf` (being built; see its issue)."""
from __future__ import annotations

import typer


def perf() -> None:
    """Not built yet."""
    typer.echo("headroom perf: not built yet", err=True)
    raise typer.Exit(code=1)
