"""Idle RSS: the proxy's memory after start, after a burst and after the idle release, beside bare mitmproxy;
and what the first request after a release costs.

    .venv/bin/python benchmarks/idle_rss.py [--idle 10] [-n 300] [-c 8] [--cycles 3]

Starts the fake upstream, bare mitmproxy (benchmarks/bare_mitmproxy.py, as in proxy_cost.py) and `headroom
proxy` with compression and retrieval on and HEADROOM_MODELS_IDLE_SECONDS=--idle (shortened from the
default 300 so the run is short; the release is the same). RSS (VmRSS from /proc) of both: 3 s after
start (the models load in the background), right after a burst of the soak mix (benchmarks/soak.py) at c
clients, and once the idle release has had time (idle + its check interval + 2 s). Then, per cycle: one
request of a new tool output after the release (it waits for the reload, outside its compression budget)
and the same kind of request right after with the models loaded, each sent alone; the upstream body says
whether it was compressed. The relevance model's own process (a child of the proxy's while loaded) is
reported in its own row. A benchmark, not a test: compare the columns of one run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FakeProcess  # noqa: E402
from proxy_cost import Arm, start_bare  # noqa: E402
from soak import HEADERS, PATHS, Run, request, rss_mb  # noqa: E402
from tests.support.proxy import launch_proxy  # noqa: E402


def children(pid: int) -> list[int]:
    """The child processes of `pid` (the relevance model's, while it is loaded)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def one(arm: Arm, fake: FakeProcess, i: int) -> tuple[float, bool]:
    """Latency (ms) of non-streamed request i of the mix, and whether upstream got it smaller (compressed)."""
    provider, body = request(i)
    host, path = PATHS[provider]
    with arm.client() as c:
        c.post(arm.base("api.openai.com") + "/v1/models", headers=HEADERS)  # connect + TLS outside the timing
        t0 = time.perf_counter()
        r = c.post(arm.base(host) + path, content=body.replace(b'"stream": true', b'"stream": false'),
                   headers=HEADERS)
        ms = (time.perf_counter() - t0) * 1000
    assert r.status_code == 200, r.status_code
    return ms, len(fake.last_body()) < len(body) * 0.8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle", type=int, default=10, help="HEADROOM_MODELS_IDLE_SECONDS for the run (default 10)")
    ap.add_argument("-n", type=int, default=300, help="requests in the burst (default 300)")
    ap.add_argument("-c", type=int, default=8, help="concurrent clients in the burst (default 8)")
    ap.add_argument("--cycles", type=int, default=3, help="release / first request cycles (default 3)")
    a = ap.parse_args()
    settle = a.idle + min(30.0, max(0.2, a.idle / 4)) + 2
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        fake = FakeProcess(tmp / "pki")
        hr = bp = None
        try:
            hr = launch_proxy(fake, tmp / "home-hr", env={"HEADROOM_MODELS_IDLE_SECONDS": str(a.idle)})
            bundle = tmp / "bare-upstream.pem"
            bundle.write_bytes(fake.ca_cert.read_bytes())
            # Its own CA (mitmproxy's, made in its confdir): Headroom's is name-constrained to the LLM hosts and
            # mitmproxy's leaf certificates name 127.0.0.1 too, which the constraint refuses.
            bp, port = start_bare(fake, tmp / "bare-conf", bundle, tmp)
            bare_ca = tmp / "bare-conf" / "mitmproxy-ca-cert.pem"
            arms = {"bare": Arm("bare", bp.pid, f"http://127.0.0.1:{port}", bare_ca, fake),
                    "headroom": Arm("headroom", hr.proc.pid, hr.url, hr.client_ca_bundle, fake)}
            rss: dict[str, dict[str, float]] = {n: {} for n in (*arms, "model process")}

            def sample(phase: str) -> None:
                for n, arm in arms.items():
                    rss[n][phase] = rss_mb(arm.pid)  # type: ignore[arg-type]
                rss["model process"][phase] = sum(rss_mb(c) for c in children(hr.proc.pid))
                print(f"{phase:12s} " + "  ".join(f"{n} {v[phase]:.0f} MB" for n, v in rss.items()), file=sys.stderr)

            time.sleep(3)
            sample("start")
            with ThreadPoolExecutor(a.c) as pool:
                for n, arm in arms.items():
                    run = Run(arm.client, arm.base)
                    run.run(range(1000, 1000 + a.n), pool)
                    if run.errors:
                        print(f"{n}: {len(run.errors)} errors, e.g. {run.errors[0]}", file=sys.stderr)
            sample("burst")
            time.sleep(settle)
            sample("idle")
            first, warm, bare = [], [], []
            for k in range(a.cycles):
                i = 16 * (10_000 + 10 * k)  # i % 16 == 0: a tool output never seen before, non-trivial
                ms, ok = one(arms["headroom"], fake, i)
                first.append(ms)
                print(f"cycle {k + 1}: first request after the release {ms:.0f} ms, compressed {ok}", file=sys.stderr)
                ms2, ok2 = one(arms["headroom"], fake, i + 16)
                warm.append(ms2)
                bare.append(one(arms["bare"], fake, i + 32)[0])
                print(f"cycle {k + 1}: next request {ms2:.0f} ms, compressed {ok2}", file=sys.stderr)
                if k == 0:
                    sample("reloaded")
                time.sleep(settle)
                sample(f"idle {k + 1}")
        finally:
            if hr is not None:
                hr.stop()
            if bp is not None:
                bp.terminate()
                bp.wait(10)
            fake.stop()
    print(f"\nHEADROOM_MODELS_IDLE_SECONDS={a.idle}, burst of {a.n} requests at c={a.c}\n")
    print("| arm | after start | after the burst | after the idle release | reloaded by a request | idle again |")
    print("|---|---|---|---|---|---|")
    for n in rss:
        again = statistics.median(v for p, v in rss[n].items() if p.startswith("idle "))
        print(f"| {n} | {rss[n]['start']:.0f} MB | {rss[n]['burst']:.0f} MB | {rss[n]['idle']:.0f} MB | "
              f"{rss[n]['reloaded']:.0f} MB | {again:.0f} MB |")
    print(f"\nfirst request after a release: {statistics.median(first):.0f} ms median "
          f"({min(first):.0f}-{max(first):.0f}); the next one: {statistics.median(warm):.0f} ms; "
          f"bare mitmproxy: {statistics.median(bare):.0f} ms ({a.cycles} cycles)")


if __name__ == "__main__":
    main()
