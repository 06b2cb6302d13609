"""`headroom team`: the users of a shared proxy (docs/team.md): add one (its token printed once), list, revoke.

The users file is HEADROOM_TEAM_USERS (default <home>/team/users.json), the one every replica reads; a running
proxy takes a change at its next connection, without a restart.
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Annotated

import typer

from headroom.proxyinfo import DEFAULT_PORT

app = typer.Typer(help="Manage the users of a shared (team) proxy: their tokens.", no_args_is_help=True,
                  rich_markup_mode=None)


def _users():
    from headroom.storage.users import Users, users_path

    raw = os.environ.get("HEADROOM_TEAM_USERS", "").strip()
    return Users(Path(raw).expanduser() if raw else users_path())


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"headroom team: {message}", err=True)
    return typer.Exit(code=code)


@app.command("add")
def add(name: Annotated[str, typer.Argument(help="The user's name (lowercase letters, digits, . _ -).")]) -> None:
    """Issue a user's token, printed once (only its hash is kept), and how to use it."""
    from headroom.storage.users import UsersError

    users = _users()
    try:
        token = users.add(name.strip())
    except UsersError as e:
        raise _fail(str(e)) from None
    host = os.environ.get("HEADROOM_HOST", "").strip() or "PROXY-HOST"
    port = os.environ.get("HEADROOM_PORT", "").strip() or str(DEFAULT_PORT)
    typer.echo(f"user {name} added to {users.path}; the token is shown this once (only its hash is kept):")
    typer.echo(token)
    typer.echo(f"use it: HTTPS_PROXY=http://{name}:{token}@{host}:{port} (and trust the team CA); "
               f"with headroom wrap on the proxy's machine: HEADROOM_TEAM_TOKEN={name}:{token}")


@app.command("list")
def list_() -> None:
    """The users, when each was added and whether it was revoked (never the tokens)."""
    users = _users()
    rows = users.all()
    if users.error:
        raise _fail(users.error)
    if not rows:
        typer.echo(f"no users in {users.path}; `headroom team add NAME` issues one")
        return

    def when(ts: float | None) -> str:
        return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if ts else ""

    from tabulate import tabulate

    typer.echo(tabulate([[u.name, when(u.created), f"revoked {when(u.revoked)}" if u.revoked else "active"]
                         for u in rows], headers=["user", "added", "state"], disable_numparse=True))


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The user whose token stops working.")]) -> None:
    """Revoke a user's token: a running proxy refuses it from its next connection."""
    from headroom.storage.users import UsersError

    try:
        _users().revoke(name.strip())
    except UsersError as e:
        raise _fail(str(e)) from None
    typer.echo(f"user {name} revoked; `headroom team add {name}` issues a new token")
