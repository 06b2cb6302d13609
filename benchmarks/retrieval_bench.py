"""What retrieval costs: time to first byte with and without the injected tool, and the added time of
one headroom_retrieve round trip beyond the upstream's own time. Side by side, in one run.

    .venv/bin/python benchmarks/retrieval_bench.py [--rounds N]

Starts the fake upstream (tests/support/fake_upstream.py) in its own process (scripted over its stdin)
and a real `headroom proxy` routed to it, then, with keep-alive httpx clients, interleaving the cases:
  * TTFB, streaming OpenAI chat: a request without markers (mitmproxy's normal path) vs the same
    request with a compressed tool output (markers: tool injected, answered through the relay), the
    model answering with text in both; and direct to the fake upstream for reference;
  * one retrieval round trip, non-streaming: total time through the proxy when the model calls
    headroom_retrieve once and then answers, minus the upstream's own time for those two answers
    (measured direct, same bodies), vs the same request answered at once.
Prints a Markdown table (docs/benchmarks.md "Retrieval" comes from it). A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FakeProcess, direct_client, percentile, proxy_client  # noqa: E402
from headroom.core.markers import find_markers  # noqa: E402
from tests.support.proxy import launch_proxy  # noqa: E402

LOG = "".join(f"2026-11-24 04:{i % 60:02d}:{i % 60:02d} INFO worker-{i % 7} heartbeat ok seq={i}\n"
              for i in range(400)) + "2026-11-24 05:00:00 ERROR disk /dev/sda1 full\n"
URL = "https://api.openai.com/v1/chat/completions"


def body(tool_output: str, stream: bool) -> dict:
    return {"model": "gpt-4o", "stream": stream, "messages": [
        {"role": "user", "content": "why did the job fail?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": tool_output}]}


def ttfb(client: httpx.Client, b: dict) -> float:
    t0 = time.perf_counter()
    with client.stream("POST", URL, json=b) as r:
        chunks = r.iter_raw()
        next(chunks)
        first = time.perf_counter() - t0
        for _ in chunks:
            pass
    return first * 1000


def total(client: httpx.Client, b: dict) -> float:
    t0 = time.perf_counter()
    r = client.post(URL, json=b)
    r.raise_for_status()
    return (time.perf_counter() - t0) * 1000


def stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):.1f} ms (p90 {percentile(xs, 0.9):.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=60, help="requests per case (interleaved)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fake = FakeProcess(tmp / "pki")
        proxy = launch_proxy(fake, tmp / "home")
        # The same proxy with retrieval off: same compression, no tool, no relay.
        plain_proxy = launch_proxy(fake, tmp / "home-off", env={"HEADROOM_RETRIEVE": "0"})
        try:
            run(fake, proxy, plain_proxy, args.rounds)
        finally:
            plain_proxy.stop()
            proxy.stop()
            fake.stop()


def run(fake: FakeProcess, proxy, plain_proxy, n: int) -> None:
    via = proxy_client(proxy)
    via_off = proxy_client(plain_proxy)
    direct = direct_client(fake)
    direct_url = f"https://127.0.0.1:{fake.port}/v1/chat/completions"

    keys: list[str] = []
    for _ in range(3):  # the first request may fail open while the proxy warms up its compressors
        fake.send("text", "noted")
        total(via, body(LOG, False))
        compressed = json.loads(fake.last_body())["messages"][2]["content"]
        keys = [m.key for m in find_markers(compressed)]
        if keys:
            break
    if not keys:
        raise SystemExit("the proxy did not compress the benchmark log: " + compressed[:200])
    plain, marked = body("a short tool output\n" * 3, True), body(LOG, True)

    def direct_total(b):
        t0 = time.perf_counter()
        direct.post(direct_url, json=b, headers={"host": "api.openai.com"}).raise_for_status()
        return (time.perf_counter() - t0) * 1000

    for _ in range(5):  # warm up connections and caches
        ttfb(via, plain), ttfb(via, marked), ttfb(via_off, marked)
    no_tool, with_tool, direct_ttfb, marked_off = [], [], [], []
    answer_now, with_retrieval, upstream_extra = [], [], []
    for _ in range(n):
        no_tool.append(ttfb(via, plain))
        with_tool.append(ttfb(via, marked))
        marked_off.append(ttfb(via_off, marked))
        t0 = time.perf_counter()
        with direct.stream("POST", direct_url, json=plain, headers={"host": "api.openai.com"}) as r:
            chunks = r.iter_raw()
            next(chunks)
            direct_ttfb.append((time.perf_counter() - t0) * 1000)
            for _ in chunks:
                pass
        answer_now.append(total(via, body(LOG, False)))
        fake.send("call", keys[0])
        fake.send("text", "The disk /dev/sda1 was full.")
        with_retrieval.append(total(via, body(LOG, False)))
        # The upstream's own time for the extra answer (a continuation-sized body), asked directly.
        fake.send("text", "The disk /dev/sda1 was full.")
        upstream_extra.append(direct_total(body(compressed + LOG, False)))
    added = [w - a for w, a in zip(with_retrieval, answer_now)]
    beyond = [w - a - u for w, a, u in zip(with_retrieval, answer_now, upstream_extra)]
    print(f"| retrieval ({n} requests per case, interleaved) | median (p90) |")
    print("|---|---|")
    print(f"| TTFB, streaming, direct to the fake upstream | {stats(direct_ttfb)} |")
    print(f"| TTFB, streaming, small request, no markers (normal path) | {stats(no_tool)} |")
    print(f"| TTFB, streaming, compressed log, retrieval off (HEADROOM_RETRIEVE=0): no tool | {stats(marked_off)} |")
    print(f"| TTFB, streaming, compressed log, retrieval on: tool injected, via the relay | {stats(with_tool)} |")
    print(f"| non-streaming, through the proxy, answered at once | {stats(answer_now)} |")
    print(f"| non-streaming, through the proxy, one headroom_retrieve round | {stats(with_retrieval)} |")
    print(f"| one retrieval round minus answered at once (same pairs) | {stats(added)} |")
    print(f"| the upstream's own time for the extra answer (direct) | {stats(upstream_extra)} |")
    print(f"| added by one retrieval round trip beyond the upstream's own time | {stats(beyond)} |")


if __name__ == "__main__":
    main()
