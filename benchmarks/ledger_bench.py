"""Ledger and summary costs, by hand: `python benchmarks/ledger_bench.py [rows]` (not a test).

Measures what the proxy pays per request (Ledger.record, on the event loop), how fast the writer thread
drains a burst, and how long build_report() takes over N rows (what /stats, /metrics and perf pay).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from headroom.storage.ledger import Entry, Ledger, UnitRow, open_reader
from headroom.storage.report import build_report


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ledger.sqlite3"
        led = Ledger(path, max_queue=n + 1).start()
        now = time.time()
        rows = [Entry(ts=now - i * 5, provider="anthropic", host="api.anthropic.com", model=f"claude-sonnet-4-{i % 3}",
                      tokens_before=10_000 + i % 500, tokens_after=4_000, tool_tokens_before=8_000,
                      tool_tokens_after=2_000, compressed=True, compress_ms=3.0 + i % 11, overhead_ms=4.0,
                      ttfb_ms=300.0 + i % 50, upstream_ms=900.0, usage_reported=True, usage_input=4_000,
                      usage_cache_read=2_000, usage_output=100,
                      units=(UnitRow("logs", "logs", 1, 5_000, 1_000, 1.0), UnitRow("json", "json", 2, 3_000, 1_000, 0.5)))
                for i in range(n)]
        t0 = time.perf_counter()
        per = []
        for r in rows:
            a = time.perf_counter()
            led.record(r)
            per.append(time.perf_counter() - a)
        queued = time.perf_counter() - t0
        led.flush(600)
        drained = time.perf_counter() - t0
        led.close()
        print(f"record(): median {statistics.median(per) * 1e6:.1f} us, max {max(per) * 1e6:.0f} us per row "
              f"({n} rows queued in {queued:.2f} s)")
        print(f"writer: {n} rows on disk after {drained:.2f} s ({n / drained:,.0f} rows/s), dropped {led.dropped}")
        conn = open_reader(path)
        for label, since in (("24h", now - 86400), ("all", None)):
            a = time.perf_counter()
            s = build_report(conn, since=since, now=now)
            print(f"build_report({label}): {s.totals.requests:,} rows in {(time.perf_counter() - a) * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
