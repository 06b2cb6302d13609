"""Run an eval tier: compress each case as the proxy would, then classify every fact it needs.

Each case goes through `headroom.api.compress(..., store=False)` as an agent's request. Every fact is
then *verbatim*, *named* or *lost* (see headroom/evals/classify.py for the exact rule), and every marker
in the output has its counts re-checked against what it dropped (headroom/evals/honesty.py). A lost
fact or a false marker claim is a regression: the suite exits non-zero.

Sections: "realworld" (the shipped real-world workloads), "regression" (the original tier-1 cases,
built from the standard library, some generated), and "agents" (the captured agent corpus, when
headroom/evals/agents.py is present).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Iterable

from headroom.evals.classify import LOST, NAMED, VERBATIM, FactResult, classify
from headroom.evals.honesty import Violation, check_markers
from headroom.evals.workloads import Case, realworld_cases, tier1_cases

__all__ = ["CaseResult", "KindRow", "SECTIONS", "SECTION_TITLES", "as_json", "by_kind", "load_cases", "run_agent_case", "run_case",
           "run_cases", "run_tier1", "totals"]

SECTIONS = ("realworld", "regression", "agents")
SECTION_TITLES = {
    "realworld": "real outputs of real programs and data sets (headroom/evals/data/realworld.jsonl.gz)",
    "regression": "the original tier-1 cases (standard library; some generated)",
    "agents": "captured Claude Code and Codex requests (headroom/evals/data/agents*.jsonl.gz)",
}


@dataclass(frozen=True)
class CaseResult:
    id: str
    kind: str
    section: str
    generated: bool
    tokens_before: int
    tokens_after: int
    facts: tuple[FactResult, ...]
    violations: tuple[Violation, ...] = ()
    claims_checked: int = 0
    markers_unchecked: int = 0  # markers none of whose claims honesty.py can check
    ms: float = 0.0
    error: str = ""  # the compressor raised: every fact is counted lost

    def count(self, category: str, turn: str | None = None) -> int:
        return sum(1 for f in self.facts if f.category == category and (turn is None or f.turn == turn))

    @property
    def verbatim(self) -> int:
        return self.count(VERBATIM)

    @property
    def named(self) -> int:
        return self.count(NAMED)

    @property
    def lost(self) -> int:
        return self.count(LOST)

    @property
    def lost_facts(self) -> tuple[str, ...]:
        return tuple(f.fact for f in self.facts if f.category == LOST)

    @property
    def saved_pct(self) -> float:
        return 100.0 * (1 - self.tokens_after / self.tokens_before) if self.tokens_before else 0.0


@dataclass
class KindRow:
    kind: str
    cases: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    verbatim: int = 0
    named: int = 0
    lost: int = 0
    violations: int = 0
    ids: list[str] = field(default_factory=list)

    @property
    def facts(self) -> int:
        return self.verbatim + self.named + self.lost

    @property
    def saved_pct(self) -> float:
        return 100.0 * (1 - self.tokens_after / self.tokens_before) if self.tokens_before else 0.0


def _tool_output_of(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages if m.get("role") == "tool" and isinstance(m.get("content"), str))


def run_case(case: Case, model: str = "gpt-4o", section: str = "realworld") -> CaseResult:
    from headroom.api import compress

    t0 = time.perf_counter()
    try:
        r = compress(case.openai_messages(), model=model, store=False)
    except Exception as e:  # a compressor bug is a result of the eval, not a crash of it
        facts = tuple(FactResult(f, t, LOST) for t, fs in (("first", case.facts), ("later", case.later_facts))
                      for f in fs)
        return CaseResult(case.id, case.kind, section, case.generated, 0, 0, facts, ms=0.0,
                          error=f"{type(e).__name__}: {e}")
    ms = (time.perf_counter() - t0) * 1000
    out = _tool_output_of(r.messages)
    drops = dict(r.drops)
    facts = (classify(case.facts, out, drops, "first", case.question)
             + classify(case.later_facts, out, drops, "later", case.later_question))
    violations, checked, unchecked = check_markers(case.tool_output, out, drops)
    return CaseResult(case.id, case.kind, section, case.generated, r.tokens_before, r.tokens_after, tuple(facts),
                      tuple(violations), checked, unchecked, ms)


def run_agent_case(case, model: str = "gpt-4o") -> CaseResult:
    """One captured agent request (headroom.evals.agents.AgentCase): the body goes through the proxy's
    own pipeline for its provider, and the facts are classified against all of its tool outputs."""
    from headroom.core.pipeline import compress_body, find_units

    t0 = time.perf_counter()
    try:
        outcome = compress_body(case.provider, case.body, path=case.path)
    except Exception as e:
        return CaseResult(case.id, f"agent:{case.kind}", "agents", False, 0, 0,
                          tuple(FactResult(f, "first", LOST) for f in case.facts), error=f"{type(e).__name__}: {e}")
    ms = (time.perf_counter() - t0) * 1000
    units_before = [u.text for u in find_units(case.provider, case.body)]
    units_after = [u.text for u in find_units(case.provider, outcome.body)]
    after = "\n".join(units_after)
    drops = dict(outcome.drops)
    question = f"{case.question}\n{case.later_question or ''}"
    facts = classify(case.facts, after, drops, "later" if case.later_question else "first", question)
    # Each tool output's markers are checked against that output (their line numbers are its own).
    violations, checked, unchecked = [], 0, 0
    for b, a in zip(units_before, units_after):
        v, c, u = check_markers(b, a, drops)
        violations += v
        checked += c
        unchecked += u
    return CaseResult(case.id, f"agent:{case.kind}", "agents", False, outcome.tokens_before, outcome.tokens_after,
                      tuple(facts), tuple(violations), checked, unchecked, ms)


def _agent_cases() -> list:
    """The captured agent corpus (headroom/evals/agents.py), empty when its data file is not shipped."""
    try:
        from headroom.evals.agents import agent_cases
    except ImportError:
        return []
    try:
        return agent_cases()
    except (FileNotFoundError, OSError):
        return []


def load_cases(sections: Iterable[str] = SECTIONS, seed: int = 1) -> list[tuple[str, Case]]:
    """(section, case) pairs; an agents case is an AgentCase (a whole request body), the others Cases."""
    out: list[tuple[str, Case]] = []
    for s in sections:
        if s == "realworld":
            out += [(s, c) for c in realworld_cases()]
        elif s == "regression":
            out += [(s, c) for c in tier1_cases(seed)]
        elif s == "agents":
            out += [(s, c) for c in _agent_cases()]
        else:
            raise ValueError(f"no section {s!r}; available: {', '.join(SECTIONS)}")
    return out


def run_cases(cases: Iterable[tuple[str, Case]], model: str = "gpt-4o") -> list[CaseResult]:
    return [run_agent_case(c, model) if section == "agents" else run_case(c, model, section) for section, c in cases]


def run_tier1(seed: int = 1, model: str = "gpt-4o", sections: Iterable[str] = SECTIONS,
              kinds: Iterable[str] = ()) -> list[CaseResult]:
    wanted = set(kinds)
    cases = [(s, c) for s, c in load_cases(sections, seed)
             if not wanted or c.kind in wanted or f"agent:{c.kind}" in wanted]
    return run_cases(cases, model)


def by_kind(results: Iterable[CaseResult]) -> list[KindRow]:
    rows: dict[str, KindRow] = {}
    for r in results:
        row = rows.setdefault(r.kind, KindRow(r.kind))
        row.cases += 1
        row.tokens_before += r.tokens_before
        row.tokens_after += r.tokens_after
        row.verbatim += r.verbatim
        row.named += r.named
        row.lost += r.lost
        row.violations += len(r.violations)
        row.ids.append(r.id)
    return sorted(rows.values(), key=lambda k: k.kind)


def as_json(results: list[CaseResult]) -> str:
    cases = []
    for r in results:
        d = asdict(r)
        d["facts"] = [asdict(f) for f in r.facts]
        d["violations"] = [asdict(v) for v in r.violations]
        d |= {"saved_pct": round(r.saved_pct, 1), "verbatim": r.verbatim, "named": r.named, "lost": r.lost,
              "lost_facts": list(r.lost_facts)}
        cases.append(d)
    kinds = [{"kind": k.kind, "cases": k.cases, "tokens_before": k.tokens_before, "tokens_after": k.tokens_after,
              "saved_pct": round(k.saved_pct, 1), "verbatim": k.verbatim, "named": k.named, "lost": k.lost,
              "violations": k.violations} for k in by_kind(results)]
    sections = {s: totals([r for r in results if r.section == s]) for s in SECTIONS
                if any(r.section == s for r in results)}
    return json.dumps({"cases": cases, "kinds": kinds, "sections": sections, "totals": totals(results)}, indent=2)


def totals(results: list[CaseResult]) -> dict:
    before = sum(r.tokens_before for r in results)
    after = sum(r.tokens_after for r in results)
    facts = [f for r in results for f in r.facts]
    return {
        "cases": len(results), "kinds": len({r.kind for r in results}), "tokens_before": before,
        "tokens_after": after, "saved_pct": round(100 * (1 - after / before), 1) if before else 0.0,
        "facts": len(facts), "verbatim": sum(f.category == VERBATIM for f in facts),
        "named": sum(f.category == NAMED for f in facts), "lost": sum(f.category == LOST for f in facts),
        "lost_in_unnamed_drop": sum(f.in_unnamed_drop for f in facts),
        "later_facts": sum(f.turn == "later" for f in facts),
        "later_lost": sum(f.turn == "later" and f.category == LOST for f in facts),
        "marker_claims_checked": sum(r.claims_checked for r in results),
        "marker_violations": sum(len(r.violations) for r in results),
        "markers_unchecked": sum(r.markers_unchecked for r in results),
        "errors": sum(bool(r.error) for r in results),
    }
