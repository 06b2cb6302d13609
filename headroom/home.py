"""Where Headroom keeps its files: the CA, the store, the ledger, logs (~/.headroom or HEADROOM_HOME)."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "ensure_home"]


def home() -> Path:
    """The headroom home, not created."""
    env = os.environ.get("HEADROOM_HOME")
    return Path(env).expanduser() if env else Path.home() / ".headroom"


def ensure_home() -> Path:
    """The headroom home, created user-only (0700) if missing."""
    h = home()
    h.mkdir(mode=0o700, parents=True, exist_ok=True)
    return h
