"""The command a fix line tells the user to run: `headroom` when their shell finds this installation by that
name, else the path of this installation's `headroom` (the README's install puts it in .venv/bin, which is
not on PATH), else `python -m headroom` with this interpreter. Every printed "run `headroom ...`" goes
through `command()`, so what the user copies runs.
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

__all__ = ["command"]


def _ours() -> Path | None:
    """This installation's `headroom` executable: the one being run, else the one beside this interpreter."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name in ("headroom", "headroom.exe") and argv0.is_file():
        return argv0.absolute()
    bindir = Path(sys.executable).parent  # a venv's bin/: not resolved, the venv's python is a symlink
    for name in ("headroom", "headroom.exe"):
        if (bindir / name).is_file():
            return (bindir / name).absolute()
    return None


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def command(sub: str = "", path: str | None = None) -> str:
    """`headroom SUB` as the user can run it from their shell (`path` is the PATH to look in, default theirs)."""
    ours = _ours()
    found = shutil.which("headroom", path=path)
    if found is not None and (ours is None or _same(Path(found), ours)):
        base = "headroom"
    elif ours is not None:
        base = shlex.quote(str(ours))
    else:
        base = f"{shlex.quote(sys.executable)} -m headroom"
    return f"{base} {sub}".rstrip() if sub else base
