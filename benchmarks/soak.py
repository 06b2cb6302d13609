"""Soak: many requests from many concurrent clients through one proxy, side by side with direct.

    .venv/bin/python benchmarks/soak.py [-n 2000] [-c 16] [--interval 0.005]

Starts the fake upstream in its own process and a real `headroom proxy` routed to it. Sends the same
mix twice, first straight to the fake, then through the proxy, from `c` threads with one keep-alive
httpx client each: OpenAI chat / Responses / Anthropic in turn, every other request streamed, three in
four carrying a compressible tool output (one in four of those never seen before, the rest resent as
agents resend history). Reports throughput, p50/p95/p99 latency and the added latency, time to the
first SSE byte, the proxy's RSS at start, after each quarter and at the end (it should plateau), the
fail-open count from /metrics, and errors. A benchmark, not a test: figures vary run to run on a
shared machine; compare the columns of one run. Every request has a timeout, so the run ends by itself.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FakeProcess, direct_client, percentile, proxy_client  # noqa: E402
from tests.support.proxy import launch_proxy  # noqa: E402

PATHS = {"openai_chat": ("api.openai.com", "/v1/chat/completions"),
         "openai_responses": ("api.openai.com", "/v1/responses"),
         "anthropic": ("api.anthropic.com", "/v1/messages")}
HEADERS = {"authorization": "Bearer sk-test", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
           "content-type": "application/json"}
LOG_LINES = 300


def log(seed: int) -> str:
    return "".join(f"2026-11-24 04:{j % 60:02d}:{j % 60:02d} INFO worker-{j % 7} run={seed} heartbeat seq={j}\n"
                   for j in range(LOG_LINES)) + f"2026-11-24 05:00:00 ERROR run {seed}: disk full\n"


def request(i: int) -> tuple[str, bytes]:
    """Request i of the mix: (provider, JSON body)."""
    provider = ("openai_chat", "openai_responses", "anthropic")[i % 3]
    stream = i % 2 == 1
    if i % 4 == 3:
        out = f"exit 0 (request {i})"
    else:
        out = log(i if i % 16 == 0 else i % 12)  # a few new outputs, mostly resent ones
    q = f"request {i}: why did the job fail?"
    if provider == "openai_chat":
        b = {"model": "gpt-4o", "stream": stream, "messages": [
            {"role": "user", "content": q},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": out}]}
    elif provider == "openai_responses":
        b = {"model": "gpt-4o", "stream": stream, "input": [
            {"role": "user", "content": q},
            {"type": "function_call", "call_id": "call_0", "name": "bash", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_0", "output": out}]}
    else:
        b = {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream, "messages": [
            {"role": "user", "content": q},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_0", "name": "bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": out}]}]}
    return provider, json.dumps(b).encode()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Run:
    """One pass of the mix (direct or through the proxy) with per-thread clients."""

    def __init__(self, make_client, base_url):
        self.make_client, self.base_url = make_client, base_url
        self.local = threading.local()
        self.lat, self.ttfb, self.errors = [], [], []
        self.lock = threading.Lock()

    def one(self, i: int) -> None:
        c = getattr(self.local, "client", None)
        if c is None:
            c = self.local.client = self.make_client()
        provider, body = request(i)
        host, path = PATHS[provider]
        t0 = time.perf_counter()
        first = None
        try:
            with c.stream("POST", self.base_url(host) + path, content=body, headers=HEADERS) as r:
                for chunk in r.iter_raw():
                    if first is None and chunk:
                        first = time.perf_counter()
                ok = r.status_code == 200
                err = None if ok else f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            err = f"{type(e).__name__}: {e}"
        dt = time.perf_counter() - t0
        with self.lock:
            if err:
                self.errors.append(err)
            else:
                self.lat.append(dt * 1000)
                if body.find(b'"stream": true') >= 0 and first is not None:
                    self.ttfb.append((first - t0) * 1000)

    def run(self, idx: range, pool: ThreadPoolExecutor) -> None:
        list(pool.map(self.one, idx))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="requests per pass (default 2000)")
    ap.add_argument("-c", type=int, default=16, help="concurrent clients (default 16)")
    ap.add_argument("--interval", type=float, default=0.005, help="seconds between SSE events (default 0.005)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fake = FakeProcess(tmp / "pki")
        fake.send("interval", a.interval)
        proxy = launch_proxy(fake, tmp / "home")
        try:
            with ThreadPoolExecutor(a.c) as pool:
                direct = Run(lambda: direct_client(fake, timeout=60), lambda host: f"https://127.0.0.1:{fake.port}")
                t0 = time.perf_counter()
                direct.run(range(a.n), pool)
                direct_wall = time.perf_counter() - t0

                via = Run(lambda: proxy_client(proxy, timeout=60), lambda host: f"https://{host}")
                rss = [rss_mb(proxy.proc.pid)]
                q = max(1, a.n // 4)
                t0 = time.perf_counter()
                for k in range(4):
                    via.run(range(k * q, a.n if k == 3 else (k + 1) * q), pool)
                    rss.append(rss_mb(proxy.proc.pid))
                via_wall = time.perf_counter() - t0
            m = re.search(r"dashboard at (http://[^/\s]+)/", proxy.stderr_text())
            fail_open = "?"
            if m:
                metrics = httpx.get(m.group(1) + "/metrics", timeout=10, trust_env=False).text
                fo = re.search(r"^headroom_fail_open_total(?:\{\})? (\S+)$", metrics, re.M)
                fail_open = fo.group(1) if fo else "?"
            tracebacks = proxy.stderr_text().count("Traceback")
        finally:
            proxy.stop()
            fake.stop()

    def p(xs, q):
        return percentile(xs, q) if xs else float("nan")

    print(f"Soak: {a.n} requests per pass, {a.c} concurrent clients, SSE events {a.interval * 1000:g} ms apart\n")
    print("| | direct | through the proxy | added |")
    print("|---|---|---|---|")
    print(f"| throughput | {len(direct.lat) / direct_wall:.0f} req/s | {len(via.lat) / via_wall:.0f} req/s | |")
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        d, v = p(direct.lat, q), p(via.lat, q)
        print(f"| latency {name} | {d:.1f} ms | {v:.1f} ms | {v - d:+.1f} ms |")
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        d, v = p(direct.ttfb, q), p(via.ttfb, q)
        print(f"| first SSE byte {name} | {d:.1f} ms | {v:.1f} ms | {v - d:+.1f} ms |")
    print(f"| errors | {len(direct.errors)} | {len(via.errors)} | |")
    print(f"\nproxy RSS: start {rss[0]:.0f} MB, after each quarter " + ", ".join(f"{x:.0f}" for x in rss[1:])
          + f" MB; fail-open {fail_open}; tracebacks in the proxy's stderr {tracebacks}")
    for e in sorted(set(direct.errors + via.errors))[:10]:
        print("error:", e)


if __name__ == "__main__":
    main()
