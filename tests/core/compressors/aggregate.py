"""Aggregate and negative questions: workloads where an answer needs EVERY matching item or line.

"Which accounts are suspended?", "list every endpoint that returned 5xx", "how many tests failed and
which?", "are there any errors besides the timeout?": no single needle captures them. Each workload
here is built by a seeded generator (or from installed packages' files) with the question, the output,
the COMPLETE set of facts an answer needs, and `signal`: a regex that a marker's summary must match
(with a non-zero count) when its dropped text holds one of the facts, so "37 items omitted" can never
hide a match silently. `describe` is a regex every marker must match: the kinds/levels/values it holds.
"""
from __future__ import annotations

import json
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Aggregate", "aggregate_workloads"]


@dataclass(frozen=True)
class Aggregate:
    id: str
    kind: str
    question: str
    text: str
    facts: tuple[str, ...]  # every string an answer needs
    signal: str  # regex with a (?P<n>\d+) group: a marker holding a fact says how many it holds
    describe: str  # regex every marker's summary matches: what kinds of content it holds
    min_saved: float = 0.3


def _accounts(rng: random.Random, n: int, share: float, ident: str) -> Aggregate:
    items, facts = [], []
    for i in range(n):
        status = "suspended" if rng.random() < share else rng.choice(["active"] * 12 + ["pending"])
        acct = {"id": f"acct_{rng.randrange(16**8):08x}", "name": f"Customer {i:04d}", "plan": rng.choice(["free", "pro", "team"]),
                "status": status, "seats": rng.randrange(1, 50), "created": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "owner": {"email": f"user{i}@example.org", "verified": rng.random() < 0.9}}
        items.append(acct)
        if status == "suspended":
            facts.append(acct["id"])
    text = json.dumps({"data": items, "has_more": False}, indent=2)
    return Aggregate(ident, "json", "Which accounts are suspended?", text, tuple(facts),
                     r"suspended x(?P<n>\d+)", r"status: ", 0.5)


def _access(rng: random.Random) -> Aggregate:
    routes = ["/api/items", "/api/cart", "/api/users/me", "/static/app.js", "/health", "/api/search?q=lamp"]
    lines, facts = [], []
    n = 2200
    bad = set(rng.sample(range(n), 14))
    for i in range(n):
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        route = rng.choice(routes)
        status = rng.choice((500, 502, 503, 504)) if i in bad else rng.choice((200, 200, 200, 304, 404))
        if i in bad:
            route = f"/api/orders/{rng.randrange(10**5)}/refund"
        line = (f'{ip} - - [12/Oct/2025:{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000] '
                f'"GET {route} HTTP/1.1" {status} {rng.randrange(200, 9000)} "-" "Mozilla/5.0"')
        lines.append(line)
        if i in bad:
            facts.append(line)
    return Aggregate("access_5xx", "logs", "List every endpoint that returned 5xx in this access log.",
                     "\n".join(lines), tuple(facts), r"(?P<n>\d+) mention '5xx'", r"lines? [\d-]+ omitted", 0.6)


def _app_log(rng: random.Random) -> Aggregate:
    lines, facts = [], []
    n = 1800
    errs = sorted(rng.sample(range(50, n - 50), 9))
    for i in range(n):
        ts = f"2025-11-03T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i * 7 % 1000:03d}Z"
        if i == errs[0]:
            line = f"{ts} ERROR upstream call to inventory timed out after 30000ms"
        elif i in errs:
            line = f"{ts} ERROR " + rng.choice([
                f"cannot write to /var/spool/q{i}: disk quota exceeded",
                f"order {rng.randrange(10**6)} rejected: invalid currency",
                f"lost connection to redis-{rng.randrange(9)} (reset by peer)",
            ])
        else:
            line = f"{ts} INFO " + rng.choice([
                f"served GET /api/items/{rng.randrange(10**4)} in {rng.randrange(2, 400)}ms",
                f"cache hit ratio {rng.randrange(60, 99)}% over {rng.randrange(100, 999)} keys",
                f"worker-{rng.randrange(16)} picked job {rng.randrange(10**6)}",
            ])
        lines.append(line)
        if i in errs:
            facts.append(line)
    return Aggregate("log_errors_besides", "logs", "Are there any errors besides the inventory timeout?",
                     "\n".join(lines), tuple(facts), r"(?P<n>\d+) ERROR", r"\d+ INFO", 0.6)


def _pytest(rng: random.Random) -> Aggregate:
    lines = ["============================= test session starts ==============================",
             "platform linux -- Python 3.11.9, pytest-8.3.3, pluggy-1.5.0", "collected 420 items", ""]
    facts = []
    failed = set(rng.sample(range(420), 7))
    for i in range(420):
        mod = f"tests/test_{['api', 'models', 'views', 'cache', 'auth'][i % 5]}.py"
        name = f"{mod}::test_case_{i:03d}"
        if i in failed:
            lines.append(f"{name} FAILED                                   [{i * 100 // 420:3d}%]")
            facts.append(f"{name} FAILED")
        else:
            lines.append(f"{name} PASSED                                   [{i * 100 // 420:3d}%]")
    lines += ["", "=========================== short test summary info ============================"]
    lines += [f"FAILED {f.split(' ')[0]} - AssertionError" for f in facts]
    lines.append(f"======================== 7 failed, 413 passed in 12.31s ========================")
    return Aggregate("pytest_which_failed", "pytest", "How many tests failed and which?", "\n".join(lines),
                     tuple(facts), r"(?P<n>\d+) (?:with error/warning words|mention 'failed')", r"lines? [\d-]+ omitted", 0.5)


def _cargo(rng: random.Random) -> Aggregate:
    crates = sorted({"".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(4, 10)))
                     for _ in range(340)})
    lines = ["    Updating crates.io index"]
    lines += [f"  Downloaded {c} v{rng.randrange(3)}.{rng.randrange(40)}.{rng.randrange(20)}" for c in crates[:60]]
    facts = []
    warn_at = set(rng.sample(range(len(crates)), 3))
    for k, c in enumerate(crates):
        lines.append(f"   Compiling {c} v{rng.randrange(3)}.{rng.randrange(40)}.{rng.randrange(20)}")
        if k in warn_at:
            w = f"warning: unused variable: `{c}_cfg`"
            lines += [w, f"  --> src/{c}.rs:{rng.randrange(10, 400)}:9"]
            facts.append(w)
    err = "error[E0308]: mismatched types"
    lines += [err, "  --> src/main.rs:42:17", "error: could not compile `app` (bin \"app\") due to 1 previous error"]
    facts.append(err)
    return Aggregate("cargo_warnings", "logs", "Which warnings and errors did the build print?", "\n".join(lines),
                     tuple(facts), r"(?P<n>\d+) (?:with error/warning words|mention 'warnings')", r"\d+x '", 0.6)


def _pods(rng: random.Random) -> Aggregate:
    lines = ["NAME                                READY   STATUS             RESTARTS   AGE"]
    facts = []
    bad = dict(zip(rng.sample(range(160), 6), ["CrashLoopBackOff", "Error", "CrashLoopBackOff", "Error",
                                               "ImagePullBackOff", "OOMKilled"]))
    for i in range(160):
        name = f"{rng.choice(['api', 'worker', 'web', 'cron'])}-{rng.randrange(16**6):06x}-{rng.randrange(16**5):05x}"
        status = bad.get(i, "Running")
        lines.append(f"{name:<35} {'0/1' if i in bad else '1/1':<7} {status:<18} {rng.randrange(0, 3) if i not in bad else 17:<10} {rng.randrange(1, 30)}d")
        if i in bad:
            facts.append(name)
    return Aggregate("pods_failing", "table", "Which pods are failing?", "\n".join(lines), tuple(facts),
                     r"(?P<n>\d+) with error/warning words", r"rows", 0.5)


def _grep_imports() -> Aggregate:
    """grep -rn '^import os$' over the standard library: hundreds of files with one match each."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    lines = []
    for p in sorted(stdlib.rglob("*.py")):
        rel = p.relative_to(stdlib).as_posix()
        if "site-packages" in rel or "test" in rel.split("/")[0]:
            continue
        try:
            src = p.read_text(encoding="utf-8").split("\n")
        except (UnicodeDecodeError, OSError):
            continue
        for k, ln in enumerate(src):
            if ln == "import os":
                lines.append(f"{rel}:{k + 1}:{ln}")
    return Aggregate("grep_many_files", "search", "Which modules of the email package import os?", "\n".join(lines),
                     tuple(ln for ln in lines if ln.startswith("email/")), r"(?P<n>\d+) mention 'email'",
                     r"match", 0.3)


def _diff(rng: random.Random) -> Aggregate:
    parts, facts = [], []
    for f in range(8):
        path = f"src/pkg/mod{f}.py"
        parts += [f"diff --git a/{path} b/{path}", f"index {rng.randrange(16**7):07x}..{rng.randrange(16**7):07x} 100644",
                  f"--- a/{path}", f"+++ b/{path}"]
        start = rng.randrange(10, 200)
        parts.append(f"@@ -{start},30 +{start},30 @@ def handler_{f}(request):")
        for k in range(30):
            if k == 15:
                old, new = f"-    limit = {k * 10 + f}", f"+    limit = settings.LIMIT_{f}"
                parts += [old, new]
                facts += [old, new, f"+++ b/{path}"]
            else:
                parts.append(f"     value_{k} = compute_{k}(request, {k})  # step {k} of the pipeline")
    return Aggregate("diff_every_file", "diff", "What changed in every file of this diff?", "\n".join(parts),
                     tuple(facts), r"(?P<n>\d+) mention", r"unchanged context", 0.4)


def _callers() -> Aggregate:
    """Which functions call a helper: every call line, inside bodies that are otherwise folded."""
    src = (Path(sysconfig.get_paths()["stdlib"]) / "urllib" / "parse.py").read_text(encoding="utf-8")
    calls = tuple(ln for ln in src.split("\n") if "_coerce_args(" in ln and not ln.lstrip().startswith("def "))
    return Aggregate("code_callers", "code", "Which functions call `_coerce_args`?", src, calls,
                     r"(?P<n>\d+) mention '_coerce_args'", r"body of|value of \w|definitions, signatures and bodies: \w", 0.3)


def aggregate_workloads(seed: int = 11) -> list[Aggregate]:
    rng = random.Random(seed)
    return [
        _accounts(rng, 330, 0.04, "accounts_suspended_few"),
        _accounts(rng, 420, 0.3, "accounts_suspended_many"),
        _access(rng),
        _app_log(rng),
        _pytest(rng),
        _cargo(rng),
        _pods(rng),
        _grep_imports(),
        _diff(rng),
        _callers(),
    ]
