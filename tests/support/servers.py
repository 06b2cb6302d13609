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

__all__ = ["free_port", "postgres_server", "redis_server", "require_psycopg"]

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


def require_psycopg():
    """psycopg, for the shared-ledger tests; a failure, never a skip, when it is missing: it is in the [test]
    extra, so a missing one is a broken test install and skipping would hide every PostgreSQL test."""
    import pytest

    try:
        import psycopg
    except ImportError as e:
        pytest.fail(f"psycopg cannot be imported ({e}): pip install -e '.[test]' (the [test] extra has it); "
                    "the PostgreSQL tests fail rather than skip without it", pytrace=False)
    return psycopg


PG_ROOT = Path("/usr/lib/postgresql")  # where Debian's postgresql package puts each version's bin/


def _pg_bin(name: str, root: Path = PG_ROOT) -> str:
    found = sorted(root.glob(f"*/bin/{name}"))
    exe = str(found[-1]) if found else shutil.which(name)
    if not exe:
        raise RuntimeError(f"{name} is not installed: apt-get install postgresql (.ci/run does); the PostgreSQL "
                           "tests fail rather than skip without it")
    return exe


@contextmanager
def postgres_server(password: str = "secret-pw", *, tls: tuple[bytes, bytes] | None = None,
                    database: str = "postgres") -> Iterator[str]:
    """A postgres of its own (initdb in a fresh temp dir, loopback TCP, password auth), yielding its
    postgresql:// URL. As root (CI), initdb and postgres run as the `postgres` user, which owns the dir.

    `tls` = (certificate chain PEM, key PEM): ssl=on with that certificate, and only TLS connections are
    accepted (pg_hba: hostssl, hostnossl rejected), so a client that connects at all connected over TLS. The
    URL then names the host `localhost`, the name the test certificates are made for.

    `database`: the URL's database, created first when it is not `postgres` (as the postgres image's
    POSTGRES_DB does: deploy/compose.yaml's ledger is database `headroom`)."""
    import os
    import tempfile

    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    tmp = Path(tempfile.mkdtemp(prefix="headroom-pg-"))
    data, pwfile, log = tmp / "data", tmp / "pw", tmp / "pg.log"
    pwfile.write_text(password + "\n")
    if as_root:
        shutil.chown(tmp, "postgres")
        shutil.chown(pwfile, "postgres")
    port = free_port()
    proc = None
    try:
        subprocess.run([*prefix, _pg_bin("initdb"), "-D", str(data), "-U", "headroom", "--pwfile", str(pwfile),
                        "-A", "scram-sha-256", "--no-sync", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        options = ["-c", "fsync=off"]
        if tls is not None:
            cert, key = tmp / "server.crt", tmp / "server.key"
            cert.write_bytes(tls[0])
            key.write_bytes(tls[1])
            key.chmod(0o600)  # postgres refuses a key others can read
            (data / "pg_hba.conf").write_text("local all all scram-sha-256\n"
                                             "hostssl all all 127.0.0.1/32 scram-sha-256\n"
                                             "hostssl all all ::1/128 scram-sha-256\n"
                                             "hostnossl all all 0.0.0.0/0 reject\n"
                                             "hostnossl all all ::/0 reject\n")
            if as_root:
                for f in (cert, key, data / "pg_hba.conf"):
                    shutil.chown(f, "postgres")
            options += ["-c", "ssl=on", "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}"]
        proc = subprocess.Popen([*prefix, _pg_bin("postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
                                 "-k", str(tmp), *options],
                                stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.1)
        time.sleep(0.2)  # the port opens a moment before it accepts logins
        host = "localhost" if tls is not None else "127.0.0.1"
        url = f"postgresql://headroom:{password}@{host}:{port}/postgres"
        if database != "postgres":
            with require_psycopg().connect(url, autocommit=True, connect_timeout=10) as c:
                c.execute(f'CREATE DATABASE "{database}"')
        yield url.rsplit("/", 1)[0] + "/" + database
    finally:
        if proc is not None:
            proc.terminate()  # SIGTERM: smart shutdown
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
