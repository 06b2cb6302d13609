"""Is a process still the one we knew? For wrap's leases and the proxy's sessions, which both outlive a pid."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["alive", "start_token"]


def start_token(pid: int) -> str | None:
    """Something that changes when a pid is reused (Linux: the process start time), else None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive_windows(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def alive(pid: int, token: str | None = None) -> bool:
    """Whether `pid` runs and, given the `token` start_token returned for it, is still that process."""
    if os.name == "nt":
        return _alive_windows(pid)  # os.kill(pid, 0) would terminate the process there
    if os.name == "posix":
        # A process we started is our child: once it exits it stays a zombie (which kill(pid, 0) still
        # finds) until reaped, so reap it here.
        with contextlib.suppress(ChildProcessError, OSError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    if token is not None:
        now = start_token(pid)
        return now is None or now == token
    return True
