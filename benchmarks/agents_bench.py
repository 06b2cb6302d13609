"""Benchmark: the compressor on the captured agent corpus (headroom/evals/data/agents*.jsonl.gz).

    .venv/bin/python benchmarks/agents_bench.py [--data FILE] [--json FILE] [--cases]

Each case is a real Claude Code or Codex request; it goes through
`headroom.core.pipeline.compress_body(provider, body, path=path)` exactly as the proxy would compress it.
Per case: the tokens of its tool outputs before and after, and each fact the question needs classified as
  verbatim  still a substring of a tool output in the compressed body,
  dropped   not in the compressed body, but inside a dropped run (outcome.drops: retrievable by its key),
  lost      neither.
Printed per kind (the tool-output format) and in total. No timing assertions: times are reported only.
`--data` runs it on another corpus file of the same format, such as a held-out capture made by
scripts/capture_holdout.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tabulate import tabulate  # noqa: E402

from headroom.core import relevance, tokens  # noqa: E402
from headroom.core.pipeline import compress_body, find_units  # noqa: E402
from headroom.evals.agents import AgentCase, agent_cases, load_agent_cases  # noqa: E402

VERBATIM, DROPPED, LOST = "verbatim", "dropped", "lost"
MIN_REPORTED_TOKENS = 100  # the routes column skips the exec headers and one-line results


def classify(fact: str, outputs: list[str], drops: dict[str, str]) -> str:
    if any(fact in text for text in outputs):
        return VERBATIM
    if any(fact in text for text in drops.values()):
        return DROPPED
    return LOST


def run_case(case: AgentCase) -> dict:
    t0 = time.perf_counter()
    outcome = compress_body(case.provider, case.body, path=case.path)
    ms = (time.perf_counter() - t0) * 1000
    outputs = [u.text for u in find_units(case.provider, outcome.body)]
    facts = [(f, classify(f, outputs, dict(outcome.drops))) for f in case.facts]
    # What the router made of each sizeable tool output (content type / compressor, and why it was left).
    routes = sorted({f"{u.content_type}/{u.compressor}" + (f" ({u.note})" if u.note else "")
                     for u in outcome.units if u.tokens_before >= MIN_REPORTED_TOKENS})
    return {"id": case.id, "agent": case.agent, "kind": case.kind, "tokens_before": outcome.tokens_before,
            "tokens_after": outcome.tokens_after, "ms": round(ms, 1), "routes": routes,
            "facts": {cat: [f for f, c in facts if c == cat] for cat in (VERBATIM, DROPPED, LOST)}}


def _row(name: str, results: list[dict]) -> list:
    before = sum(r["tokens_before"] for r in results)
    after = sum(r["tokens_after"] for r in results)
    n = {cat: sum(len(r["facts"][cat]) for r in results) for cat in (VERBATIM, DROPPED, LOST)}
    total = sum(n.values())
    return [name, len(results), before, after, f"{100 * (1 - after / before):.1f}" if before else "0.0",
            total, f"{100 * n[VERBATIM] / total:.1f}" if total else "-", n[DROPPED], n[LOST],
            f"{max(r['ms'] for r in results):.0f}"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help="a corpus file (.jsonl.gz) to run on instead of the shipped one")
    p.add_argument("--json", type=Path, help="also write every case's result here")
    p.add_argument("--cases", action="store_true", help="print one row per case as well")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    relevance.warm_up()  # the proxy loads the model once at start; so does this benchmark, reported apart
    tokens.count("warm up", "o200k_base")
    print(f"relevance model: {relevance.load_error() or 'loaded'}; warm-up {time.perf_counter() - t0:.1f} s")

    cases = load_agent_cases(args.data) if args.data else agent_cases()
    results = [run_case(c) for c in cases]
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        by_kind[r["kind"]].append(r)
    headers = ["kind", "cases", "tokens before", "after", "saved %", "facts", "verbatim %", "dropped", "lost",
               "max ms"]
    rows = [_row(k, by_kind[k]) for k in sorted(by_kind)]
    rows.append(_row("claude-code", [r for r in results if r["agent"] == "claude-code"]))
    rows.append(_row("codex", [r for r in results if r["agent"] == "codex"]))
    rows.append(_row("ALL", results))
    print(tabulate(rows, headers=headers, tablefmt="github"))
    if args.cases:
        print()
        print(tabulate([[*_row(r["id"], [r]), "; ".join(r["routes"])] for r in results],
                       headers=["case", *headers[1:], "content type/compressor (note)"], tablefmt="github"))
    missed = [(r["id"], cat, f) for r in results for cat in (DROPPED, LOST) for f in r["facts"][cat]]
    if missed:
        print("\nfacts not verbatim:")
        for case_id, cat, fact in missed:
            print(f"  {cat:8} {case_id}: {fact[:110]!r}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
