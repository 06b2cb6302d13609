"""Benchmark: the eval suite's workloads through Headroom and through headroom-ai 0.42.0, in one run.

    .venv/bin/python benchmarks/realworld_bench.py [--hai /tmp/hai/bin/python] [--section realworld ...]
                                                   [--json OUT.json]

headroom-ai runs in its own venv (python3 -m venv /tmp/hai && /tmp/hai/bin/pip install headroom-ai==0.42.0),
in a subprocess started outside the repo (so `import headroom` is its package, not ours), called as the
reference figures were: `compress(messages, model="gpt-4o")`, default settings, offline (its ML text model
and tiktoken's download are unavailable here, so it estimates tokens and uses its structured compressors).

Both sides get the same OpenAI-chat messages (the first question, the tool call and its output, and the
later question when a workload has one). Tokens are counted the same way for both: o200k over the tool
outputs, before and after. Per kind, Headroom's facts are verbatim / named / lost as the suite classifies
them; headroom-ai's are verbatim or not (its markers and store follow its own grammar, so "named" is not
judged for it). Seconds are wall time of the compress calls only.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tabulate import tabulate  # noqa: E402

from headroom.core import tokens  # noqa: E402
from headroom.evals.classify import classify  # noqa: E402
from headroom.evals.suite import load_cases, run_cases  # noqa: E402

# Reads one JSON list of messages per line, prints one JSON object per line.
_HAI = r"""
import json, sys, time, logging
logging.disable(logging.WARNING)
from headroom import compress
for line in sys.stdin:
    msgs = json.loads(line)
    t0 = time.perf_counter()
    try:
        r = compress(msgs, model="gpt-4o")
        out = {"messages": r.messages, "seconds": time.perf_counter() - t0}
    except Exception as e:
        out = {"messages": msgs, "seconds": time.perf_counter() - t0, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out), flush=True)
"""


def _tool_text(messages: list) -> str:
    return "\n".join(m["content"] for m in messages if m.get("role") == "tool" and isinstance(m.get("content"), str))


def run_hai(python: str, cases: list) -> list[dict]:
    proc = subprocess.Popen([python, "-P", "-c", _HAI], cwd="/tmp", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    out = []
    for c in cases:
        proc.stdin.write(json.dumps(c.openai_messages()) + "\n")
        proc.stdin.flush()
        out.append(json.loads(proc.stdout.readline()))
    proc.stdin.close()
    proc.wait(timeout=60)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hai", default="/tmp/hai/bin/python", help="python of the venv with headroom-ai 0.42.0")
    ap.add_argument("--section", action="append", default=[], help="realworld (default) and/or regression")
    ap.add_argument("--json", type=Path, help="also write the per-case figures here")
    a = ap.parse_args()
    pairs = [(s, c) for s, c in load_cases(a.section or ["realworld"]) if s != "agents"]
    cases = [c for _, c in pairs]

    from headroom.core import relevance

    t0 = time.perf_counter()
    getattr(relevance, "warm_up", lambda: None)()
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    mine = run_cases(pairs)
    mine_s = time.perf_counter() - t0
    theirs = run_hai(a.hai, cases) if Path(a.hai).exists() else None

    kinds: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    rows_json = []
    for c, r, h in zip(cases, mine, theirs or [None] * len(cases)):
        k = kinds[c.kind]
        before = tokens.count(c.tool_output, tokens.encoding_for_model("gpt-4o"))
        k["cases"] += 1
        k["before"] += before
        k["after"] += before if r.error else r.tokens_after
        k["verbatim"] += r.verbatim
        k["named"] += r.named
        k["lost"] += r.lost
        k["ms"] += r.ms
        row = {"id": c.id, "kind": c.kind, "before": before, "headroom_after": r.tokens_after,
               "headroom_verbatim": r.verbatim, "headroom_named": r.named, "headroom_lost": r.lost,
               "headroom_ms": round(r.ms, 1)}
        if h is not None:
            out = _tool_text(h["messages"])
            facts = classify(c.facts, out, {}) + classify(c.later_facts, out, {}, "later")
            k["hai_after"] += tokens.count(out, tokens.encoding_for_model("gpt-4o"))
            k["hai_verbatim"] += sum(f.category == "verbatim" for f in facts)
            k["hai_not"] += sum(f.category != "verbatim" for f in facts)
            k["hai_s"] += h["seconds"]
            k["hai_errors"] += bool(h.get("error"))
            row |= {"hai_after": tokens.count(out, tokens.encoding_for_model("gpt-4o")), "hai_verbatim": sum(f.category == "verbatim" for f in facts),
                    "hai_seconds": round(h["seconds"], 3)}
        rows_json.append(row)

    def pct(before, after):
        return f"{100 * (1 - after / before):.1f}%" if before else "-"

    table = []
    total = defaultdict(float)
    for name in sorted(kinds):
        k = kinds[name]
        for key, v in k.items():
            total[key] += v
        line = [name, int(k["cases"]), int(k["before"]), pct(k["before"], k["after"]), int(k["verbatim"]),
                int(k["named"]), int(k["lost"])]
        if theirs is not None:
            line += [pct(k["before"], k["hai_after"]), int(k["hai_verbatim"]), int(k["hai_not"])]
        table.append(line)
    line = ["TOTAL", int(total["cases"]), int(total["before"]), pct(total["before"], total["after"]),
            int(total["verbatim"]), int(total["named"]), int(total["lost"])]
    if theirs is not None:
        line += [pct(total["before"], total["hai_after"]), int(total["hai_verbatim"]), int(total["hai_not"])]
    table.append(line)
    headers = ["kind", "cases", "tokens", "headroom saved", "verbatim", "named", "lost"]
    if theirs is not None:
        headers += ["headroom-ai saved", "verbatim", "not verbatim"]
    print(tabulate(table, headers=headers))
    facts = total["verbatim"] + total["named"] + total["lost"]
    print(f"\nheadroom: {mine_s:.2f} s for {len(cases)} workloads (+{warm:.2f} s relevance model load); "
          f"facts verbatim {100 * total['verbatim'] / facts:.1f}%, named {100 * total['named'] / facts:.1f}%, "
          f"lost {100 * total['lost'] / facts:.1f}%")
    if theirs is not None:
        print(f"headroom-ai 0.42.0: {total['hai_s']:.2f} s; facts verbatim {100 * total['hai_verbatim'] / facts:.1f}%"
              f"; {int(total['hai_errors'])} errors")
    else:
        print(f"headroom-ai: {a.hai} not found (see this script's docstring); its columns are left out")
    if a.json:
        a.json.write_text(json.dumps(rows_json, indent=1))


if __name__ == "__main__":
    main()
