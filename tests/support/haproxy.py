"""The real haproxy (Debian's package) running deploy/haproxy.cfg on loopback, for the team topology tests.

    with haproxy_balancer([a.port, b.port]) as lb:    # listening on 127.0.0.1:lb.port
        httpx.Client(proxy=lb.url, ...)              # clients talk to the balancer only
        lb.up, lb.served                             # haproxy's own view, per server, in the cfg's order

The file the docs ship is the file run: `loopback_config` replaces its addresses (the frontend's `bind :PORT`
and each `server NAME HOST:PORT`) by the test's loopback ones and changes nothing else, so its checks
(`GET /readyz`, `inter`, `fall`, `rise`) and timeouts are the deployment's. What the tests observe comes from
haproxy's stats socket, declared in a second `-f` file of the test's (one `global` line): `show stat` gives
each server's state and the sessions it was given. haproxy runs in the foreground (-db), its log in its
directory; every wait is bounded and it is stopped with the context.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from tests.support.servers import free_port

__all__ = ["DEPLOY_CONFIG", "Haproxy", "haproxy_balancer", "haproxy_exe", "loopback_config"]

DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
STATS_TIMEOUT_S = 5.0
# Debian puts haproxy in /usr/sbin, which a non-root PATH often lacks.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])

_BIND = re.compile(r"^(?P<lead>\s*bind )(?P<addr>\S*):(?P<port>\d+)$", re.M)
_SERVER = re.compile(r"^(?P<lead>\s*server (?P<name>\S+) )(?P<addr>\S+):(?P<port>\d+)(?P<rest> .*)?$", re.M)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def haproxy_exe(search: str | None = None) -> str:
    """The haproxy binary. Missing: a skip on a developer's machine, a failure in CI (.ci/run installs the
    Debian package haproxy; a skip there would pass the team tests while testing nothing)."""
    exe = shutil.which("haproxy", path=search or SEARCH_PATH)
    if exe is None:
        message = "haproxy is not installed: apt-get install haproxy (.ci/run does)"
        if _in_ci():
            pytest.fail(message + "; the team topology tests fail rather than skip without it in CI",
                        pytrace=False)
        pytest.skip(message)
    return exe


def loopback_config(text: str, port: int, servers: Sequence[int]) -> str:
    """`text` (deploy/haproxy.cfg) with its one `bind` on 127.0.0.1:port and its `server` lines, in order, on
    127.0.0.1:servers[i]; every other byte as it is. Raises ValueError when the file has not exactly one bind
    and len(servers) server lines: the tests would no longer run the file the docs ship."""
    binds, found = _BIND.findall(text), _SERVER.findall(text)
    if len(binds) != 1 or len(found) != len(servers):
        raise ValueError(f"expected 1 bind and {len(servers)} server lines, found {len(binds)} and {len(found)}")
    text = _BIND.sub(lambda m: f"{m['lead']}127.0.0.1:{port}", text)
    ports = iter(servers)
    return _SERVER.sub(lambda m: f"{m['lead']}127.0.0.1:{next(ports)}{m['rest'] or ''}", text)


@dataclass
class ServerStat:
    """One server's row of `show stat`: its state (UP, DOWN, "UP 1/2" going down...), its last check's
    result (L7OK; L7STS: another status, in check_code; L4CON: refused...) and the sessions it was given."""
    name: str
    status: str
    check_status: str
    check_code: str
    sessions: int


class Haproxy:
    def __init__(self, proc: subprocess.Popen, port: int, socket_path: Path, log: Path, backend: str,
                 servers: list[str]) -> None:
        self.proc = proc
        self.port = port
        self.socket_path = socket_path
        self.log = log
        self.backend = backend
        self.servers = servers  # names, in the cfg's order

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def command(self, line: str) -> str:
        """One command on the stats socket, its whole answer."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(STATS_TIMEOUT_S)
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()

    def stats(self) -> list[ServerStat]:
        """The backend's servers as haproxy sees them, in the cfg's order."""
        rows = csv.DictReader(io.StringIO(self.command("show stat").lstrip("# ")))
        by_name = {r["svname"]: r for r in rows if r["pxname"] == self.backend}
        return [ServerStat(n, by_name[n]["status"], by_name[n]["check_status"], by_name[n]["check_code"],
                           int(by_name[n]["stot"] or 0))
                for n in self.servers]

    @property
    def up(self) -> list[bool]:
        """Whether haproxy sends new connections to each server ("UP 1/2", one failed check, still gets them)."""
        return [s.status.startswith("UP") for s in self.stats()]

    @property
    def checked_up(self) -> list[bool]:
        """Up with a passing last check (haproxy starts its servers up before their first check)."""
        return [s.status.startswith("UP") and s.check_status == "L7OK" for s in self.stats()]

    @property
    def served(self) -> list[int]:
        """The client connections haproxy gave each server."""
        return [s.sessions for s in self.stats()]


def _answers(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(0.5)
            s.connect(str(sock))
            s.sendall(b"show info\n")
            return b"Name: HAProxy" in s.recv(4096)
    except OSError:
        return False


@contextmanager
def haproxy_balancer(servers: Sequence[int], config: Path = DEPLOY_CONFIG) -> Iterator[Haproxy]:
    """haproxy running `config` (deploy/haproxy.cfg) on a free loopback port in front of the `servers` ports."""
    exe = haproxy_exe()
    text = config.read_text()
    port = free_port()
    # Its own short directory: a unix socket's path must stay under ~108 bytes, which pytest's tmp_path may not.
    tmp = Path(tempfile.mkdtemp(prefix="headroom-haproxy-"))
    cfg, observe, sock, log = tmp / "haproxy.cfg", tmp / "observe.cfg", tmp / "stats.sock", tmp / "haproxy.log"
    cfg.write_text(loopback_config(text, port, servers))
    observe.write_text(f"global\n    stats socket {sock} mode 600 level admin\n")
    (backend,) = set(re.findall(r"^backend (\S+)", text, re.M))
    names = [m["name"] for m in _SERVER.finditer(text)]
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, "-db", "-f", str(cfg), "-f", str(observe)], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        # Its stats socket answers once every listener is bound. Never probe the frontend itself: that
        # connection would be a session haproxy gives a replica, and `served` would count it.
        while not _answers(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start (exit {proc.poll()}): {log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield Haproxy(proc, port, sock, log, backend, names)
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)
        shutil.rmtree(tmp, ignore_errors=True)
