"""Private real servers for the team tests: a redis-server on a free loopback port, torn down after.

Each start waits a bounded time for the server to answer and raises (with its log) if it does not.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["free_port", "redis_server"]

START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(tmp: Path, *, maxmemory: str = "64mb", policy: str = "volatile-lru",
                 password: str = "", port: int | None = None) -> Iterator[str]:
    """A redis-server of its own (no disk persistence), yielding its redis:// URL (on `port` if given)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (.ci/run installs the Debian package redis-server)")
    port = port or free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "redis.log"
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(tmp), "--logfile", str(log), "--maxmemory", maxmemory, "--maxmemory-policy", policy]
    if password:
        args += ["--requirepass", password]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (_answers(port) if not password else _port_open(port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.05)
        auth = f":{password}@" if password else ""
        yield f"redis://{auth}127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
