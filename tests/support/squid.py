"""A real squid (Debian's package) for tests: a corporate forward proxy that wants Basic credentials.

    with Squid.start(tmp, listen="127.0.0.1", allowed={"fake.upstream.test": "127.0.0.1"}) as squid:
        squid.url                     # http://alice:s3cret@127.0.0.1:PORT
        squid.connects()              # the CONNECTs it logged: [(status, "host:port"), ...]

It allows CONNECT (and plain HTTP) only to the names in `allowed`, which its own hosts file resolves (so a
test host needs no DNS), and only with the credentials; anything else is 403, missing or wrong credentials
407. It runs in the foreground (`squid -N`), is stopped at exit, and logs each request to access.log.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PASSWORD", "START_TIMEOUT", "Squid", "USER", "SquidUnavailable"]

USER, PASSWORD = "alice", "s3cret-корп"  # a non-ASCII password: the credentials must be carried byte for byte
START_TIMEOUT = 30.0


class SquidUnavailable(RuntimeError):
    pass


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _apr1(password: str) -> str:
    r = subprocess.run(["openssl", "passwd", "-apr1", "-stdin"], input=password, capture_output=True, text=True,
                       timeout=20, check=True)
    return r.stdout.strip()


@dataclass
class Squid:
    proc: subprocess.Popen
    host: str
    port: int
    dir: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        from urllib.parse import quote

        return f"http://{USER}:{quote(PASSWORD, safe='')}@{self.host}:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        from urllib.parse import quote

        return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}"

    @property
    def bare_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_lines(self) -> list[str]:
        try:
            return (self.dir / "access.log").read_text(errors="replace").splitlines()
        except OSError:
            return []

    def requests(self) -> list[tuple[str, str, str]]:
        """(squid's result code/status, method, target) of each request it logged, in order."""
        out = []
        for line in self.log_lines():
            parts = line.split()
            if len(parts) >= 7:
                out.append((parts[3], parts[5], parts[6]))
        return out

    def connects(self, status: str | None = None) -> list[str]:
        """The targets of the CONNECTs it logged (those that ended with `status`, e.g. "200", if given)."""
        return [t for code, m, t in self.requests() if m == "CONNECT" and (status is None or code.endswith("/" + status))]

    def wait_for_connect(self, target: str, count: int = 1, timeout: float = 15.0) -> list[str]:
        """The CONNECTs logged once at least `count` of them were to `target` (squid logs a tunnel when it
        closes: a kept-alive one shows up when its keep-alive ends). AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.connects()
            if got.count(target) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"squid logged {got.count(target)} CONNECT to {target}, wanted {count}: {got}")
            time.sleep(0.1)

    @classmethod
    def start(cls, listen: str = "127.0.0.1", allowed: dict[str, str] | None = None) -> Squid:
        squid = shutil.which("squid") or "/usr/sbin/squid"
        if not os.path.exists(squid):
            raise SquidUnavailable("squid is not installed: apt-get install squid (.ci/run does)")
        try:
            proxy_user = pwd.getpwnam("proxy")
        except KeyError:
            raise SquidUnavailable("no `proxy` user for squid to run as (Debian's squid package makes it)") from None
        d = Path(tempfile.mkdtemp(prefix="headroom-squid-"))
        os.chmod(d, 0o755)
        allowed = dict(allowed or {})
        (d / "passwd").write_text(f"{USER}:{_apr1(PASSWORD)}\n")
        (d / "hosts").write_text("".join(f"{ip} {name}\n" for name, ip in allowed.items()) or "\n")
        port = _free_port(listen)
        names = " ".join(allowed) or "none.invalid"
        (d / "squid.conf").write_text(f"""
http_port {listen}:{port}
visible_hostname headroom-test-squid
pid_filename none
cache_log {d}/cache.log
access_log stdio:{d}/access.log squid
logfile_rotate 0
cache deny all
cache_mem 8 MB
coredump_dir {d}
hosts_file {d}/hosts
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/passwd
auth_param basic realm headroom-test
auth_param basic utf8 on
acl authed proxy_auth REQUIRED
acl allowed_dst dstdomain {names}
http_access deny !authed
http_access allow allowed_dst
http_access deny all
""")
        for name in ("passwd", "hosts", "squid.conf"):
            os.chmod(d / name, 0o644)
        for name in ("access.log", "cache.log"):
            (d / name).touch()
            os.chown(d / name, proxy_user.pw_uid, proxy_user.pw_gid)
        os.chown(d, proxy_user.pw_uid, proxy_user.pw_gid)
        proc = subprocess.Popen([squid, "-N", "-f", str(d / "squid.conf")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = (proc.stderr.read() if proc.stderr else "") + (d / "cache.log").read_text(errors="replace")
                raise SquidUnavailable(f"squid exited at start ({proc.returncode}): {err[-800:]}")
            try:
                with socket.create_connection((listen, port), timeout=0.5):
                    return cls(proc, listen, port, d)
            except OSError:
                time.sleep(0.1)
        proc.kill()
        raise SquidUnavailable(f"squid did not listen on {listen}:{port} within {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Squid:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
