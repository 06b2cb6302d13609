"""What the proxy benchmarks share: the repo on sys.path, the fake upstream in its own process, clients.

    from _common import ROOT, FakeProcess, direct_client, percentile, proxy_client  # benchmarks/ is on sys.path
    fake = FakeProcess(tmp / "pki")            # tests/support/fake_upstream.py, scripted over its stdin
    proxy = launch_proxy(fake, tmp / "home")   # tests/support/proxy.py takes it like a FakeUpstream
"""
from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["ROOT", "FakeProcess", "direct_client", "percentile", "proxy_client"]

# The fake upstream's process: prints its port, then takes one command a line (the next replies to queue,
# or the last request body) until its stdin is closed.
_FAKE_SERVER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from tests.support.fake_upstream import FakeUpstream, Reply, make_pki
fake = FakeUpstream(make_pki(sys.argv[2])).start()
print(fake.port, flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd[0] == "call":
        fake.queue(Reply.tool_call("headroom_retrieve", {"key": cmd[1]}))
    elif cmd[0] == "text":
        fake.queue(Reply.text(cmd[1]))
    elif cmd[0] == "interval":
        fake.sse_interval = float(cmd[1])
    elif cmd[0] == "last":
        print(json.dumps(fake.last.decoded.decode()), flush=True)
"""


class FakeProcess:
    """The fake upstream in its own process, so its work does not share the benchmark's GIL. Has what
    launch_proxy needs of a fake (`ca_cert`, `route_for`) and `port` for direct requests."""

    def __init__(self, pki_dir: Path):
        pki_dir = Path(pki_dir)
        self.proc = subprocess.Popen([sys.executable, "-c", _FAKE_SERVER, str(ROOT), str(pki_dir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise SystemExit("the fake upstream did not start")
        self.port = int(line)
        self.ca_cert = pki_dir / "test-ca.pem"
        self.address = f"127.0.0.1:{self.port}"

    def route_for(self, host: str) -> str:
        return f"{host}={self.address}"

    def send(self, *cmd) -> None:
        """Queue a reply: ("text", answer) or ("call", key) for a headroom_retrieve call; or set the SSE
        spacing: ("interval", seconds)."""
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def last_body(self) -> str:
        """The body of the last request the fake received, decoded."""
        self.send("last")
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        self.proc.stdin.close()  # ends its command loop
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(10)


def proxy_client(proxy, *, timeout: float = 60) -> httpx.Client:
    """A keep-alive client through `proxy` (a tests/support/proxy.py ProxyProcess), trusting its CA."""
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    return httpx.Client(proxy=proxy.url, verify=ctx, timeout=timeout, trust_env=False)


def direct_client(fake: FakeProcess, *, timeout: float = 60) -> httpx.Client:
    """A keep-alive client straight to the fake upstream, trusting its test CA."""
    ctx = ssl.create_default_context(cafile=str(fake.ca_cert))
    return httpx.Client(verify=ctx, timeout=timeout, trust_env=False, transport=httpx.HTTPTransport(verify=ctx))


def percentile(xs: list[float], q: float) -> float:
    """The q-th quantile (0 < q < 1) of `xs` by rank, as the tables have always reported it."""
    return sorted(xs)[max(0, int(len(xs) * q) - 1)]
