"""`headroom certs` (being built; see its issue)."""
from __future__ import annotations

import typer

app = typer.Typer(help="Manage the local CA that agents trust.", no_args_is_help=True)


@app.command("path")
def path() -> None:
    """Print the path of the CA certificate to trust."""
    from headroom.certs.ca import ensure_ca

    typer.echo(str(ensure_ca().cert))
