"""Run an eval tier: compress each case as the proxy would, then check every fact it needs.

A fact is *kept* when it is still in the tool output verbatim, *retrievable* when it is whole inside
content a marker in the output names (the model can fetch it with headroom_retrieve), and *lost*
otherwise. A lost fact is a regression: the suite exits non-zero.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from headroom.core.markers import find_markers
from headroom.evals.workloads import Case, tier1_cases

__all__ = ["CaseResult", "run_tier1"]


@dataclass(frozen=True)
class CaseResult:
    id: str
    kind: str
    tokens_before: int
    tokens_after: int
    kept: int
    retrievable: int
    lost: int
    lost_facts: tuple[str, ...]
    ms: float

    @property
    def saved_pct(self) -> float:
        return 100.0 * (1 - self.tokens_after / self.tokens_before) if self.tokens_before else 0.0


def _tool_output_of(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages if m.get("role") == "tool" and isinstance(m.get("content"), str))


def run_case(case: Case, model: str = "gpt-4o") -> CaseResult:
    from headroom.api import compress

    t0 = time.perf_counter()
    r = compress(case.openai_messages(), model=model, store=False)
    ms = (time.perf_counter() - t0) * 1000
    out = _tool_output_of(r.messages)
    named = {m.key for m in find_markers(out)}
    kept = retrievable = 0
    lost: list[str] = []
    for fact in case.facts:
        if fact in out:
            kept += 1
        elif any(fact in text for key, text in r.drops.items() if key in named):
            retrievable += 1
        else:
            lost.append(fact)
    return CaseResult(case.id, case.kind, r.tokens_before, r.tokens_after, kept, retrievable, len(lost),
                      tuple(lost), ms)


def run_tier1(seed: int = 1, model: str = "gpt-4o") -> list[CaseResult]:
    return [run_case(c, model) for c in tier1_cases(seed)]


def as_json(results: list[CaseResult]) -> str:
    return json.dumps([asdict(r) | {"saved_pct": round(r.saved_pct, 1)} for r in results], indent=2)
