"""Pytest fixtures that run a real `headroom proxy` subprocess in front of the fake upstream.

    def test_through_proxy(proxy, fake_upstream):
        env = proxy.env()                       # HTTPS_PROXY, SSL_CERT_FILE, ... for a client subprocess
        subprocess.run([client_python, "script.py"], env=env, timeout=60, check=True)
        assert fake_upstream.last.json["model"] == "gpt-4o"

    def test_with_options(start_proxy, fake_upstream):
        p = start_proxy("--no-compress", env={"HEADROOM_TLS_STRICT": "0"})
        ...

`proxy` is `python -m headroom proxy --port 0` with `--route H=127.0.0.1:<fake port>` for every name in
fake_upstream.LLM_HOSTS and `--upstream-ca <fake test CA>`, so requests to https://api.openai.com etc.
reach the fake upstream while the client sees the headroom CA. It waits for the start line (bounded),
and stops the process (SIGTERM, then kill) at teardown. Its HEADROOM_HOME is the test's own home (the
autouse `headroom_home` fixture), so a test can open the proxy's store with `open_store()`.

A running proxy (`ProxyProcess`) exposes: `port`, `address` ("127.0.0.1:PORT"), `url`
("http://127.0.0.1:PORT", what HTTPS_PROXY holds), `ca_cert` (the headroom CA clients trust), `home`,
`client_ca_bundle` (headroom CA + the fake's test CA, so tunnelled requests to the fake verify too),
`env(**overrides)`, `stderr_text()`, `stop()`, and `proc` (the Popen).
"""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.fake_upstream import LLM_HOSTS, FakeUpstream

__all__ = ["ProxyProcess", "START_TIMEOUT", "launch_proxy", "proxy", "start_proxy"]

START_TIMEOUT = 30.0  # seconds; a cold start (imports + CA creation) takes 1-3 s on the 2-core CI box
STOP_TIMEOUT = 10.0
START_LINE = re.compile(r"^headroom proxy listening on \[?(?P<host>[^\]\s]+?)\]?:(?P<port>\d+) \(trust the CA at (?P<ca>.+?)[,)]")
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
               "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
               "NODE_EXTRA_CA_CERTS", "NODE_USE_ENV_PROXY")


@dataclass
class ProxyProcess:
    proc: subprocess.Popen
    port: int
    ca_cert: Path
    home: Path
    client_ca_bundle: Path
    start_line: str
    _stderr: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, base: dict | None = None, **overrides: str) -> dict:
        """An environment for a client subprocess: both cases of the proxy variables and every CA
        variable a client might read (the bundle trusts the headroom CA and the fake's test CA)."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _PROXY_VARS}
        bundle = str(self.client_ca_bundle)
        env.update({
            "HTTPS_PROXY": self.url, "https_proxy": self.url, "HTTP_PROXY": self.url, "http_proxy": self.url,
            "SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle,
            "NODE_EXTRA_CA_CERTS": bundle, "NODE_USE_ENV_PROXY": "1",
            # Clients must not try the network for anything else; keys are fakes the fake upstream accepts.
            "OPENAI_API_KEY": "sk-test-fake", "ANTHROPIC_API_KEY": "sk-ant-test-fake", "GEMINI_API_KEY": "fake",
            "HEADROOM_HOME": str(self.home),
        })
        env.update(overrides)
        return env

    def stderr_text(self) -> str:
        """What the proxy wrote to stderr so far (its warnings and fail-open notes)."""
        return "".join(self._stderr)

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> int:
        """SIGTERM, wait (bounded), kill if needed; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        return self.proc.returncode


def _pump(stream, sink: list[str] | None, lines: queue.Queue | None) -> None:
    for line in iter(stream.readline, ""):
        if sink is not None:
            sink.append(line)
        if lines is not None:
            lines.put(line)
    stream.close()


def launch_proxy(
    fake: FakeUpstream | None,
    home: Path,
    *args: str,
    env: dict | None = None,
    routes: tuple[str, ...] = LLM_HOSTS,
    timeout: float = START_TIMEOUT,
    prefix: tuple[str, ...] = (),
) -> ProxyProcess:
    """Start `python -m headroom proxy --port 0` routing `routes` to `fake`; return once it is listening.

    `args` are extra CLI arguments; `env` extra environment variables (e.g. {"HEADROOM_TLS_STRICT": "0"}).
    With `fake=None` nothing is routed and no upstream CA is added. `prefix` goes before the command (e.g.
    `ip netns exec NAME`, tests/support/netns.py).
    """
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    cmd = [*prefix, sys.executable, "-m", "headroom", "proxy", "--port", "0"]
    if fake is not None:
        for host in routes:
            cmd += ["--route", fake.route_for(host)]
        cmd += ["--upstream-ca", str(fake.ca_cert)]
    cmd += list(args)
    penv = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS and not k.startswith("HEADROOM_")}
    penv.update({"HEADROOM_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    penv.update(env or {})
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=penv,
                            cwd=Path(__file__).resolve().parents[2])
    stderr: list[str] = []
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, None, lines), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, stderr, None), daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(0.01, min(left, 0.2)))
        except queue.Empty:
            line = None
        if line is not None and (m := START_LINE.match(line)):
            break
        if proc.poll() is not None or left <= 0:
            if proc.poll() is None:
                proc.kill()
            proc.wait(STOP_TIMEOUT)
            time.sleep(0.05)  # let the pump threads drain stderr
            raise RuntimeError(
                f"headroom proxy did not start (exit {proc.returncode}): {' '.join(cmd)}\n{''.join(stderr)}"
            )
    ca_cert = Path(m.group("ca"))
    bundle = home / "client-ca-bundle.pem"
    parts = [ca_cert.read_bytes()] + ([fake.ca_cert.read_bytes()] if fake is not None else [])
    bundle.write_bytes(b"".join(p.strip() + b"\n" for p in parts))
    return ProxyProcess(proc, int(m.group("port")), ca_cert, home, bundle, line.rstrip("\n"), stderr)


@pytest.fixture
def start_proxy(fake_upstream, headroom_home):
    """A factory: `start_proxy(*cli_args, env={...}, routes=..., home=...)` → a running ProxyProcess
    routed to this test's fake upstream. Every proxy it started is stopped at teardown."""
    started: list[ProxyProcess] = []

    def start(*args: str, env: dict | None = None, routes: tuple[str, ...] = LLM_HOSTS,
              home: Path | None = None, upstream: FakeUpstream | None = fake_upstream) -> ProxyProcess:
        p = launch_proxy(upstream, home or headroom_home, *args, env=env, routes=routes)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def proxy(start_proxy) -> ProxyProcess:
    """A running `headroom proxy` with default options, routed to this test's `fake_upstream`."""
    return start_proxy()
