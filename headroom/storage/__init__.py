"""The proxy's IO on disk: the retrieval store, the savings ledger's writer and the report read from it (SQLite).

Each implements a Protocol of `headroom.core.ports` (`Store`, `LedgerWriter`); core never imports this package.
"""
from __future__ import annotations

import errno
import sqlite3

__all__ = ["disk_full"]

_SQLITE_FULL = 13  # SQLite's primary result code for "database or disk is full"


def disk_full(e: BaseException | None) -> bool:
    """Whether `e` (or what caused it) is a full disk: SQLite's SQLITE_FULL, or an OSError ENOSPC or EDQUOT."""
    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, sqlite3.Error) and (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF == _SQLITE_FULL:
            return True
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False
