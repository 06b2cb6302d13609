"""What "dropped, then needed" costs per request, by hand: `python benchmarks/needed_bench.py [turns]` (not a test).

Builds one long Claude Code-shaped session from real standard-library modules (each turn Reads a module, and
the next Edits a line of it), compresses every request with the real pipeline (cached, as in the proxy) and
times `core.needed.classify` on each, the work Stats adds in its worker thread after the response has gone.
Prints the median and max classify time at a few session lengths, and the body size there.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from headroom.core.needed import classify  # noqa: E402
from headroom.core.pipeline import compress_body  # noqa: E402

QUESTION = "Where is the encoding of a header chosen, and can it fail?"


def modules(n: int) -> list[Path]:
    lib = Path(json.__file__).resolve().parents[1]
    files = sorted(p for p in lib.glob("*.py") if 300 <= len(p.read_text(errors="replace").splitlines()) <= 3000)
    return files[:n]


def read(path: Path) -> str:
    return "\n".join(f"{i}\t{line}" for i, line in enumerate(path.read_text(errors="replace").splitlines()[:2000], 1))


def main(turns: int) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]
    timings: dict[int, list[float]] = {}
    checkpoints = {t for t in (10, 25, 50, 100, 200) if t <= turns} | {turns}
    for i, path in enumerate(modules(turns), 1):
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if len(ln.strip()) >= 30]
        messages += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_r{i}", "name": "Read",
                                               "input": {"file_path": str(path)}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_r{i}", "content": read(path)}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_e{i}", "name": "Edit", "input": {
                "file_path": str(path), "old_string": lines[len(lines) // 2], "new_string": "pass"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_e{i}",
                                          "content": "The file has been updated."}]},
        ]
        body = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": list(messages)}
        out = compress_body("anthropic", body)
        samples = []
        for _ in range(3):
            t0 = time.perf_counter()
            classify("anthropic", body, out)
            samples.append((time.perf_counter() - t0) * 1000)
        timings[i] = samples
        if i in checkpoints:
            size = len(json.dumps(body)) / 1e6
            recent = [min(timings[k]) for k in range(max(1, i - 4), i + 1)]
            print(f"turns {i:4d}  body {size:6.2f} MB  classify median {statistics.median(recent):7.1f} ms  "
                  f"max {max(recent):7.1f} ms", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
