"""Unseen workloads: realistic tool outputs built from seeded generators and installed packages' files.

Each workload is a question, a tool output and the facts (exact strings) an answer needs. None is taken
from the benchmark corpus or the tier-1 eval: logs in the shapes real systems write (ISO-8601, syslog,
Python logging, JSON lines, nginx access, Java stack traces), build/test output, command tables (ls,
ps, docker, kubectl, env), grep over site-packages, markdown docs, a JSON API list and source files.
"""
from __future__ import annotations

import json
import random
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Workload", "all_workloads", "log_workloads", "table_workloads"]

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class Workload:
    id: str
    kind: str  # the content type the router should find ("a|b": either is right)
    question: str
    text: str
    facts: tuple[str, ...]
    min_saved: float = 0.0  # share of tokens a useful compressor saves here (a no-op saves 0)


def _stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _site() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


# ---- logs -------------------------------------------------------------------------------------------

def _noise(rng: random.Random, service: str) -> str:
    user, n, ms = rng.randrange(1, 90000), rng.randrange(1, 10000), rng.randrange(2, 950)
    return rng.choice((
        f"[worker-{rng.randrange(1, 17)}] handled GET /v1/{service}/{n} status=200 in {ms}ms",
        f"[worker-{rng.randrange(1, 17)}] handled PUT /v1/{service}/{n}/state status=204 in {ms}ms",
        f"[session] user {user} refreshed token, expires in {rng.randrange(300, 3600)}s",
        f"[metrics] queue depth {rng.randrange(0, 40)}, lag {ms}ms, consumers {rng.randrange(2, 9)}",
        f"[db] checkout conn#{rng.randrange(1, 50)} after {rng.randrange(0, 9)}ms",
    ))


def _rare(rng: random.Random, service: str) -> list[str]:
    return [
        f"[db] deadlock detected on table {service}_ledger, transaction {rng.randrange(10**6, 10**7)} rolled back",
        f"[config] feature flag {service}.fast_path switched on by deploy {rng.randrange(100, 999)}",
        f"[worker-{rng.randrange(1, 17)}] disk /var/lib/{service} at 97% capacity",
    ]


def _log(rng: random.Random, n: int, stamp, level_of, service: str, ident: str, question: str,
         min_saved: float) -> Workload:
    rare = _rare(rng, service)
    at = sorted(rng.sample(range(30, n - 30), len(rare)))
    lines = []
    facts = []
    for i in range(n):
        if i in at:
            body = rare[at.index(i)]
            lvl = ("ERROR", "INFO", "WARN")[at.index(i)]
        else:
            body, lvl = _noise(rng, service), rng.choice(("INFO", "INFO", "INFO", "DEBUG"))
        line = f"{stamp(i)}{level_of(lvl, service)}{body}"
        lines.append(line)
        if i in at:
            facts.append(line)
    return Workload(ident, "logs", question, "\n".join(lines) + "\n", tuple(facts), min_saved)


def log_workloads(seed: int = 7) -> list[Workload]:
    rng = random.Random(seed)
    base = rng.randrange(10**8)
    q = "The {s} service misbehaved overnight: what went wrong and what changed?"

    def iso(i: int) -> str:
        t = base + i * 3
        return f"2025-11-{1 + (t // 86400) % 28:02d}T{t % 86400 // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}.{t * 7 % 1000:03d}Z "

    def syslog(i: int) -> str:
        t = base + i * 3
        return f"{_MONTHS[(t // 2000000) % 12]} {1 + (t // 86400) % 28:>2} {t % 86400 // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d} node-7 "

    def pylog(i: int) -> str:
        t = base + i * 3
        return f"[2025-10-{1 + (t // 86400) % 28:02d} {t % 86400 // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d},{t * 13 % 1000:03d}] "

    def plain_level(lvl: str, s: str) -> str:
        return f"{lvl:<5} {s} "

    def syslog_proc(lvl: str, s: str) -> str:
        return f"{s}d[{4000 + len(s) * 7}]: <{lvl.lower()}> "

    def pylog_level(lvl: str, s: str) -> str:
        return f"{lvl} in {s}.core: "

    out = [
        _log(rng, 1800, iso, plain_level, "ledger", "log_iso8601", q.format(s="ledger"), 0.6),
        _log(rng, 1500, syslog, syslog_proc, "mailer", "log_syslog", q.format(s="mailer"), 0.6),
        _log(rng, 1600, pylog, pylog_level, "catalog", "log_python_logging", q.format(s="catalog"), 0.6),
    ]
    out.append(_jsonl_log(rng))
    out.append(_access_log(rng))
    out.append(_java_log(rng))
    return out


def _jsonl_log(rng: random.Random) -> Workload:
    lines, facts = [], []
    n = 1400
    bad = rng.randrange(200, n - 200)
    for i in range(n):
        rec = {"ts": f"2025-09-14T08:{i // 60 % 60:02d}:{i % 60:02d}.{rng.randrange(1000):03d}Z",
               "level": "info", "svc": "checkout", "msg": "request served",
               "route": rng.choice(["/cart", "/cart/items", "/pay", "/session"]),
               "status": 200, "dur_ms": rng.randrange(3, 400)}
        if i == bad:
            rec.update(level="error", msg="payment provider rejected capture", status=502,
                       provider_code=f"PSP-{rng.randrange(1000, 9999)}")
            facts.append(json.dumps(rec))
        lines.append(json.dumps(rec))
    return Workload("log_json_lines", "logs", "Why did a checkout payment fail?", "\n".join(lines), tuple(facts), 0.6)


def _access_log(rng: random.Random) -> Workload:
    lines, facts = [], []
    n = 1600
    odd = sorted(rng.sample(range(100, n - 100), 2))
    for i in range(n):
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        path, status = rng.choice([("/", 200), ("/static/app.js", 200), ("/api/items?page=2", 200), ("/favicon.ico", 404)])
        if i == odd[0]:
            path, status = "/admin/export?all=1", 500
        elif i == odd[1]:
            path, status = "/wp-login.php", 403
        line = (f'{ip} - - [21/Oct/2025:14:{i // 60 % 60:02d}:{i % 60:02d} +0000] "GET {path} HTTP/1.1" {status} '
                f'{rng.randrange(200, 90000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"')
        lines.append(line)
        if i in odd:
            facts.append(line)
    return Workload("log_nginx_access", "logs", "Which requests failed on the web server?", "\n".join(lines),
                    tuple(facts), 0.6)


def _java_log(rng: random.Random) -> Workload:
    lines, facts = [], []
    n = 1200
    at = rng.randrange(300, 900)
    for i in range(n):
        ts = f"2025-08-02 11:{i // 60 % 60:02d}:{i % 60:02d}.{rng.randrange(1000):03d}"
        if i == at:
            head = f"{ts} ERROR [main] o.a.k.c.Consumer - Fetch failed for partition orders-{rng.randrange(12)}"
            lines.append(head)
            facts.append(head)
            lines.append("java.lang.IllegalStateException: offset 88231 out of range")
            facts.append("java.lang.IllegalStateException: offset 88231 out of range")
            for fr in ("org.apache.kafka.clients.consumer.KafkaConsumer.poll(KafkaConsumer.java:1210)",
                       "com.example.orders.Ingest.run(Ingest.java:77)", "java.base/java.lang.Thread.run(Thread.java:833)"):
                lines.append(f"\tat {fr}")
            facts.append("\tat com.example.orders.Ingest.run(Ingest.java:77)")
            continue
        lines.append(f"{ts} INFO  [pool-{rng.randrange(1, 5)}-thread-{rng.randrange(1, 9)}] c.e.orders.Ingest - "
                     f"committed offset {rng.randrange(10**5)} for partition orders-{rng.randrange(12)}")
    return Workload("log_java_stacktrace", "logs", "Why did order ingestion stop?", "\n".join(lines), tuple(facts), 0.6)


# ---- build / test output ----------------------------------------------------------------------------

def _pytest_output(rng: random.Random) -> Workload:
    lines = ["============================= test session starts ==============================",
             "platform linux -- Python 3.11.9, pytest-8.3.3, pluggy-1.5.0", "rootdir: /home/dev/shop",
             "collected 1180 items", ""]
    fail = rng.randrange(400, 800)
    facts = []
    for i in range(1180):
        mod = f"tests/unit/test_mod{i // 40:02d}.py::test_case_{i % 40:02d}"
        status = "FAILED" if i == fail else "PASSED"
        line = f"{mod} {status} {'[' + str(100 * (i + 1) // 1180).rjust(3) + '%]'}"
        lines.append(line)
        if i == fail:
            facts.append(line)
    lines += ["", "=================================== FAILURES ===================================",
              f"_____________________________ test_case_{fail % 40:02d} ______________________________",
              "    def test_case():", ">       assert total == 1299", "E       assert 1298 == 1299", "",
              f"tests/unit/test_mod{fail // 40:02d}.py:31: AssertionError",
              f"=========================== short test summary info ============================",
              f"FAILED tests/unit/test_mod{fail // 40:02d}.py::test_case_{fail % 40:02d} - assert 1298 == 1299",
              "======================= 1 failed, 1179 passed in 41.20s ========================"]
    facts += ["E       assert 1298 == 1299", "======================= 1 failed, 1179 passed in 41.20s ========================"]
    return Workload("build_pytest_verbose", "logs|pytest", "Which test failed and why?", "\n".join(lines), tuple(facts), 0.5)


def _cargo_output(rng: random.Random) -> Workload:
    crates = [f"{w}{s}" for w in ("serde", "tokio", "hyper", "rand", "regex", "clap", "syn", "quote", "mio", "bytes")
              for s in ("", "-core", "-util", "-macros", "-derive", "-impl", "-sys", "-types")]
    rng.shuffle(crates)
    lines = [f"   Compiling {c} v{rng.randrange(0, 3)}.{rng.randrange(30)}.{rng.randrange(20)}" for c in crates]
    lines = ["    Updating crates.io index", "  Downloaded 80 crates (7.1 MB) in 1.92s"] + lines
    err = ["error[E0308]: mismatched types", "  --> src/ledger.rs:142:24",
           "    |", "142 |         let total: u32 = entries.len();", "    |                ---   ^^^^^^^^^^^^^ expected `u32`, found `usize`",
           "", "error: could not compile `ledger` (bin \"ledger\") due to 1 previous error"]
    lines += ["   Compiling ledger v0.4.0 (/home/dev/ledger)"] + err
    text = "\n".join(lines)
    # Small, and an error: read whole (or nearly) is right; what matters is that nothing is lost.
    return Workload("build_cargo", "logs|text", "Why does the ledger build fail?", text,
                    ("error[E0308]: mismatched types", "  --> src/ledger.rs:142:24",
                     "error: could not compile `ledger` (bin \"ledger\") due to 1 previous error"), 0.0)


def _make_and_npm(rng: random.Random) -> list[Workload]:
    make = [f"cc -O2 -Wall -Iinclude -c src/{w}_{i}.c -o build/{w}_{i}.o"
            for i in range(260) for w in (rng.choice(("net", "fs", "ui", "db")),)]
    warn = "src/db_118.c:88:12: warning: unused variable 'tmp' [-Wunused-variable]"
    make.insert(131, warn)
    make += ["cc -o build/app build/*.o -lm", "build/db_118.o: In function `flush_pages':",
             "db_118.c:(.text+0x2a4): undefined reference to `page_cache_drop'",
             "collect2: error: ld returned 1 exit status", "make: *** [Makefile:42: build/app] Error 1"]
    npm = [f"npm http fetch GET 200 https://registry.npmjs.org/{rng.choice(('@babel', '@types', 'lodash'))}-pkg{i} "
           f"{rng.randrange(5, 900)}ms (cache {rng.choice(('hit', 'miss', 'revalidated'))})" for i in range(500)]
    dep = "npm WARN deprecated request@2.88.2: request has been deprecated, see https://github.com/request/request/issues/3142"
    npm.insert(rng.randrange(100, 400), dep)
    npm += ["", "added 812 packages, and audited 813 packages in 41s", "", "3 high severity vulnerabilities"]
    return [
        Workload("build_make", "logs", "Why did the build fail to link?", "\n".join(make),
                 (warn, "db_118.c:(.text+0x2a4): undefined reference to `page_cache_drop'",
                  "make: *** [Makefile:42: build/app] Error 1"), 0.5),
        Workload("build_npm", "logs", "Did npm install print any deprecation warning or vulnerability?",
                 "\n".join(npm), (dep, "3 high severity vulnerabilities"), 0.6),
    ]


# ---- command tables ---------------------------------------------------------------------------------

def table_workloads(seed: int = 11) -> list[Workload]:
    rng = random.Random(seed)
    out = []
    # ls -la of a big directory: every name is a fact of its own; the router must not mistake it for grep.
    rows = ["total 4812"]
    names = []
    for i in range(500):
        name = f"shard-{i:04d}.parquet"
        names.append(name)
        rows.append(f"-rw-r--r--  1 etl  staff  {rng.randrange(10**5, 10**8):>9} {_MONTHS[i % 12]} {1 + i % 28:>2} "
                     f"{i % 24:02d}:{i % 60:02d} {name}")
    # ls -la dates ("Mar  1 21:28") once made it look like a log; it is a listing, every kept row whole.
    out.append(Workload("ls_la", "listing", "Is shard-0321.parquet in the export directory and how big is it?",
                        "\n".join(rows), (next(r for r in rows if r.endswith("shard-0321.parquet")),), 0.4))
    # ps aux
    rows = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
    for i in range(400):
        rows.append(f"app      {2000 + i:>7}  {rng.randrange(0, 30) / 10:.1f}  {rng.randrange(0, 50) / 10:.1f} "
                    f"{rng.randrange(10**5, 10**6):>6} {rng.randrange(10**4, 10**5):>5} ?        Sl   09:{i % 60:02d}   "
                    f"0:{i % 60:02d} /usr/bin/python3 -m worker --queue q{i % 7}")
    hog = f"app      {2400:>7} 97.3 41.0 9123456 3812000 ?        Rl   08:15  312:07 /usr/bin/java -jar indexer.jar"
    rows.insert(rng.randrange(100, 300), hog)
    out.append(Workload("ps_aux", "table", "Which process is eating the CPU and memory?", "\n".join(rows), (hog,), 0.8))
    # docker ps
    rows = ["CONTAINER ID   IMAGE                 COMMAND                  CREATED        STATUS                    PORTS      NAMES"]
    for i in range(150):
        st = "Up 3 days" if i != 77 else "Restarting (1) 9 seconds ago"
        rows.append(f"{rng.randrange(16**12):012x}   registry/app:{i % 5}.2.1   \"/entrypoint.sh\"         3 days ago     {st:<25} 80/tcp     app_{i:03d}")
    out.append(Workload("docker_ps", "table", "Which container keeps restarting?", "\n".join(rows),
                        (next(r for r in rows if "Restarting" in r),), 0.5))
    # kubectl get pods
    rows = ["NAME                                READY   STATUS             RESTARTS        AGE"]
    for i in range(300):
        st, rs = ("CrashLoopBackOff", "41 (2m ago)") if i == 123 else ("Running", "0")
        rows.append(f"{'api-' + format(rng.randrange(16**10), '010x') + '-' + format(i, '05d'):<35} 1/1     {st:<18} {rs:<15} 6d")
    out.append(Workload("kubectl_pods", "table", "Which pod is crash looping?", "\n".join(rows),
                        (next(r for r in rows if "CrashLoopBackOff" in r),), 0.5))
    # env dump
    rows = [f"APP_SETTING_{i:03d}={rng.randrange(10**6)}" for i in range(300)]
    rows.insert(150, "DATABASE_URL=postgres://ledger@db.internal:5432/ledger")
    out.append(Workload("env_dump", "table", "What is DATABASE_URL set to?", "\n".join(rows),
                        ("DATABASE_URL=postgres://ledger@db.internal:5432/ledger",), 0.6))
    return out


# ---- grep over site-packages ------------------------------------------------------------------------

def _grep(pattern: str, root: Path, limit_files: int = 300) -> list[str]:
    rx = re.compile(pattern)
    out = []
    for p in sorted(root.rglob("*.py"))[:limit_files]:
        try:
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if rx.search(line):
                    out.append(f"{p.relative_to(root).as_posix()}:{i}:{line}")
        except (UnicodeDecodeError, OSError):
            continue
    return out


def grep_workloads() -> list[Workload]:
    out = []
    root = _site() / "mitmproxy"
    if root.is_dir():
        lines = _grep(r"\bdef __init__\(", root, 400)
        by_file: dict[str, int] = {}
        for ln in lines:
            by_file[ln.split(":", 1)[0]] = by_file.get(ln.split(":", 1)[0], 0) + 1
        target = sorted(by_file, key=lambda f: (-by_file[f], f))[1]
        wanted = [ln for ln in lines if ln.startswith(target + ":")]
        out.append(Workload("grep_named_file", "search",
                            f"Which classes in {target} define `def __init__(`? List their lines.",
                            "\n".join(lines), tuple(wanted), 0.2))
    # grep -n -C2 over CPython 3.11's Lib/http/*.py (context lines `path-12-text`, blocks separated by "--"),
    # frozen in tests/golden/inputs/ (where the marker-claims check reads it too): a later Python's http package uses _tunnel_host in more places, so the answer grew to
    # nearly all of the output and a workload read from the running interpreter saved 0%.
    text = (Path(__file__).resolve().parents[2] / "golden" / "inputs" / "grep_context_http.txt").read_text()
    grep_c = text.rstrip("\n").split("\n")
    wanted = [ln for ln in grep_c if ln.startswith("client.py:") and "_tunnel_host" in ln][:2]
    out_w = [Workload("grep_context", "search", "Where does the HTTP client use `_tunnel_host`?",
                      "\n".join(grep_c), tuple(wanted), 0.1)]  # half of it is the answer
    root = _stdlib() / "email"
    if root.is_dir():
        lines = _grep(r"\bself\.policy\b", root)
        out.append(Workload("grep_no_anchor", "search", "How is the email policy object used across the package?",
                            "\n".join(lines), tuple(dict.fromkeys(ln.split(":", 1)[0] + ":" for ln in lines)), 0.3))
    return out + out_w


def path_workloads() -> list[Workload]:
    # `find` output: absolute paths whose versions ("3.11.7") must not pass for log dates.
    root = _stdlib()
    paths = [str(p) for p in sorted(root.rglob("*.py")) if "site-packages" not in p.parts][:2000]
    wanted = str(root / "json" / "decoder.py")
    if wanted not in paths or len(paths) < 500:
        return []
    return [Workload("find_paths", "paths", "Which file holds the JSON decoder?", "\n".join(paths), (wanted,), 0.3)]


# ---- docs --------------------------------------------------------------------------------------------

def doc_workloads() -> list[Workload]:
    import inspect
    import logging.handlers

    sections = []
    for name in sorted(dir(logging.handlers)):
        obj = getattr(logging.handlers, name)
        if inspect.isclass(obj) and obj.__module__ == "logging.handlers":
            sections.append(f"## {name}\n")
            for mname, meth in sorted(vars(obj).items()):
                doc = inspect.getdoc(meth) if callable(meth) else None
                if doc and not mname.startswith("__"):
                    sections.append(f"### {name}.{mname}\n\n{doc}\n")
    text = "# logging.handlers reference\n\nHandlers that send log records to files, sockets, mail and queues.\n\n" + "\n".join(sections)
    fact_doc = inspect.getdoc(logging.handlers.RotatingFileHandler.shouldRollover) or ""
    facts = tuple(ln for ln in fact_doc.splitlines() if len(ln) > 20)[:2]
    return [Workload("docs_many_sections", "text",
                     "When does RotatingFileHandler decide to roll over (shouldRollover)?", text, facts, 0.4)]


# ---- JSON API list -----------------------------------------------------------------------------------

def json_workloads(seed: int = 5) -> list[Workload]:
    rng = random.Random(seed)
    items = []
    for i in range(250):
        items.append({"sku": f"SKU-{100000 + i * 13}", "title": f"Widget {rng.choice(['basic', 'pro', 'max'])} {i}",
                      "warehouse": rng.choice(["AMS-1", "FRA-2", "DUB-1"]), "stock": rng.randrange(5, 500),
                      "price": {"amount": rng.randrange(100, 99999), "currency": "EUR"}, "discontinued": False})
    target = items[rng.randrange(60, 190)]
    target.update(stock=0, discontinued=True, note="recalled: battery swelling report RC-2291")
    return [Workload("json_inventory", "json", f"Why can't customers order {target['sku']}?",
                     json.dumps({"data": items, "page": 1, "total": 250}, indent=2),
                     (target["sku"], "recalled: battery swelling report RC-2291"), 0.8)]


# ---- code ---------------------------------------------------------------------------------------------

def code_workloads() -> list[Workload]:
    import ast

    out = []
    for rel, fn in (("http/cookiejar.py", "domain_match"), ("tarfile.py", "_get_filtered_attrs")):
        path = _stdlib() / rel
        if not path.is_file():
            continue
        src = path.read_text(encoding="utf-8")
        node = next((n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef) and n.name == fn), None)
        if node is None:
            continue
        body = src.splitlines()[node.lineno - 1: node.end_lineno]
        facts = tuple(ln for ln in body[1:] if len(ln.strip()) > 25 and not ln.strip().startswith(("#", '"')))[:3]
        out.append(Workload(f"code_{fn}", "code", f"Walk me through {fn} in {rel}: what does it check?", src, facts, 0.3))
    return out


def all_workloads() -> list[Workload]:
    rng = random.Random(3)
    return (log_workloads() + [_pytest_output(rng), _cargo_output(rng)] + _make_and_npm(rng) + table_workloads() + grep_workloads() + path_workloads()
            + doc_workloads() + json_workloads() + code_workloads())
