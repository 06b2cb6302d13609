"""Logs carry numbers and kinds, never request content (invariant 8).

Exceptions are where content leaks in: a tokenizer's TypeError quoted a whole 57,837-character tool output,
a KeyError names a key taken from a body, a decoder quotes the bytes it choked on. `ContentFree`, set on
every handler the proxy logs through, keeps each record's own text (Headroom's messages are written to hold
numbers and kinds only) but writes an exception, whether passed as an argument or as exc_info, as its type
and, for a traceback, the frames (file, line, function: code, not data) without the message. Any line is
cut at MAX_LINE characters, a last guard against a message that holds more than it should.
"""
from __future__ import annotations

import logging
import traceback
from typing import Any

__all__ = ["MAX_LINE", "ContentFree", "describe"]

MAX_LINE = 2000


def describe(e: BaseException) -> str:
    """An exception as a log may show it: its type, and for an OSError its errno name, for SQLite its result
    code's name (never a message)."""
    import errno

    import sqlite3

    name = type(e).__name__
    if isinstance(e, OSError) and e.errno is not None:
        return f"{name} ({errno.errorcode.get(e.errno, e.errno)})"
    if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorname", None):
        return f"{name} ({e.sqlite_errorname})"  # SQLite's result code, e.g. SQLITE_FULL: a kind, never content
    return name


class ContentFree(logging.Formatter):
    """A formatter that never writes an exception's message."""

    def format(self, record: logging.LogRecord) -> str:
        if record.args:
            args: Any = record.args
            if isinstance(args, tuple):
                record.args = tuple(describe(a) if isinstance(a, BaseException) else a for a in args)
            elif isinstance(args, dict):
                record.args = {k: describe(v) if isinstance(v, BaseException) else v for k, v in args.items()}
        text = super().format(record)
        return text if len(text) <= MAX_LINE else text[:MAX_LINE] + f" ... [{len(text) - MAX_LINE} characters cut]"

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        _, exc, tb = ei
        frames = traceback.extract_tb(tb)
        lines = ["Traceback (most recent call last):"]
        lines += [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
        lines.append(f"{describe(exc)} (message withheld)" if exc is not None else "")
        return "\n".join(lines)

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return stack_info
