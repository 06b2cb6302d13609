"""Proxy cost side by side: direct, bare mitmproxy, `headroom proxy --no-compress`, `headroom proxy`.

    .venv/bin/python benchmarks/proxy_cost.py [--rounds 5] [-n 600] [-c 16] [--arms bare,plain,headroom]
    .venv/bin/python benchmarks/proxy_cost.py --before /tmp/before   # + an arm running an earlier commit

`--before DIR` adds a `before` arm: `headroom proxy` (compression and retrieval on) run from DIR, a copy of
the headroom package of an earlier commit (`git archive REV headroom | tar -x -C DIR`), in the same venv,
so a change is measured against its parent side by side in one run.

All proxies run at once (same CA, same upstream trust, same routes to one fake upstream in its own
process); rounds are interleaved, each round running every arm in turn (the order rotates) on the soak mix
(benchmarks/soak.py: three providers, every other request streamed, three in four carrying a compressible
tool output, mostly resent). Each round's request numbers are new, so no arm sees a question twice. Per
arm and round: throughput at c clients, proxy CPU per request (utime+stime from /proc, all threads), then
at c=1 the p50 of non-streamed latency and of the first SSE byte. Ratios to bare mitmproxy are taken per
round, and the table gives their median and spread (min-max). Idle RSS is read after a quiet second at
the end. A benchmark, not a test: compare the columns of one run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, FakeProcess, direct_client, percentile  # noqa: E402
from soak import HEADERS, PATHS, Run, request, rss_mb  # noqa: E402
from tests.support.fake_upstream import LLM_HOSTS  # noqa: E402
from tests.support.proxy import launch_proxy  # noqa: E402

from headroom.core.hosts import BUILTIN_HOSTS, allow_hosts_patterns  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Arm:
    def __init__(self, name: str, pid: int | None, url: str | None, ca_bundle: Path | None, fake: FakeProcess):
        self.name, self.pid, self.url, self.ca_bundle, self.fake = name, pid, url, ca_bundle, fake

    def client(self) -> httpx.Client:
        if self.url is None:
            return direct_client(self.fake, timeout=60)
        import ssl
        ctx = ssl.create_default_context(cafile=str(self.ca_bundle))
        return httpx.Client(proxy=self.url, verify=ctx, timeout=60, trust_env=False)

    def base(self, host: str) -> str:
        return f"https://127.0.0.1:{self.fake.port}" if self.url is None else f"https://{host}"


def start_bare(fake: FakeProcess, confdir: Path, bundle: Path, tmp: Path) -> tuple[subprocess.Popen, int]:
    """mitmdump from this venv with the bare addon, Headroom's CA and the fake's trust; returns (proc, port)."""
    port_file = tmp / "bare.port"
    script = tmp / "bare_ready.py"
    script.write_text("from mitmproxy import ctx\n"
                      "def running():\n"
                      "    ps = ctx.master.addons.get('proxyserver')\n"
                      f"    open({str(port_file)!r}, 'w').write(str(ps.listen_addrs()[0][1]))\n")
    mitmdump = Path(sys.executable).with_name("mitmdump")
    cmd = [str(mitmdump), "--listen-host", "127.0.0.1", "--listen-port", "0",
           "-s", str(ROOT / "benchmarks" / "bare_mitmproxy.py"), "-s", str(script),
           "--set", f"confdir={confdir}", "--set", f"ssl_verify_upstream_trusted_ca={bundle}",
           "--set", "stream_large_bodies=256m"]
    for pat in allow_hosts_patterns(BUILTIN_HOSTS):
        cmd += ["--set", f"allow_hosts={pat}"]
    for host in LLM_HOSTS:
        cmd += ["--set", f"bare_routes={fake.route_for(host)}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"mitmdump did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def one_by_one(arm: Arm, idx: range) -> tuple[float, float]:
    """p50 latency of non-streamed requests and p50 first SSE byte of streamed ones, at c=1."""
    c = arm.client()
    lat, ttfb = [], []
    try:
        for i in idx:
            provider, body = request(i)
            host, path = PATHS[provider]
            t0 = time.perf_counter()
            first = None
            with c.stream("POST", arm.base(host) + path, content=body, headers=HEADERS) as r:
                for chunk in r.iter_raw():
                    if first is None and chunk:
                        first = time.perf_counter()
            if r.status_code != 200:
                continue
            if b'"stream": true' in body:
                ttfb.append((first - t0) * 1000)
            else:
                lat.append((time.perf_counter() - t0) * 1000)
    finally:
        c.close()
    return percentile(lat, 0.5), percentile(ttfb, 0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-n", type=int, default=600, help="requests per arm and round at c clients (default 600)")
    ap.add_argument("-c", type=int, default=16, help="concurrent clients (default 16)")
    ap.add_argument("--serial", type=int, default=80, help="requests per arm and round at c=1 (default 80)")
    ap.add_argument("--interval", type=float, default=0.005, help="seconds between SSE events")
    ap.add_argument("--arms", default="direct,bare,plain,headroom",
                    help="comma-separated: direct, bare, plain (headroom --no-compress), headroom")
    ap.add_argument("--before", type=Path, default=None, metavar="DIR",
                    help="also run headroom from DIR (an earlier commit's headroom/ package) as the arm 'before'")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="extra environment for the headroom arm (e.g. HEADROOM_RETRIEVE=0), repeatable")
    ap.add_argument("--before-env", action="append", default=[], metavar="K=V",
                    help="extra environment for the before arm only (with --before . it measures a switch "
                         "against the same code side by side), repeatable")
    a = ap.parse_args()
    names = [s.strip() for s in a.arms.split(",") if s.strip()]
    if a.before is not None and "before" not in names:
        names.insert(names.index("headroom") if "headroom" in names else len(names), "before")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fake = FakeProcess(tmp / "pki")
        fake.send("interval", a.interval)
        procs: list = []
        arms: dict[str, Arm] = {}
        try:
            extra_env = dict(kv.split("=", 1) for kv in a.env)
            before_env = dict(kv.split("=", 1) for kv in a.before_env)
            hr = launch_proxy(fake, tmp / "home-hr", env=extra_env)
            procs.append(hr)
            if "headroom" in names:
                arms["headroom"] = Arm("headroom", hr.proc.pid, hr.url, hr.client_ca_bundle, fake)
            if "before" in names and a.before is not None:
                # `python -m headroom` finds the package in its working directory first: DIR's, not this tree's.
                bf = launch_proxy(fake, tmp / "home-before", env={**extra_env, **before_env},
                                  prefix=("env", "-C", str(a.before.resolve())))
                procs.append(bf)
                if Path(f"/proc/{bf.proc.pid}/cwd").resolve() != a.before.resolve():
                    raise SystemExit(f"the before arm did not start in {a.before}")
                arms["before"] = Arm("before", bf.proc.pid, bf.url, bf.client_ca_bundle, fake)
            if "plain" in names:
                pl = launch_proxy(fake, tmp / "home-plain", "--no-compress")
                procs.append(pl)
                arms["plain"] = Arm("plain", pl.proc.pid, pl.url, pl.client_ca_bundle, fake)
            if "bare" in names:
                bundle = tmp / "bare-upstream.pem"
                bundle.write_bytes(fake.ca_cert.read_bytes())
                # mitmproxy's own CA in its own confdir: headroom's CA is name-constrained to the LLM hosts,
                # and bare mitmproxy copies the upstream certificate's names (the fake's) into its leaves,
                # which that constraint refuses (it is what compat.limit_leaf_names does on headroom's side).
                bp, port = start_bare(fake, tmp / "bare-conf", bundle, tmp)
                bare_bundle = tmp / "bare-client.pem"
                bare_bundle.write_bytes((tmp / "bare-conf" / "mitmproxy-ca-cert.pem").read_bytes()
                                        + fake.ca_cert.read_bytes())
                arms["bare"] = Arm("bare", bp.pid, f"http://127.0.0.1:{port}", bare_bundle, fake)
            if "direct" in names:
                arms["direct"] = Arm("direct", None, None, None, fake)
            order = [n for n in names if n in arms]
            res: dict[str, list[dict]] = {n: [] for n in order}
            # Warm every arm (imports, first connections, models) outside the measured rounds.
            for n in order:
                one_by_one(arms[n], range(10**7, 10**7 + 12))
            with ThreadPoolExecutor(a.c) as pool:
                for rnd in range(a.rounds):
                    turn = order[rnd % len(order):] + order[:rnd % len(order)]
                    for n in turn:
                        arm = arms[n]
                        base = (rnd + 1) * 100_000 + order.index(n) * 10_000
                        run = Run(arm.client, arm.base)
                        cpu0 = cpu_seconds(arm.pid) if arm.pid else 0.0
                        t0 = time.perf_counter()
                        run.run(range(base, base + a.n), pool)
                        wall = time.perf_counter() - t0
                        cpu = (cpu_seconds(arm.pid) - cpu0) if arm.pid else float("nan")
                        p50, ttfb = one_by_one(arm, range(base + a.n, base + a.n + a.serial))
                        res[n].append({"rps": len(run.lat) / wall, "cpu_ms": cpu * 1000 / max(1, len(run.lat)),
                                       "p50": p50, "ttfb": ttfb, "errors": len(run.errors)})
                        print(f"round {rnd + 1} {n:9s} {res[n][-1]['rps']:6.0f} req/s  cpu "
                              f"{res[n][-1]['cpu_ms']:.2f} ms/req  p50 {p50:.1f} ms  ttfb {ttfb:.1f} ms  "
                              f"errors {len(run.errors)}", file=sys.stderr, flush=True)
            time.sleep(2)
            idle = {n: rss_mb(arms[n].pid) for n in order if arms[n].pid}
        finally:
            for p in procs:
                p.stop()
            if "bare" in arms:
                bp.terminate()
                bp.wait(10)
            fake.stop()

    def med(xs):
        return statistics.median(xs)

    print(f"Proxy cost: {a.rounds} interleaved rounds, {a.n} requests at c={a.c} and {a.serial} at c=1 per arm "
          f"and round; SSE events {a.interval * 1000:g} ms apart; extra env {extra_env or 'none'}"
          + (f"; before arm's own env {before_env}" if before_env else "") + "\n")
    print("| arm | throughput c=%d | vs bare (median, range) | CPU per request | vs bare | non-streamed p50 c=1 "
          "| first SSE byte p50 | vs bare | idle RSS | errors |" % a.c)
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in order:
        rs = res[n]
        row = [n, f"{med([r['rps'] for r in rs]):.0f} req/s"]
        if "bare" in res and n != "bare":
            ratios = [r["rps"] / b["rps"] for r, b in zip(rs, res["bare"])]
            row.append(f"{med(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")
        else:
            row.append("")
        if arms[n].pid:
            row.append(f"{med([r['cpu_ms'] for r in rs]):.2f} ms")
            if "bare" in res and n != "bare":
                cr = [r["cpu_ms"] / b["cpu_ms"] for r, b in zip(rs, res["bare"])]
                row.append(f"{med(cr):.2f}x ({min(cr):.2f}-{max(cr):.2f})")
            else:
                row.append("")
        else:
            row += ["-", ""]
        row.append(f"{med([r['p50'] for r in rs]):.1f} ms")
        row.append(f"{med([r['ttfb'] for r in rs]):.1f} ms")
        if "bare" in res and n != "bare":
            d = [r["ttfb"] - b["ttfb"] for r, b in zip(rs, res["bare"])]
            row.append(f"{med(d):+.1f} ms ({min(d):+.1f} to {max(d):+.1f})")
        else:
            row.append("")
        row.append(f"{idle[n]:.0f} MB" if n in idle else "-")
        row.append(str(sum(r["errors"] for r in rs)))
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
