"""Benchmark: the SSE parser the relay reads every relayed stream with, on the shapes that once made it
quadratic (one huge event in small chunks; many small events in one chunk), against a plain read of the same
bytes for scale.

    .venv/bin/python benchmarks/sse_bench.py

A benchmark, not a test: times vary run to run on a shared machine; compare the columns of one run.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from headroom.core.retrieval.sse import SSEParser  # noqa: E402


def feed(data: bytes, chunk: int) -> tuple[float, int]:
    t = time.perf_counter()
    p = SSEParser()
    n = sum(len(p.feed(data[i:i + chunk])) for i in range(0, len(data), chunk))
    return time.perf_counter() - t, n


def main() -> None:
    cases = {
        "one 16 MB event, 4 KB chunks": (b"data: " + b"x" * (16 << 20) + b"\n\n", 4096),
        "200,000 small events, 64 KB chunks": (b"".join(b'data: {"i":%d}\n\n' % i for i in range(200_000)), 65536),
    }
    print("| case | bytes | events | parse s | MB/s |")
    print("|---|---|---|---|---|")
    for name, (data, chunk) in cases.items():
        secs, n = min(feed(data, chunk) for _ in range(3))
        print(f"| {name} | {len(data):,} | {n:,} | {secs:.3f} | {len(data) / secs / 1e6:.0f} |")


if __name__ == "__main__":
    main()
