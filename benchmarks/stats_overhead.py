"""What the ledger costs a request, by hand: `python benchmarks/stats_overhead.py [requests]` (not a test).

Runs the real proxy in front of the fake upstream twice, with the ledger on and off (HEADROOM_LEDGER),
and times the same requests through each (one client, keep-alive, streamed and not). The difference is
what Stats and the ledger add to a request; token counting happens after the response, off the path.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile, proxy_client  # noqa: E402
from tests.support.fake_upstream import FakeUpstream, make_pki  # noqa: E402
from tests.support.proxy import launch_proxy  # noqa: E402

ROWS = json.dumps([{"id": i, "name": f"user{i}", "active": i % 2 == 0, "plan": "free"} for i in range(200)])


def body(stream: bool) -> dict:
    return {"model": "gpt-4o", "stream": stream, "stream_options": {"include_usage": True}, "messages": [
        {"role": "user", "content": "Which users are inactive?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "query", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": ROWS}]}


def run(fake: FakeUpstream, home: Path, ledger: str, n: int) -> dict:
    proxy = launch_proxy(fake, home, env={"HEADROOM_LEDGER": ledger})
    try:
        out = {}
        with proxy_client(proxy, timeout=30) as client:
            for stream in (False, True):
                times = []
                for i in range(n + 5):
                    t0 = time.perf_counter()
                    with client.stream("POST", "https://api.openai.com/v1/chat/completions", json=body(stream),
                                       headers={"authorization": "Bearer sk-test"}) as r:
                        r.read()
                    if i >= 5:  # warm-up: first compressions load models and fill caches
                        times.append((time.perf_counter() - t0) * 1000)
                out["stream" if stream else "json"] = (statistics.median(times), percentile(times, 0.95))
        return out
    finally:
        proxy.stop()


def main(n: int, rounds: int = 3) -> None:
    with tempfile.TemporaryDirectory() as d:
        pki = make_pki(Path(d) / "pki")
        with FakeUpstream(pki) as fake:
            # Alternated, so load from other processes on the machine hits both alike.
            for i, flag in enumerate(("0", "1") * rounds):
                label = "ledger on " if flag == "1" else "ledger off"
                for kind, (p50, p95) in run(fake, Path(d) / f"home-{i}", flag, n).items():
                    print(f"{label} {kind:6}: p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  ({n} requests)", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
