"""Line-oriented tool outputs (diagnostics, ls -l, git log, pip/npm): tokens saved and time per sample,
and what their four detectors cost on outputs that are none of them.

    .venv/bin/python benchmarks/tooloutput_bench.py [--corpus DIR]

The samples are the real outputs in tests/golden/inputs/ (diag_*, ls_*, gitlog_*, pip_*, npm_*; each test
file says which command made them), compressed through the router with no question. The detector cost
is measured on every tool output of the shared bench corpus (none of which is of these kinds): the time
they add to every other kind's detection. Times are the fastest of 5 runs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from headroom.core import tokens  # noqa: E402
from headroom.core.compressors import Context, compress_text  # noqa: E402
from headroom.core.compressors.tooloutput import detect_tool_output  # noqa: E402

INPUTS = ROOT / "tests" / "golden" / "inputs"
PATTERNS = ("diag_*.txt", "ls_*.txt", "gitlog_*.txt", "pip_*.txt", "npm_*.txt")
RUNS = 5


def _fastest(fn) -> float:
    best = float("inf")
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _corpus_texts(corpus: Path) -> list[str]:
    out: list[str] = []

    def walk(x) -> None:
        if isinstance(x, str) and len(x) > 2000:
            out.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for path in sorted(corpus.glob("*.json")):
        walk(json.loads(path.read_text()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/bench/corpus"))
    args = ap.parse_args()
    tokens.count("warm up the encoder")
    rows = []
    total_before = total_after = 0
    for pattern in PATTERNS:
        for path in sorted(INPUTS.glob(pattern)):
            text = path.read_text()
            ctx = Context()
            result = compress_text(text, ctx)
            before, after = tokens.count(text), tokens.count(result.text)
            total_before += before
            total_after += after
            seconds = _fastest(lambda: compress_text(text, ctx))
            rows.append((path.name, result.content_type, before, after, seconds))
    print(f"{'sample':40s} {'type':12s} {'before':>8s} {'after':>8s} {'saved':>6s} {'ms':>7s}")
    for name, kind, before, after, seconds in rows:
        print(f"{name:40s} {kind:12s} {before:8d} {after:8d} {1 - after / before:6.1%} {seconds * 1000:7.1f}")
    print(f"TOTAL samples={len(rows)} tokens {total_before} -> {total_after} saved={1 - total_after / total_before:.1%} "
          f"time={sum(r[4] for r in rows):.3f}s")
    if args.corpus.is_dir():
        texts = [t.split("\n") for t in _corpus_texts(args.corpus)]
        found = sum(1 for lines in texts if detect_tool_output(lines))
        seconds = _fastest(lambda: [detect_tool_output(lines) for lines in texts])
        print(f"detectors on the bench corpus: {len(texts)} outputs, {found} detected as tool output, "
              f"{seconds * 1000:.1f} ms in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
