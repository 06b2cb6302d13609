"""What the proxy adds to a request: direct vs through `headroom proxy`, side by side in one run.

    .venv/bin/python benchmarks/proxy_overhead.py [--quick]

Starts the fake upstream (tests/support/fake_upstream.py) in its own process and a real
`headroom proxy` routed to it, then measures with keep-alive httpx clients:
  * added latency (median, p95) for 2 KB, 200 KB and 2 MB requests, for a tunnelled host (not
    decrypted) and an intercepted LLM host, the latter with no tool output (parse and forward: the
    proxy's own cost, excluding compression), with a compressible tool output never seen before (the
    compression cost, for reference), and with the same one resent (as agents resend history: cached);
  * time to the first SSE event, direct vs through the proxy;
  * the proxy's RSS when idle, after 1,000 intercepted requests, and at the end (compressors loaded).
Prints a Markdown table (the figures in docs/benchmarks.md come from it). A benchmark, not a test:
numbers vary run to run (±30% on a shared 2-core machine); compare the columns of one run.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FakeProcess, direct_client, percentile, proxy_client  # noqa: E402
from tests.support.proxy import launch_proxy  # noqa: E402


def body_of(size: int, *, tool_output: bool, nonce: int | None = None) -> bytes:
    """A chat request of about `size` bytes: the bulk in a user message (nothing to compress) or in a
    tool output made of repeated lines (compressible). A `nonce` makes the tool output new content, so
    the proxy's result cache cannot answer it."""
    filler_line = "2026-11-24 04:00:00 INFO request served ok\n"
    filler = (filler_line * (size // len(filler_line) + 1))[:size]
    if nonce is not None:
        filler = f"run {nonce}\n{filler}"
    messages = [{"role": "user", "content": "what failed?" if tool_output else filler}]
    if tool_output:
        messages += [
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "sh", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": filler},
        ]
    return json.dumps({"model": "gpt-4o", "messages": messages}).encode()


def timed_posts(client: httpx.Client, url: str, data, n: int, warmup: int = 5) -> list[float]:
    """Milliseconds per POST of `data` (bytes, or a function of the request number giving bytes)."""
    out = []
    for i in range(n + warmup):
        body = data(i) if callable(data) else data
        t0 = time.perf_counter()
        r = client.post(url, content=body, headers={"content-type": "application/json"})
        r.read()
        dt = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise SystemExit(f"{url}: HTTP {r.status_code}")
        if i >= warmup:
            out.append(dt)
    return out


def first_event_ms(client: httpx.Client, url: str, n: int) -> list[float]:
    body = json.dumps({"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    out = []
    for i in range(n + 3):
        t0 = time.perf_counter()
        first = None
        with client.stream("POST", url, content=body, headers={"content-type": "application/json"}) as r:
            for line in r.iter_lines():  # read to the end so the connection is reused
                if first is None and line.startswith("data: "):
                    first = (time.perf_counter() - t0) * 1000
        if i >= 3 and first is not None:
            out.append(first)
    return out


def p95(xs: list[float]) -> float:
    return percentile(xs, 0.95)


def settle(pid: int, timeout: float = 15.0) -> None:
    """Wait until the proxy is idle: addons finish work after a flow ends (Stats counts tokens in the
    background), and that must not be billed to the next row's requests."""
    def cpu_ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    deadline = time.monotonic() + timeout
    last = cpu_ticks()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = cpu_ticks()
        if now - last <= 1:  # at most 10 ms of CPU in 200 ms: idle
            return
        last = now


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier figures)")
    args = ap.parse_args()
    reps = {2_000: 200, 200_000: 200, 2_000_000: 30}
    if args.quick:
        reps = {k: max(10, v // 10) for k, v in reps.items()}
    tmp = Path(tempfile.mkdtemp(prefix="headroom-bench-"))
    fake = FakeProcess(tmp / "pki")
    proxy = launch_proxy(fake, tmp / "home", routes=("api.openai.com",))
    try:
        idle_rss = rss_mb(proxy.proc.pid)
        direct = direct_client(fake)
        via = proxy_client(proxy)
        direct_url = f"https://localhost:{fake.port}/v1/chat/completions"
        tunnel_url = direct_url  # localhost is not an LLM host: through the proxy it is a raw tunnel
        llm_url = "https://api.openai.com/v1/chat/completions"
        # RSS after plain intercepted traffic first: compressing later loads the tokenizer vocabulary and
        # any compressor models, which is the compressor's footprint, not the proxy's.
        timed_posts(via, llm_url, body_of(2_000, tool_output=False), 1000, warmup=0)
        settle(proxy.proc.pid)
        busy_rss = rss_mb(proxy.proc.pid)
        rows = []
        nonces = itertools.count()
        for size, n in reps.items():
            for label, url, tool in (("tunnelled", tunnel_url, None),
                                     ("intercepted, no tool output", llm_url, None),
                                     ("intercepted + compressed, new content", llm_url, "new"),
                                     ("intercepted + compressed, resent (cached)", llm_url, "same")):
                if tool == "new":
                    def data(i, size=size):
                        return body_of(size, tool_output=True, nonce=next(nonces))
                else:
                    data = body_of(size, tool_output=tool == "same")
                settle(proxy.proc.pid)
                base = timed_posts(direct, direct_url, data, n)
                prox = timed_posts(via, url, data, n)
                rows.append((f"{size // 1000} KB", label, statistics.median(base), statistics.median(prox),
                             statistics.median(prox) - statistics.median(base), p95(prox) - p95(base), n))
        settle(proxy.proc.pid)
        sse_direct = first_event_ms(direct, direct_url, 50)
        sse_proxy = first_event_ms(via, llm_url, 50)
        final_rss = rss_mb(proxy.proc.pid)
        direct.close()
        via.close()
    finally:
        proxy.stop()
        fake.stop()

    print(f"headroom proxy overhead ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"python {sys.version.split()[0]})\n")
    print("| request | path | direct median ms | proxy median ms | added median ms | added p95 ms | n |")
    print("|---|---|---|---|---|---|---|")
    for size, label, d, p, a, a95, n in rows:
        print(f"| {size} | {label} | {d:.1f} | {p:.1f} | {a:+.1f} | {a95:+.1f} | {n} |")
    print()
    d, p = statistics.median(sse_direct), statistics.median(sse_proxy)
    print(f"| first SSE event | direct {d:.1f} ms | proxy {p:.1f} ms | added {p - d:+.1f} ms "
          f"(p95 {p95(sse_proxy) - p95(sse_direct):+.1f}) | n=50 |")
    print(f"| proxy RSS | idle {idle_rss:.0f} MB | after 1,000 intercepted 2 KB requests {busy_rss:.0f} MB "
          f"| at the end, compressors loaded {final_rss:.0f} MB |")


if __name__ == "__main__":
    main()
