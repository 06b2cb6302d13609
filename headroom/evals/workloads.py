"""Tier-1 eval workloads: agent-shaped requests built offline.

Each case is a question, a tool call and its output, and the facts (exact strings) an agent needs from
that output to answer. Two sets:

- the real-world workloads (`realworld_cases`), real outputs of real programs and real public data sets,
  made by scripts/make_realworld.py and shipped in headroom/evals/data/realworld.jsonl.gz;
- the original regression cases (`tier1_cases`), built at run time from the Python standard library
  (its source, grep over it) and, where marked `generated=True`, from a fixed-seed generator or an
  edit made for the test (service logs, API records, a diff, a repeated page).
"""
from __future__ import annotations

import difflib
import gzip
import inspect
import json
import random
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Case", "REALWORLD_PATH", "realworld_cases", "tier1_cases"]

REALWORLD_PATH = Path(__file__).with_name("data") / "realworld.jsonl.gz"


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    question: str
    tool_name: str
    tool_output: str
    facts: tuple[str, ...]
    generated: bool = False  # made by a seeded generator or edited for the test, not a real output
    source: str = ""  # how the output was made: the command, or the package file it was read from
    later_question: str = ""  # a later user turn about the same output (the compressor never sees it)
    later_facts: tuple[str, ...] = ()
    tool_args: str = ""  # the tool call's arguments (JSON); a default one when empty

    def openai_messages(self) -> list[dict]:
        """The request as an agent sends it; with a later question, as the turn after the tool result,
        so what the compressor sees before the output is still the first question (prefix stability)."""
        call_id = f"call_{self.id}"
        later = [{"role": "user", "content": self.later_question}] if self.later_question else []
        return [
            {"role": "system", "content": "You are a coding agent. Use the tools to answer."},
            {"role": "user", "content": self.question},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call_id, "type": "function",
                     "function": {"name": self.tool_name,
                                  "arguments": self.tool_args or json.dumps({"q": self.question[:40]})}}
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": self.tool_output},
            *later,
        ]

    @classmethod
    def from_record(cls, rec: dict) -> "Case":
        later = rec.get("later") or {}
        return cls(id=rec["id"], kind=rec["kind"], question=rec["question"], tool_name=rec["tool_name"],
                   tool_output=rec["text"], facts=tuple(rec["facts"]), source=rec.get("source", ""),
                   later_question=later.get("question", ""), later_facts=tuple(later.get("facts", ())),
                   tool_args=json.dumps(rec["args"]) if rec.get("args") else "")


def realworld_cases(path: Path | None = None) -> list[Case]:
    """The shipped real-world workloads (one JSON object per line, gzip-compressed)."""
    with gzip.open(path or REALWORLD_PATH, "rt", encoding="utf-8") as f:
        return [Case.from_record(json.loads(line)) for line in f if line.strip()]


def _stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


# ---- logs -------------------------------------------------------------------------------------------

_LOG_TEMPLATES = (
    "INFO  [http-worker-{w}] GET /api/v2/items/{n} 200 {ms}ms",
    "INFO  [http-worker-{w}] POST /api/v2/orders 201 {ms}ms",
    "DEBUG [cache] hit ratio {r}% over {n} lookups",
    "INFO  [scheduler] job sync-{w} finished in {ms}ms, {n} rows",
    "INFO  [pool] connections active={w} idle={n}",
)


def _log_case(rng: random.Random, system: str, lines: int) -> Case:
    start = rng.randrange(10**9, 2 * 10**9)
    out: list[str] = []
    rare_at = sorted(rng.sample(range(20, lines - 20), 3))
    req_id = f"req-{rng.randrange(16**8):08x}"
    facts = (
        f"ERROR [http-worker-3] POST /api/v2/orders failed: upstream timeout after 30000ms (request_id={req_id})",
        f"WARN  [pool] connection pool exhausted: 64/64 in use, {rng.randrange(10, 99)} waiters",
        f"INFO  [config] reloaded {system}.yaml: max_connections 64 -> {rng.choice([96, 128, 256])}",
    )
    for i in range(lines):
        ts = f"2026-03-{1 + i * 28 // lines:02d}T{(start + i * 7) % 86400 // 3600:02d}:" \
             f"{(start + i * 7) % 3600 // 60:02d}:{(start + i * 7) % 60:02d}.{rng.randrange(1000):03d}Z"
        if i in rare_at:
            line = facts[rare_at.index(i)]
        else:
            line = rng.choice(_LOG_TEMPLATES).format(
                w=rng.randrange(1, 9), n=rng.randrange(1, 5000), ms=rng.randrange(1, 900), r=rng.randrange(50, 100)
            )
        out.append(f"{ts} {system} {line}")
    return Case(
        id=f"logs_{system}", kind="logs",
        question=f"The {system} service had an incident today. What failed, and what changed in its configuration?",
        tool_name="bash", tool_output="\n".join(out) + "\n",
        facts=tuple(f for f in facts), generated=True, source=f"seeded generator: {lines} log lines",
    )


# ---- JSON -------------------------------------------------------------------------------------------

def _json_case(rng: random.Random, n: int) -> Case:
    statuses = ["active"] * 12 + ["pending"] * 3 + ["suspended"]
    records = []
    for i in range(n):
        records.append({
            "id": 40000 + i * 7,
            "login": f"user{rng.randrange(10**6):06d}",
            "email": f"u{i}@example.org",
            "status": rng.choice(statuses[:-1]),
            "plan": rng.choice(["free", "team", "enterprise"]),
            "created_at": f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            "seats": rng.randrange(1, 40),
        })
    target = records[rng.randrange(n // 4, 3 * n // 4)]
    target["status"] = "suspended"
    target["suspension_reason"] = "chargeback dispute #CB-" + str(rng.randrange(10**5, 10**6))
    return Case(
        id="json_accounts", kind="json",
        question=f"Why is account {target['id']} unable to log in?",
        tool_name="http_get", tool_output=json.dumps(records, indent=2),
        facts=(target["suspension_reason"], str(target["id"])), generated=True,
        source=f"seeded generator: {n} account records",
    )


# ---- code, grep, diff, prose from the standard library ------------------------------------------------

def _code_case(module_file: str, function: str) -> Case | None:
    import ast

    path = _stdlib() / module_file
    if not path.is_file():
        return None
    src = path.read_text(encoding="utf-8")
    lines = src.splitlines()
    fn = next((n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef) and n.name == function), None)
    if fn is None:
        return None
    body = fn.body[1:] if ast.get_docstring(fn) else fn.body
    # The facts: statements from the body, spread over it, the kind of lines a fix would touch.
    stmts = [lines[n.lineno - 1].strip() for n in ast.walk(ast.Module(body=body, type_ignores=[]))
             if isinstance(n, ast.stmt) and hasattr(n, "lineno")]
    stmts = [s for s in dict.fromkeys(stmts) if len(s) > 20 and not s.startswith(("#", "def ", "class "))]
    facts = tuple(stmts[i * len(stmts) // 3] for i in range(3)) if len(stmts) >= 3 else tuple(stmts)
    return Case(
        id=f"code_{Path(module_file).stem}_{function}", kind="code",
        question=f"How does `{function}` in {module_file} work? I think it has a bug.",
        tool_name="read_file", tool_output=src, facts=facts, source=f"the standard library's {module_file}",
    )


def _grep_case(pattern: str, wanted_file: str) -> Case | None:
    root = _stdlib()
    rx = re.compile(pattern)
    out = []
    for p in sorted(root.glob("*.py"))[:400]:
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        for i, line in enumerate(lines, 1):
            if rx.search(line):
                out.append(f"{p.name}:{i}:{line}")
    wanted = [ln for ln in out if ln.startswith(wanted_file + ":")]
    if len(out) < 60 or not wanted:
        return None
    return Case(
        id=f"grep_{Path(wanted_file).stem}", kind="search",
        question=f"Where does {wanted_file} use `{pattern}`? List the lines.",
        tool_name="grep", tool_output="\n".join(out) + "\n", facts=tuple(wanted[:3]),
        source=f"grep {pattern!r} over the standard library's first 400 modules",
    )


def _diff_case(module_file: str, edits: int = 12) -> Case | None:
    path = _stdlib() / module_file
    if not path.is_file():
        return None
    old = path.read_text(encoding="utf-8").splitlines(keepends=True)
    new = list(old)
    facts = []
    # Every third edit deletes a line, the others add one: a review must see both kinds.
    for j in reversed(range(edits)):
        i = (j + 1) * len(old) // (edits + 1)
        while i < len(new) and len(new[i].strip()) < 12:
            i += 1
        if j % 3 == 0:
            facts.append("-" + new[i].rstrip("\n"))
            del new[i]
        else:
            indent = new[i][: len(new[i]) - len(new[i].lstrip())]
            added = f"{indent}_audit_checkpoint({j}, {module_file!r})  # reviewed: keep behaviour stable\n"
            new.insert(i, added)
            facts.append("+" + added.rstrip("\n"))
    diff = "".join(difflib.unified_diff(old, new, f"a/{module_file}", f"b/{module_file}", n=3))
    return Case(
        id=f"diff_{Path(module_file).stem}", kind="diff",
        question=f"Review this change to {module_file}: what exactly was added and removed?",
        tool_name="git_diff", tool_output=diff, facts=tuple(facts[::4]), generated=True,
        source=f"unified diff of {module_file} against a copy with {edits} lines added or removed for the test",
    )


def _prose_case() -> Case:
    doc = inspect.getdoc(__import__("argparse")) or ""
    sections = []
    import argparse

    for name in ("ArgumentParser", "Action", "FileType", "Namespace", "HelpFormatter"):
        sections.append(f"## {name}\n\n{inspect.getdoc(getattr(argparse, name)) or ''}\n")
    text = f"# argparse\n\n{doc}\n\n" + "\n".join(sections)
    fact_src = inspect.getdoc(argparse.FileType) or ""
    fact = next((ln for ln in fact_src.splitlines() if len(ln) > 30), fact_src[:60])
    return Case(
        id="prose_argparse", kind="prose",
        question="How do I use argparse FileType to open files, and what are its keyword arguments?",
        tool_name="fetch_docs", tool_output=text * 3, facts=(fact,), generated=True,
        source="argparse docstrings assembled into a page, printed three times",
    )


def tier1_cases(seed: int = 1) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case | None] = [
        _log_case(rng, "billing", 1500),
        _log_case(rng, "gateway", 2500),
        _json_case(rng, 300),
        _code_case("json/decoder.py", "py_scanstring"),
        _code_case("argparse.py", "_get_values"),
        _grep_case(r"\braise ValueError\(", "argparse.py"),
        _diff_case("argparse.py"),
        _prose_case(),
    ]
    return [c for c in cases if c is not None and c.facts]
