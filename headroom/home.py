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
    """The headroom home, created user-only (0700) if missing, and made user-only if it is this user's and
    open to others (a home an older version or a umask left at 0755: it holds the CA's folder and the store)."""
    h = home()
    h.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        try:
            st = h.stat()
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                os.chmod(h, 0o700)
        except OSError:  # not ours to change: each file in it is still user-only
            pass
    return h
