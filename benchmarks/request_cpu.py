"""Headroom's own CPU per soak request, in-process: what proxy_cost.py's noise on a shared machine hides.

    .venv/bin/python benchmarks/request_cpu.py [--before DIR] [--runs 3] [-n 4000] [--mix soak|agents]

Runs, in a fresh interpreter per tree and run (trees alternating), the work the proxy does on the event loop
for each request of the soak mix (benchmarks/soak.py) apart from mitmproxy's: parse, compress, the JSON style
check, write back, the ledger row's token counts and the bill's two prompts. Process CPU time per request,
after 200 requests of warm-up. `--before DIR`: also a tree of an earlier commit's package
(`git archive REV headroom | tar -x -C DIR`). A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
import headroom
assert headroom.__file__.startswith(sys.argv[1]), headroom.__file__
sys.path.insert(1, sys.argv[2])
from soak import request  # headroom is the tree's already: what soak.py imports of it comes from there
from headroom.addon.intercept import _parse_job, _compress_job
from headroom.core import bill, needed, tokens
from headroom.core.jsonstyle import dumps
from headroom.core.usage import Usage
from headroom.addon.stats import build_entry

def one(provider, raw, bl):
    body, _, data = _parse_job(provider, "", raw, "", 0.0)
    outcome, style = _compress_job(provider, "", body, time.monotonic() + 5, None, 400, data)
    sent = dumps(outcome.body, style) if outcome.changed else raw
    original = json.loads(raw) if sent != raw else body
    # The ledger row's counts as Stats makes them (Stats._finish: build_entry on the client's and the sent body).
    e = build_entry(ts=0.0, provider=provider, host="h", model="gpt-4o", original=raw, sent=sent, outcome=outcome,
                    modified=sent != raw, usage=Usage(), streaming=False, status=200, compress_ms=None,
                    overhead_ms=None, upstream_ms=None, ttfb_ms=None, total_ms=None, retrievals=0, fail_open=False,
                    bypass=False, error=False, within=tokens.long_strings(original))
    bl.turn(needed.conversation_id(provider, original), e.tokens_before - e.tokens_after,
            *(bill.prompts_of(provider, outcome.body, original) if hasattr(bill, "prompts_of") else
              (bill.prompt_of(provider, outcome.body), bill.prompt_of(provider, original))), e.tokens_after)

n = int(sys.argv[3])
bl = bill.Conversations()
if sys.argv[4] == "agents":
    from headroom.evals.agents import agent_cases
    mix = [(c.provider, json.dumps(c.body).encode()) for c in agent_cases()]
    for provider, raw in mix:  # the first turn; the measured pass is each conversation sent again
        one(provider, raw, bl)
    n = len(mix)
else:
    for i in range(200):
        one(*request(i), bl)
    mix = [request(i) for i in range(100_000, 100_000 + n)]
t = time.process_time()
for provider, raw in mix:
    one(provider, raw, bl)
print((time.process_time() - t) / n * 1000)
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, default=None, metavar="DIR")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("-n", type=int, default=4000, help="requests per run (default 4000)")
    ap.add_argument("--mix", choices=("soak", "agents"), default="soak",
                    help="soak: benchmarks/soak.py's mix; agents: the eval corpus's real Claude Code and Codex "
                         "requests, each sent a second time (its conversation resent, as every turn does)")
    a = ap.parse_args()
    trees = [("now", ROOT)] + ([("before", a.before.resolve())] if a.before else [])
    got: dict[str, list[float]] = {name: [] for name, _ in trees}
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADROOM_")}
    for _ in range(a.runs):
        for name, tree in trees:
            out = subprocess.run([sys.executable, "-c", _CHILD, str(tree), str(ROOT / "benchmarks"), str(a.n), a.mix],
                                 capture_output=True, text=True, env=env, cwd=tree, check=True)
            got[name].append(float(out.stdout.strip().splitlines()[-1]))
    for name, ms in got.items():
        print(f"{name:7s} {min(ms):.3f} ms per request (runs: {', '.join(f'{m:.3f}' for m in ms)})")


if __name__ == "__main__":
    main()
