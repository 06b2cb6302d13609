"""Benchmark: requests through the proxy chained to a real squid that wants credentials, against the same proxy
connecting directly: how many got their answer, and the time per request (new connection each, and kept alive).

    .venv/bin/python benchmarks/chain_bench.py [N]      # needs squid (apt-get install squid) and openssl

Squid and the fake upstream run on loopback; each request is an intercepted Chat Completions call with a
compressible tool output. A benchmark, not a test: times vary run to run on a shared machine; compare the
rows of one run.
"""
from __future__ import annotations

import json
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from tests.e2e.test_chain import chat  # noqa: E402
from tests.support.fake_upstream import FakeUpstream, make_pki  # noqa: E402
from tests.support.proxy import launch_proxy  # noqa: E402
from tests.support.squid import PASSWORD, Squid  # noqa: E402


def run(proxy, n: int, keep_alive: bool) -> tuple[int, list[float]]:
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    ok, times = 0, []
    client = httpx.Client(proxy=proxy.url, verify=ctx, timeout=30, trust_env=False) if keep_alive else None
    body = json.dumps(chat()).encode()
    for _ in range(n):
        c = client or httpx.Client(proxy=proxy.url, verify=ctx, timeout=30, trust_env=False)
        t = time.perf_counter()
        try:
            r = c.post("https://api.openai.com/v1/chat/completions", content=body,
                       headers={"content-type": "application/json", "authorization": "Bearer sk-test"})
            ok += r.status_code == 200
        except httpx.HTTPError:
            pass
        times.append(time.perf_counter() - t)
        if client is None:
            c.close()
    if client is not None:
        client.close()
    return ok, times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    tmp = Path(tempfile.mkdtemp(prefix="headroom-chain-bench-"))
    fake = FakeUpstream(make_pki(tmp / "pki", ("fake.upstream.test",))).start()
    squid = Squid.start("127.0.0.1", {"fake.upstream.test": "127.0.0.1"})
    args = ["--route", f"api.openai.com=fake.upstream.test:{fake.port}", "--upstream-ca", str(fake.ca_cert)]
    direct_args = ["--route", f"api.openai.com=127.0.0.1:{fake.port}", "--upstream-ca", str(fake.ca_cert)]
    try:
        print(f"| path | connections | requests | answered | p50 ms | p90 ms |")
        print("|---|---|---|---|---|---|")
        for label, extra, env in (("direct", direct_args, {"HEADROOM_UPSTREAM_PROXY": "none"}),
                                  ("through squid", args, {"HEADROOM_UPSTREAM_PROXY": squid.url})):
            proxy = launch_proxy(None, tmp / label.replace(" ", "-"), *extra, env=env)
            try:
                for keep in (False, True):
                    run(proxy, 5, keep)  # warm: the CA's leaf for the host, the compressors
                    ok, times = run(proxy, n, keep)
                    q = statistics.quantiles([t * 1000 for t in times], n=10)
                    print(f"| {label} | {'kept alive' if keep else 'new each'} | {n} | {ok} | "
                          f"{statistics.median(times) * 1000:.1f} | {q[8]:.1f} |")
                assert PASSWORD not in proxy.stderr_text()
            finally:
                proxy.stop()
        tunnels = len(squid.connects())
        print(f"\nsquid logged {tunnels} CONNECTs (tunnels close when their connection does)")
    finally:
        squid.stop()
        fake.stop()


if __name__ == "__main__":
    main()
