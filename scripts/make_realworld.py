"""Regenerate the eval suite's real-world workloads: headroom/evals/data/realworld.jsonl.gz.

Every workload is the real output of a real program run here, or a real public data set read from the
file a PyPI, npm or Debian package ships; nothing is written by hand and nothing comes from a seeded
generator. Each workload's facts are computed from a parse of the same data (the largest file is
found by sorting the sizes, the failing tests by reading the JUnit report), never typed in, and each
is checked to be a substring of the text before anything is written.

Set-up (scratch locations, never the project's venv; the registries are the only network used):

    python3 -m venv /tmp/rwtools && /tmp/rwtools/bin/pip install mypy ruff vega_datasets openapi-spec-validator
    mkdir -p /tmp/rwnpm && cd /tmp/rwnpm && npm init -y && npm install typescript eslint @eslint/js @octokit/fixtures
    apt-get install clang golang-k8s-sigs-structured-merge-diff-dev golang-k8s-kube-openapi-dev librust-semver-dev

then `python scripts/make_realworld.py` (it downloads a few sdists with pip into --work; gcc, rustc,
git, node and Python are expected on PATH). Outputs longer than a realistic tool output are cut to
whole lines (`MAX_LINES`, `MAX_CHARS`), and each such cut is stated in the workload's `source`.
Outputs that name this machine's paths (site-packages, the scratch directories) keep them: they
are what an agent here would see.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "headroom" / "evals" / "data" / "realworld.jsonl.gz"
MAX_LINES = 2000  # a long but realistic tool output; agents' own tools cut at about this size
MAX_CHARS = 80_000

W: list[dict] = []


class Env:
    work: Path
    tools: Path  # a venv with mypy, ruff, vega_datasets, openapi-spec-validator
    npm: Path  # a directory with node_modules/{typescript,eslint,@eslint/js,@octokit/fixtures}
    gocode = Path("/usr/share/gocode/src")
    cargo = Path("/usr/share/cargo/registry")

    @property
    def site(self) -> Path:
        return next((self.tools / "lib").glob("python3*/site-packages"))


E = Env()


def run(cmd: str | list[str], cwd: Path | None = None, env: dict | None = None, ok=(0, 1, 2)) -> str:
    """A command's stdout and stderr interleaved, as a terminal (or an agent's Bash tool) shows them."""
    p = subprocess.run(cmd, shell=isinstance(cmd, str), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env={**os.environ, **(env or {})}, timeout=900)
    if p.returncode not in ok:
        raise RuntimeError(f"{cmd!r} exited {p.returncode}: {p.stdout.decode()[-2000:]}")
    return p.stdout.decode("utf-8", "replace")


def trim(text: str, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS) -> tuple[str, str]:
    """(text cut to whole lines, a note for `source` saying so, or "")."""
    lines = text.split("\n")
    n = len(lines)
    out: list[str] = []
    size = 0
    for ln in lines[:max_lines]:
        if size + len(ln) + 1 > max_chars:
            break
        out.append(ln)
        size += len(ln) + 1
    if len(out) == n:
        return text, ""
    return "\n".join(out) + "\n", f" (first {len(out)} of {n} lines kept)"


def add(id: str, kind: str, source: str, question: str, facts, text: str, tool_name: str = "bash",
        later: tuple[str, list[str]] | None = None, args: dict | None = None) -> None:
    facts = list(dict.fromkeys(facts))
    assert facts, f"{id}: no facts"
    for f in facts + (list(later[1]) if later else []):
        assert f and f in text, f"{id}: fact not in text: {f!r}"
    rec = {"id": id, "kind": kind, "source": source, "question": question, "facts": facts, "tool_name": tool_name,
           "text": text}
    if later:
        assert later[1], f"{id}: later question without facts"
        rec["later"] = {"question": later[0], "facts": list(dict.fromkeys(later[1]))}
    if args:
        rec["args"] = args
    assert id not in {w["id"] for w in W}, id
    W.append(rec)


def top(items: list, key, k: int) -> list:
    """The k items with the largest key, and any tied with the k-th (an answer must see them all)."""
    ranked = sorted(items, key=key, reverse=True)
    if len(ranked) <= k:
        return ranked
    cut = key(ranked[k - 1])
    return [x for x in ranked if key(x) >= cut]


def json_snippet(text: str, value: str) -> str:
    """The exact stretch of pretty-printed JSON `text` that serialises as the compact JSON `value`
    (`'"required":["responses"]'`): what a fact about a JSON document quotes."""
    parts = re.findall(r'"(?:[^"\\]|\\.)*"|[^\s"]', value)
    m = re.search(r"\s*".join(re.escape(p) for p in parts), text)
    assert m, f"no {value!r} in the text"
    return m.group()


def bash_args(cmd: str) -> dict:
    return {"command": cmd}


def sdist(name: str, version: str) -> Path:
    """A released sdist, unpacked under work/sdists (downloaded with pip from PyPI)."""
    dest = E.work / "sdists"
    dest.mkdir(parents=True, exist_ok=True)
    unpacked = next((p for p in dest.glob(f"{name}-{version}") if p.is_dir()), None)
    if unpacked:
        return unpacked
    run([str(E.tools / "bin" / "pip"), "download", "-q", "--no-deps", "--no-binary", ":all:", f"{name}=={version}",
         "-d", str(dest)], ok=(0,))
    tgz = next(dest.glob(f"{name}-{version}.tar.gz"))
    with tarfile.open(tgz) as t:
        t.extractall(dest, filter="data")
    return dest / f"{name}-{version}"


# ---- compiler and linter diagnostics ----------------------------------------------------------------

_GCC = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<sev>warning|error|note): (?P<msg>.*?)"
                  r"(?: \[(?P<flag>-W[^\]]+)\])?$")


def gcc_like(compiler: str, flags: str, files: str, cwd: Path) -> str:
    return run(f"{compiler} -fsyntax-only {flags} {files} 2>&1 >/dev/null", cwd=cwd)


def diagnostics_c() -> None:
    lz4 = sdist("lz4", "4.4.5") / "lz4libs"
    gflags = ("-Wall -Wextra -Wconversion -Wsign-conversion -Wshadow -Wcast-qual -Wpedantic -Wpadded -Wswitch-enum "
              "-Wundef -Wunused-macros -Wmissing-declarations -Wcast-align=strict -Wdouble-promotion "
              "-Wstrict-prototypes -Wredundant-decls -Wswitch-default -Wjump-misses-init -Wlogical-op "
              "-Wduplicated-branches -Wformat=2 -Wtraditional-conversion")
    files = "lz4.c lz4hc.c lz4frame.c xxhash.c"
    cmd = f"gcc -fsyntax-only {gflags} {files}"
    text = gcc_like("gcc", gflags, files, lz4)
    text, cut = trim(text)
    diags = [m for m in (_GCC.match(ln) for ln in text.splitlines()) if m and m["sev"] == "warning"]
    flags = Counter(m["flag"] for m in diags)
    common = flags.most_common(1)[0][0]
    others = [m for m in diags if m["flag"] != common]
    def loc(m: re.Match) -> str:  # gcc gives no column for some warnings (-Wunused-macros)
        return f"{m['file']}:{m['line']}" + (f":{m['col']}: " if m["col"] else ": ")
    add("gcc_lz4_not_dominant", "gcc-diagnostics", f"lz4 4.4.5 sdist (PyPI), lz4libs/: {cmd}{cut}",
        f"Apart from the {common} warnings, which warnings does gcc report? List each with its file and line.",
        [loc(m) for m in others], text, args=bash_args(cmd),
        later=("Which warnings are about padding a struct?",
               [loc(m) for m in diags if m["flag"] == "-Wpadded"]))
    redundant = [m for m in diags if m["flag"] in ("-Wredundant-decls", "-Wmissing-declarations")]
    add("gcc_lz4_declarations", "gcc-diagnostics", f"lz4 4.4.5 sdist (PyPI), lz4libs/: {cmd}{cut}",
        "Does gcc complain about any redundant or missing declarations? Where?",
        [loc(m) for m in redundant], text, args=bash_args(cmd))

    cflags = "-Weverything"
    ccmd = f"clang -fsyntax-only {cflags} {files}"
    ctext, ccut = trim(gcc_like("clang", cflags, files, lz4))
    cd = [m for m in (_GCC.match(ln) for ln in ctext.splitlines()) if m and m["sev"] == "warning"]
    cflag = Counter(m["flag"] for m in cd)
    rare = [m for m in cd if cflag[m["flag"]] <= 2]
    add("clang_lz4_rare", "clang-diagnostics", f"lz4 4.4.5 sdist (PyPI), lz4libs/: {ccmd}{ccut}",
        "Which clang warnings occur at most twice in this build? Give each location and flag.",
        [loc(m) for m in rare] + sorted({m["flag"] for m in rare}), ctext, args=bash_args(ccmd))
    fall = [m for m in cd if m["flag"] == "-Wimplicit-fallthrough"]
    add("clang_lz4_fallthrough", "clang-diagnostics", f"lz4 4.4.5 sdist (PyPI), lz4libs/: {ccmd}{ccut}",
        "Where does clang see an unannotated fall-through between switch labels (-Wimplicit-fallthrough)?",
        [loc(m) for m in fall], ctext, args=bash_args(ccmd),
        later=("And which macros are reported as not used?",
               [loc(m) for m in cd if m["flag"] == "-Wunused-macros"]))


def diagnostics_rust() -> None:
    src = next(E.cargo.glob("semver-*")) / "src" / "lib.rs"
    lints = ("-W missing-docs -W unreachable-pub -W trivial-casts -W unused-qualifications -W elided-lifetimes-in-paths "
             "-W missing-debug-implementations -W unused-results -W single-use-lifetimes -W unsafe-code")
    out = E.work / "rust"
    out.mkdir(exist_ok=True)
    cmd = f"rustc --edition 2018 --crate-type lib --crate-name semver {lints} --emit metadata {src}"
    text = run(f"{cmd} -o {out}/semver.rmeta", cwd=out)
    text, cut = trim(text)
    blocks = re.findall(r"^warning: (.+)\n\s*--> (\S+)", text, re.M)
    casts = [where.rsplit("/", 1)[-1] for msg, where in blocks if msg.startswith("trivial cast")]
    add("rustc_semver_casts", "rustc-diagnostics", f"Debian librust-semver-dev ({src.parent.parent.name}): {cmd}{cut}",
        "Which trivial casts does rustc warn about? Give the file and line of each.", casts, text,
        args=bash_args(cmd),
        later=("Besides the unsafe-code and missing-docs warnings, what other kinds of warning are there?",
               sorted({re.sub(r" of type `.*", " of type", m) for m, _ in blocks
                       if "unsafe" not in m and not m.startswith("missing documentation")})))
    unused = [where.rsplit("/", 1)[-1] for msg, where in blocks if msg.startswith("unused result")]
    add("rustc_semver_unused", "rustc-diagnostics", f"Debian librust-semver-dev ({src.parent.parent.name}): {cmd}{cut}",
        "Where are results left unused (unused_results)? I want to fix those call sites.", unused, text,
        args=bash_args(cmd))


def diagnostics_ts() -> None:
    js = E.work / "js"
    shutil.rmtree(js, ignore_errors=True)
    js.mkdir(parents=True)
    shutil.copytree(E.npm / "node_modules" / "nock" / "lib", js / "nock")
    tsc = E.npm / "node_modules" / ".bin" / "tsc"
    ver = run(f"{tsc} --version").strip()
    cmd = "tsc --noEmit --allowJs --checkJs --strict --target es2020 --module commonjs nock/*.js"
    text, cut = trim(run(f"{tsc} {cmd[4:]}", cwd=js))
    rx = re.compile(r"^(\S+)\((\d+),(\d+)\): error (TS\d+): (.*)$", re.M)
    errs = rx.findall(text)
    codes = Counter(e[3] for e in errs)
    once = [f"{f}({ln},{c}): error {code}" for f, ln, c, code, _ in errs if codes[code] == 1]
    add("tsc_nock_rare_codes", "tsc-diagnostics", f"nock (npm, a dependency of @octokit/fixtures) lib/, {ver}: {cmd}{cut}",
        "Which TypeScript error codes appear only once? Show each error line.", once, text, args=bash_args(cmd),
        later=("Where are the TS2554 errors (wrong number of arguments)?",
               [f"{f}({ln},{c}): error {code}" for f, ln, c, code, _ in errs if code == "TS2554"]))
    per_file = Counter(e[0] for e in errs)
    top, n = per_file.most_common(1)[0]
    assigns = [f"{f}({ln},{c})" for f, ln, c, code, _ in errs if code == "TS2322"]
    add("tsc_nock_worst_file", "tsc-diagnostics", f"nock (npm) lib/, {ver}: {cmd}{cut}",
        "Which file has the most errors, and where are the TS2322 type-assignment errors?",
        [top] + assigns, text, args=bash_args(cmd))

    eslint = E.npm / "node_modules" / ".bin" / "eslint"
    scan = E.npm / "scan"
    shutil.rmtree(scan, ignore_errors=True)
    scan.mkdir()
    shutil.copytree(E.npm / "node_modules" / "nock" / "lib", scan / "nock")
    shutil.copytree(E.npm / "node_modules" / "ajv" / "lib", scan / "ajv")
    (E.npm / "eslint.config.js").write_text(ESLINT_CONFIG)
    ecmd = "eslint scan"
    etext, ecut = trim(run(f"{eslint} scan", cwd=E.npm))
    cur = ""
    problems = []
    for ln in etext.splitlines():
        if ln.startswith("/"):
            cur = ln
        elif (m := re.match(r"^\s+(\d+):(\d+)\s+(error|warning)\s+(.*?)\s{2,}(\S+)$", ln)):
            problems.append((cur, m[1], m[2], m[3], m[4], m[5], ln))
    rules = Counter(p[5] for p in problems)
    rare = [p[6].strip() for p in problems if rules[p[5]] <= 2]
    rare += sorted({p[0] for p in problems if rules[p[5]] <= 2})  # which file each is in
    esrc = (f"eslint {run(f'{eslint} --version').strip()} over the lib/ of npm's nock and ajv with eslint:recommended "
            "plus style rules (ESLINT_CONFIG in scripts/make_realworld.py)")
    add("eslint_rare_rules", "eslint-diagnostics", esrc + f": {ecmd}{ecut}",
        "Which problems come from rules that fire at most twice? List each one.", rare, etext,
        args=bash_args(ecmd))
    complex_fns = [(int(re.search(r"complexity of (\d+)", p[4])[1]), p) for p in problems if p[5] == "complexity"]
    worst = max(complex_fns)[0]
    add("eslint_most_complex", "eslint-diagnostics", esrc + f": {ecmd}{ecut}",
        "Which function is the most complex according to eslint, and in which file?",
        [p[6].strip() for c, p in complex_fns if c == worst] + sorted({p[0] for c, p in complex_fns if c == worst}),
        etext, args=bash_args(ecmd),
        later=("Which functions have a complexity of at least 20?",
               [p[6].strip() for c, p in complex_fns if c >= 20]))


ESLINT_CONFIG = """const js = require("@eslint/js");
module.exports = [
  js.configs.recommended,
  {
    languageOptions: { sourceType: "commonjs", ecmaVersion: 2022,
      globals: { require: "readonly", module: "writable", process: "readonly", Buffer: "readonly",
                 console: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setImmediate: "readonly",
                 __dirname: "readonly", URL: "readonly", exports: "writable" } },
    rules: { "no-var": "error", "prefer-const": "warn", "eqeqeq": "warn", "no-shadow": "warn",
             "complexity": ["warn", 10], "max-depth": ["warn", 4], "no-param-reassign": "warn", "curly": "warn" },
  },
];
"""


def diagnostics_py() -> None:
    py = E.work / "py"
    shutil.rmtree(py, ignore_errors=True)
    py.mkdir(parents=True)
    shutil.copytree(E.site / "dateutil", py / "dateutil", ignore=shutil.ignore_patterns("__pycache__"))
    mypy = E.tools / "bin" / "mypy"
    cmd = "mypy --strict --no-incremental dateutil"
    text, cut = trim(run(f"{mypy} --strict --no-incremental --cache-dir=/dev/null dateutil", cwd=py))
    rx = re.compile(r"^(\S+?):(\d+): (error|note): (.*?)(?:  \[([a-z-]+)\])?$", re.M)
    errs = [m for m in rx.finditer(text) if m[3] == "error"]
    codes = Counter(m[5] for m in errs)
    rare = [m[0] for m in errs if codes[m[5]] <= 3]
    add("mypy_dateutil_rare", "mypy-diagnostics", f"python-dateutil as installed from PyPI: {cmd}{cut}",
        "Ignoring the missing annotations, which mypy errors have a code that appears at most 3 times?",
        rare, text, args=bash_args(cmd))
    parser = [m[0] for m in errs if m[1].endswith("parser/_parser.py") and m[5] == "attr-defined"]
    add("mypy_dateutil_parser_attr", "mypy-diagnostics", f"python-dateutil from PyPI: {cmd}{cut}",
        "What attr-defined errors does mypy report in dateutil/parser/_parser.py?", parser, text,
        args=bash_args(cmd),
        later=("Which errors does mypy report in dateutil/easter.py?",
               [m[0] for m in errs if m[1] == "dateutil/easter.py"]))

    ruff = E.tools / "bin" / "ruff"
    rcmd = "ruff check --no-cache --select ALL --output-format concise dateutil/parser dateutil/tz"
    rtext, rcut = trim(run(f"{ruff} {rcmd[5:]}", cwd=py))
    rrx = re.compile(r"^(\S+?):(\d+):(\d+): ([A-Z]+\d+) (.*)$", re.M)
    items = rrx.findall(rtext)
    rules = Counter(i[3] for i in items)
    security = [f"{f}:{a}:{b}: {code}" for f, a, b, code, _ in items if re.fullmatch(r"S\d+", code)]
    add("ruff_dateutil_security", "ruff-diagnostics", f"python-dateutil from PyPI, ruff {run(f'{ruff} --version').split()[-1]}: {rcmd}{rcut}",
        "Are there any security findings (flake8-bandit, the S rules)? List them.", security, rtext,
        args=bash_args(rcmd))
    once = [f"{f}:{a}:{b}: {code}" for f, a, b, code, _ in items if rules[code] == 1]
    busiest = Counter((f, a) for f, a, _, _, _ in items).most_common(1)[0][0]  # the line with most findings
    add("ruff_dateutil_singletons", "ruff-diagnostics", f"python-dateutil from PyPI: {rcmd}{rcut}",
        "Which ruff rules are violated exactly once? Give each location.", once, rtext, args=bash_args(rcmd),
        later=(f"What does ruff report at line {busiest[1]} of {busiest[0]}?",
               [f"{f}:{a}:{b}: {code} {msg}" for f, a, b, code, msg in items if (f, a) == busiest]))

    tab = sdist("tabulate", "0.9.0")
    fcmd = "ruff check --no-cache --select E,F,W,B,UP --output-format full tabulate"
    ftext, fcut = trim(run(f"{ruff} {fcmd[5:]}", cwd=tab))
    heads = re.findall(r"^([A-Z]+\d+) (.*)\n\s+--> (\S+)", ftext, re.M)
    fcodes = Counter(h[0] for h in heads)
    fr = [f"{where}" for code, msg, where in heads if fcodes[code] <= 2]
    add("ruff_tabulate_full_rare", "ruff-diagnostics", f"tabulate 0.9.0 sdist (PyPI): {fcmd}{fcut}",
        "Which findings are of a rule seen at most twice? Give the rule and location.",
        fr + sorted({code for code, _, _ in heads if fcodes[code] <= 2}), ftext, args=bash_args(fcmd))


# ---- tables: CSV, TSV, command tables ---------------------------------------------------------------

def vega(name: str) -> Path:
    return E.site / "vega_datasets" / "_data" / name


def tables() -> None:
    p = vega("seattle-weather.csv")
    text = p.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    src = f"vega_datasets (PyPI) {p.relative_to(E.site)}, read whole"
    wettest = max(rows, key=lambda r: float(r["precipitation"]))
    line_of = {r["date"]: next(ln for ln in text.splitlines() if ln.startswith(r["date"] + ",")) for r in rows}
    add("csv_seattle_wettest", "csv-dated", src, "Which day had the most precipitation, and how much?",
        [line_of[wettest["date"]]], text, tool_name="read_file", args={"path": str(p)},
        later=("Which days in 2015 had a maximum temperature of at least 35 degrees?",
               [line_of[r["date"]] for r in rows if r["date"].startswith("2015") and float(r["temp_max"]) >= 35]))
    snow_year = max(r["date"][:4] for r in rows if r["weather"] == "snow")  # the most recent year with snow
    snow = [r for r in rows if r["weather"] == "snow" and r["date"].startswith(snow_year)]
    add("csv_seattle_snow_latest_year", "csv-dated", src, f"List every snow day in {snow_year}.",
        [line_of[r["date"]] for r in snow], text, tool_name="read_file", args={"path": str(p)})
    cold = top(rows, lambda r: -float(r["temp_min"]), 3)
    add("csv_seattle_coldest", "csv-dated", src, "What were the 3 coldest nights (lowest temp_min)?",
        [line_of[r["date"]] for r in cold], text, tool_name="read_file", args={"path": str(p)})

    p = vega("iowa-electricity.csv")
    text = p.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    lines = text.splitlines()
    ren = [r for r in rows if r["source"] == "Renewables"]
    best = max(ren, key=lambda r: float(r["net_generation"]))
    add("csv_iowa_renewables_peak", "csv-dated", f"vega_datasets (PyPI) {p.relative_to(E.site)}, read whole",
        "In which year did renewables generate the most electricity in Iowa?",
        [f"{best['year']},Renewables,{best['net_generation']}"], text, tool_name="read_file", args={"path": str(p)})
    assert all(f"{r['year']},{r['source']},{r['net_generation']}" in lines for r in rows)

    p = vega("airports.csv")
    text, cut = trim(p.read_text())
    rows = list(csv.DictReader(io.StringIO(text)))
    lines = text.splitlines()
    north = max(rows, key=lambda r: float(r["latitude"]))
    nline = next(ln for ln in lines if ln.startswith(north["iata"] + ","))
    add("csv_airports_northmost", "csv", f"vega_datasets (PyPI) {p.relative_to(E.site)}{cut}",
        "Which airport is the furthest north?", [nline], text, tool_name="read_file", args={"path": str(p)},
        later=("Which airports in Alaska lie north of latitude 70?",
               [ln for ln, r in zip(lines[1:], rows) if r["state"] == "AK" and float(r["latitude"]) > 70]))
    per_state = Counter(r["state"] for r in rows)
    rare_state = min((n, st) for st, n in per_state.items() if n >= 3 and len(st) == 2 and st != "NA")[1]
    in_state = [ln for ln, r in zip(lines[1:], rows) if r["state"] == rare_state]
    add("csv_airports_rare_state", "csv", f"vega_datasets (PyPI) {p.relative_to(E.site)}{cut}",
        f"Which airports are in state {rare_state}?", in_state, text, tool_name="read_file", args={"path": str(p)})

    p = vega("stocks.csv")
    text = p.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    lines = text.splitlines()
    amzn = [r for r in rows if r["symbol"] == "AMZN"]
    hi = max(amzn, key=lambda r: float(r["price"]))
    add("csv_stocks_amzn_high", "csv", f"vega_datasets (PyPI) {p.relative_to(E.site)}, read whole",
        "When did AMZN close at its highest price in this data, and at what price?",
        [f"AMZN,{hi['date']},{hi['price']}"], text, tool_name="read_file", args={"path": str(p)})
    over = [f"{r['symbol']},{r['date']},{r['price']}" for r in rows if r["symbol"] == "IBM" and float(r["price"]) > 120]
    add("csv_stocks_ibm_over", "csv", f"vega_datasets (PyPI) {p.relative_to(E.site)}, read whole",
        "List every month IBM traded above 120.", over, text, tool_name="read_file", args={"path": str(p)})

    p = vega("us-employment.csv")
    text = p.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    lines = text.splitlines()
    worst = min(rows[1:], key=lambda r: float(r["nonfarm_change"]))
    wline = next(ln for ln in lines if ln.startswith(worst["month"] + ","))
    add("csv_employment_worst_month", "csv-dated", f"vega_datasets (PyPI) {p.relative_to(E.site)}, read whole",
        "Which month had the biggest drop in nonfarm employment (nonfarm_change)?", [wline], text,
        tool_name="read_file", args={"path": str(p)})

    for tab in ("zone1970.tab", "iso3166.tab"):
        assert Path("/usr/share/zoneinfo", tab).exists()
    zt = Path("/usr/share/zoneinfo/zone1970.tab").read_text()
    zl = zt.splitlines()
    au = [ln for ln in zl if not ln.startswith("#") and "AU" in ln.split("\t")[0].split(",")]
    add("tsv_zone1970_australia", "tsv", "Debian tzdata: /usr/share/zoneinfo/zone1970.tab, read whole",
        "Which time zones are listed for Australia (AU)?", [ln.split("\t")[2] for ln in au], zt, tool_name="read_file",
        args={"path": "/usr/share/zoneinfo/zone1970.tab"},
        later=("Which zones are shared by more than 5 countries?",
               [ln.split("\t")[2] for ln in zl if not ln.startswith("#") and ln.count(",") >= 5
                and len(ln.split("\t")[0].split(",")) > 5]))
    au_other = [ln.split("\t")[2] for ln in au if not ln.split("\t")[2].startswith("Australia/")]
    add("tsv_zone1970_au_not_australia", "tsv", "Debian tzdata: /usr/share/zoneinfo/zone1970.tab, read whole",
        "Which zones used in Australia (AU) are not named Australia/...?", au_other, zt, tool_name="read_file",
        args={"path": "/usr/share/zoneinfo/zone1970.tab"})
    commented = [ln.split("\t")[2] for ln in zl if not ln.startswith("#") and len(ln.split("\t")) > 3
                 and "Antarctica/" in ln.split("\t")[2]]
    add("tsv_zone1970_antarctica", "tsv", "Debian tzdata: /usr/share/zoneinfo/zone1970.tab, read whole",
        "Which zones are in the Antarctica/ area?", commented, zt, tool_name="read_file",
        args={"path": "/usr/share/zoneinfo/zone1970.tab"})

    ps_cmd = "ps -eo pid,ppid,user,stat,rss,vsz,etimes,comm --sort=pid"
    ps = run(ps_cmd)
    prow = [ln.split(None, 7) for ln in ps.splitlines()[1:] if ln.strip()]
    big = top(prow, lambda r: int(r[4]), 3)
    add("ps_top_rss", "ps-table", f"this machine, during the build: {ps_cmd}",
        "Which 3 processes use the most memory (RSS)? Give their PIDs.",
        [next(ln for ln in ps.splitlines() if ln.split(None, 1)[0] == r[0]) for r in big], ps, args=bash_args(ps_cmd))

    awake = [ln for ln in ps.splitlines()[1:] if ln.split()[3][0] not in "SI"]
    add("ps_not_sleeping", "ps-table", f"this machine, during the build: {ps_cmd}",
        "Which processes are not sleeping (STAT other than S or I)?", awake, ps, args=bash_args(ps_cmd),
        later=("Which processes are direct children of PID 1 (PPID 1)?",
               [ln for ln in ps.splitlines()[1:] if ln.split()[1] == "1"]))

    sc_cmd = "python -m sysconfig"
    sc = run([sys.executable, "-m", "sysconfig"])
    want = ("CC", "CFLAGS", "CONFIG_ARGS")
    add("sysconfig_build_flags", "env-table", f"this machine's Python: {sc_cmd}",
        "Which compiler and CFLAGS was this Python built with, and with which configure arguments?",
        [ln.strip() for ln in sc.splitlines() if ln.strip().split(" = ")[0] in want], sc, args=bash_args(sc_cmd))
    gc = run("getconf -a")
    gl = gc.splitlines()
    add("getconf_limits", "env-table", "this machine: getconf -a",
        "What are the page size and the open-files limit (OPEN_MAX)?",
        [ln for ln in gl if ln.split()[:1] in (["PAGESIZE"], ["OPEN_MAX"])], gc, args=bash_args("getconf -a"),
        later=("Which cache levels have a line size of 64 bytes?",
               [ln for ln in gl if re.match(r"^LEVEL\d_\w+_LINESIZE\s+64$", ln)]))

    dpkg_cmd = "dpkg-query -W -f '${Package}\\t${Version}\\t${Installed-Size}\\t${Priority}\\n'"
    dq = run(dpkg_cmd)
    drow = [ln.split("\t") for ln in dq.splitlines() if ln.count("\t") == 3]
    dq_text, dcut = trim(dq)
    drow = [ln.split("\t") for ln in dq_text.splitlines() if ln.count("\t") == 3]
    largest = top([r for r in drow if r[2].isdigit()], lambda r: int(r[2]), 5)
    add("dpkg_query_largest", "dpkg-table", f"this machine: {dpkg_cmd}{dcut}",
        "What are the 5 largest installed packages by Installed-Size?", ["\t".join(r) for r in largest],
        dq_text, args=bash_args(dpkg_cmd))
    dl = run("dpkg -l '*python*' '*perl*'")
    dl_text, dlcut = trim(dl)
    libpy = [ln.split()[2] for ln in dl_text.splitlines() if ln.startswith("ii  libpython3.11:")]
    perl = [ln for ln in dl_text.splitlines() if ln.startswith("ii  perl")]
    add("dpkg_l_libpython", "dpkg-table", f"this machine: dpkg -l '*python*' '*perl*'{dlcut}",
        "Which version of libpython3.11 is installed?", libpy, dl_text, args=bash_args("dpkg -l '*python*' '*perl*'"),
        later=("Which perl packages are installed?", perl))


# ---- listings: ls -l, ls -laR -----------------------------------------------------------------------

def listings() -> None:
    d = E.site / "pandas" / "_libs"
    cmd = f"ls -l {d}"
    text = run(["ls", "-l", "--time-style=long-iso", str(d)])
    rows = [ln.split(None, 7) for ln in text.splitlines()[1:]]
    files = [r for r in rows if r[0].startswith("-")]
    largest = top(files, lambda r: int(r[4]), 3)
    full = {r[7]: ln for r, ln in zip(rows, text.splitlines()[1:])}
    add("ls_l_pandas_libs_largest", "ls-l", f"pandas (PyPI wheel) installed in the tools venv: ls -l --time-style=long-iso {d}",
        "Which are the 3 largest files in pandas/_libs?", [full[r[7]] for r in largest], text, args=bash_args(cmd),
        later=("Which entries are directories?", [full[r[7]] for r in rows if r[0].startswith("d")]))
    over = [full[r[7]] for r in files if int(r[4]) > 1_000_000]
    add("ls_l_pandas_libs_over_1mb", "ls-l", f"pandas (PyPI wheel): ls -l --time-style=long-iso {d}",
        "Which files are over 1 MB (1,000,000 bytes)?", over, text, args=bash_args(cmd))

    d = E.site / "kubernetes"
    if not d.exists():
        d = E.site / "numpy"
    cmd = f"ls -laR {d.name}"
    text, cut = trim(run(["ls", "-laR", "--time-style=long-iso", d.name], cwd=d.parent))
    cur = ""
    sized: list[tuple[int, str, str]] = []
    for ln in text.splitlines():
        if ln.endswith(":") and not ln.startswith(("-", "d", "l", "total")):
            cur = ln[:-1]
        elif ln.startswith("-"):
            parts = ln.split(None, 7)
            sized.append((int(parts[4]), cur, ln))
    sized.sort(reverse=True)
    add("ls_laR_largest", "ls-laR", f"{d.name} (PyPI wheel) in the tools venv: ls -laR --time-style=long-iso {d.name}{cut}",
        f"What is the largest file under {d.name}/, and in which directory?", [sized[0][2], sized[0][1] + ":"], text,
        args=bash_args(cmd))
    pyc = sorted({cur for _, cur, ln in sized if ln.endswith(".pyc")})
    add("ls_laR_pycache", "ls-laR", f"{d.name} (PyPI wheel): ls -laR --time-style=long-iso {d.name}{cut}",
        "Which directories hold compiled .pyc files?", [p + ":" for p in pyc], text, args=bash_args(cmd),
        later=("Which files in kubernetes/aio/client/api are over 1.5 MB (1,500,000 bytes)?",
               [ln for size, cur, ln in sized if cur == "kubernetes/aio/client/api" and size > 1_500_000]))


# ---- git log ----------------------------------------------------------------------------------------

def git_repo() -> Path:
    """tabulate's released sdists 0.8.7 .. 0.10.0 committed in order, each dated by its newest file."""
    repo = E.work / "git-tabulate"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    run("git init -q -b main .", cwd=repo, ok=(0,))
    for v in ("0.8.7", "0.8.8", "0.8.9", "0.8.10", "0.9.0", "0.10.0"):
        src = sdist("tabulate", v)
        for p in repo.iterdir():
            if p.name != ".git":
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        newest = 0.0
        for p in src.rglob("*"):
            if p.is_file() and "egg-info" not in str(p):
                dest = repo / p.relative_to(src)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, dest)
                newest = max(newest, p.stat().st_mtime)
        info = (src / "PKG-INFO").read_text()
        author = re.search(r"^Author: (.*)$", info, re.M)
        email = re.search(r"^Author-email: (.*)$", info, re.M)
        name = author[1] if author else "Sergey Astanin"
        mail = email[1] if email else "s.astanin@gmail.com"
        if "<" in mail:
            name, mail = mail.split("<")[0].strip() or name, mail.split("<")[1].rstrip(">")
        date = f"@{int(newest)} +0000"
        run("git add -A", cwd=repo, ok=(0,))
        run(["git", "commit", "-q", "-m", f"tabulate {v}", "--author", f"{name} <{mail}>"], cwd=repo, ok=(0,),
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_COMMITTER_NAME": name,
                 "GIT_COMMITTER_EMAIL": mail})
    return repo


def gitlog() -> None:
    repo = git_repo()
    src = "a git repository made of tabulate's sdists 0.8.7 .. 0.10.0 (PyPI) committed in order"
    cmd = "git log --stat"
    text = run(cmd, cwd=repo)
    commits = re.split(r"(?m)^(?=commit [0-9a-f]{40})", text)
    stats = []
    for c in commits:
        if not c.strip():
            continue
        title = re.search(r"^    (tabulate .*)$", c, re.M)[1]
        summary = re.search(r"^ (\d+) files? changed.*$", c, re.M)
        stats.append((int(summary[1]), title, summary[0]))
    biggest = max(stats)
    add("git_log_stat_biggest", "git-log-stat", f"{src}: {cmd}", "Which release changed the most files, and how much?",
        [biggest[1], biggest[2]], text, args=bash_args(cmd),
        later=("Which releases touched README.md?",
               [re.search(r"^    (tabulate .*)$", c, re.M)[1] for c in commits if " README.md " in c]))
    cmd = "git log -p -- tabulate.py tabulate/__init__.py"
    ptext, cut = trim(run(cmd, cwd=repo), max_lines=3000)
    added_defs = re.findall(r"^\+def (\w+)\(", ptext, re.M)
    removed_defs = set(re.findall(r"^-def (\w+)\(", ptext, re.M))
    new_fns = [f"+def {f}(" for f in added_defs if f not in removed_defs]
    chunks = re.split(r"(?m)^(?=commit [0-9a-f]{40})", ptext)
    release_of = {f: re.search(r"^    (tabulate .*)$", ch, re.M)[1] for ch in chunks if ch.strip()
                  for f in re.findall(r"^\+def (\w+)\(", ch, re.M)}
    add("git_log_p_new_functions", "git-log-p", f"{src}: {cmd}{cut}",
        "Which new top-level functions were added to tabulate over these releases?", new_fns, ptext,
        args=bash_args(cmd),
        later=("In which release was _strip_ansi added?", ["+def _strip_ansi(", release_of["_strip_ansi"]]))
    gone = [f"-def {f}(" for f in dict.fromkeys(re.findall(r"^-def (\w+)\(", ptext, re.M)) if f not in added_defs]
    add("git_log_p_removed_functions", "git-log-p", f"{src}: {cmd}{cut}",
        "Were any top-level functions removed (deleted and not added back)?", gone, ptext, args=bash_args(cmd))


# ---- package managers -------------------------------------------------------------------------------

def package_managers() -> None:
    venv = E.work / "pipdemo"
    shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(venv)], ok=(0,))
    pip = venv / "bin" / "pip"
    cmd = "pip install requests==2.31.0 rich tabulate==0.8.10 'urllib3<2'"
    text = run(f"{pip} install --no-cache-dir --progress-bar off requests==2.31.0 rich tabulate==0.8.10 'urllib3<2'")
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("WARNING: Location 'file:")) + "\n"
    done = next(ln for ln in text.splitlines() if ln.startswith("Successfully installed"))
    urllib = re.search(r"urllib3-[\d.]+", done)[0]
    venv_src = f"a fresh venv here, after `{cmd}`"
    add("pip_install_urllib3", "pip-output", f"a fresh venv here: {cmd}",
        "Which urllib3 version ended up installed?", [urllib], text, args=bash_args(cmd),
        later=("Which packages were installed in all?", done.split()[2:]))
    lcmd = "pip list"
    lst = run(f"{E.tools / 'bin' / 'pip'} list")
    lst = "\n".join(ln for ln in lst.splitlines() if not ln.startswith(("WARNING", "[notice]"))) + "\n"
    add("pip_list_versions", "pip-output", f"the tools venv of this script: {lcmd}",
        "Which versions of numpy, pandas and mypy are installed?",
        [ln for ln in lst.splitlines() if ln.split()[:1] in (["numpy"], ["pandas"], ["mypy"])], lst,
        args=bash_args(lcmd))
    ocmd = "pip list --outdated"
    out = run(f"{pip} list --outdated")
    out = "\n".join(ln for ln in out.splitlines() if not ln.startswith(("WARNING", "[notice]"))) + "\n"
    rows = [ln for ln in out.splitlines()[2:] if ln.strip()]
    if rows:
        add("pip_outdated", "pip-output", f"{venv_src}: {ocmd}",
            "Which packages are outdated, and what are the latest versions?", rows, out, args=bash_args(ocmd))
    scmd = "pip show -f rich"
    show = run(f"{pip} show -f rich")
    reqs = next(ln for ln in show.splitlines() if ln.startswith("Requires:"))
    add("pip_show_rich", "pip-output", f"{venv_src}: {scmd}",
        "What does rich depend on, and where is its console module?",
        [reqs, next(ln for ln in show.splitlines() if ln.strip().endswith("rich/console.py"))], show,
        args=bash_args(scmd))
    icmd = "pip inspect"
    insp = run(f"{pip} inspect")
    insp = insp[insp.index("{"):]
    doc = json.loads(insp)
    req = next(i for i in doc["installed"] if i["metadata"]["name"] == "requests")
    add("pip_inspect_requests", "api-json", f"{venv_src}: {icmd}",
        "Which Python versions does the installed requests declare it needs, and what license?",
        [json_snippet(insp, json.dumps({"requires_python": req["metadata"]["requires_python"]},
                                       separators=(",", ":"))[1:-1])]
        + [json.dumps(req["metadata"][k])[1:-1] for k in ("license", "license_expression") if req["metadata"].get(k)],
        insp, args=bash_args(icmd))

    npm_dir = E.work / "npmdemo"
    shutil.rmtree(npm_dir, ignore_errors=True)
    npm_dir.mkdir(parents=True)
    run("npm init -y", cwd=npm_dir, ok=(0,))
    ncmd = "npm install typescript@4.9.5 eslint@8.57.0 lodash@4.17.20"
    ntext = run(f"{ncmd} --no-fund --no-audit", cwd=npm_dir)
    ltext = run("npm ls --all", cwd=npm_dir)
    ajv = [ln for ln in ltext.splitlines() if "ajv@" in ln]
    add("npm_ls_ajv", "npm-output", f"a fresh npm project here after `{ncmd}`: npm ls --all",
        "Which version of ajv is installed, and which packages pull it in?", ajv, ltext, args=bash_args("npm ls --all"),
        later=("Which versions of eslint-scope are in the tree?",
               sorted({m for m in re.findall(r"eslint-scope@[\w.-]+", ltext)})))
    del ntext  # the install's own output is not a workload: it names no fact the tree does not
    otext = run("npm outdated", cwd=npm_dir)
    orows = [ln for ln in otext.splitlines()[1:] if ln.strip()]
    if orows:
        add("npm_outdated", "npm-output", f"a fresh npm project here after `{ncmd}`: npm outdated",
            "Which packages have a newer major version available?",
            [r for r in orows if r.split()[1].split(".")[0] != r.split()[3].split(".")[0]], otext,
            args=bash_args("npm outdated"))
    vcmd = "npm view typescript --json"
    vj = run(vcmd)
    v = json.loads(vj)
    add("npm_view_typescript", "api-json", f"the npm registry, here: {vcmd}",
        "What is the latest typescript version, and what are its dist-tags?",
        [f'"{k}": "{t}"' for k, t in v["dist-tags"].items()], vj,
        args=bash_args(vcmd))


# ---- structured documents: YAML, Kubernetes JSON, XML, HTML, OpenAPI, JSON Schema --------------------

def k8s_testdata() -> Path:
    return E.gocode / "sigs.k8s.io" / "structured-merge-diff" / "internal" / "testdata"


def structured() -> None:
    import yaml  # the tools venv has pyyaml (a dependency of vega_datasets' pandas stack is not needed)

    td = k8s_testdata()
    names = ["k8s-deployment.yaml", "pod.yaml", "node.yaml"]
    cmd = "for f in k8s-deployment.yaml pod.yaml node.yaml; do echo ---; cat $f; done"
    text = run(cmd, cwd=td)
    docs = list(yaml.safe_load_all(text))
    node = next(d for d in docs if d and d.get("kind") == "Node")
    true_conds = [c for c in node["status"]["conditions"] if c["status"] == "True"]
    add("yaml_k8s_multi_true_conditions", "yaml-k8s",
        f"Debian golang-k8s-sigs-structured-merge-diff-dev testdata ({', '.join(names)}): {cmd}",
        "Which of the node's conditions are True?", [f"type: {c['type']}" for c in true_conds]
        + [f"reason: {c['reason']}" for c in true_conds], text, args=bash_args(cmd),
        later=("What image does the deployment run?",
               [f"image: {c['image']}" for d in docs if d and d.get("kind") == "Deployment"
                for c in d["spec"]["template"]["spec"]["containers"]]))
    pod = next(d for d in docs if d and d.get("kind") == "Pod")
    add("yaml_k8s_multi_pod_phase", "yaml-k8s", f"Debian golang-k8s-sigs-structured-merge-diff-dev testdata ({', '.join(names)}): {cmd}",
        "What phase is the pod in, and what is its pod IP?",
        [f"phase: {pod['status']['phase']}", f"podIP: {pod['status']['podIP']}"], text, args=bash_args(cmd))

    crd = (td / "prometheus-crd.yaml").read_text()
    ctext, ccut = trim(crd)
    cl = ctext.splitlines()
    at = next(i for i, ln in enumerate(cl) if ln == "            configMaps:")
    desc = []
    for ln in cl[at + 1:]:
        if ln.strip().startswith(("type:", "items:")):
            break
        desc.append(ln.strip())
    add("yaml_crd_configmaps", "yaml-k8s", f"Debian golang-k8s-sigs-structured-merge-diff-dev testdata/prometheus-crd.yaml{ccut}",
        "What is the configMaps field of a Prometheus spec for, and where are they mounted?", desc, ctext,
        tool_name="read_file", args={"path": str(td / "prometheus-crd.yaml")})

    ndoc = yaml.safe_load((td / "node.yaml").read_text())
    ntext = json.dumps(ndoc, indent=4) + "\n"
    true_c = [c for c in ndoc["status"]["conditions"] if c["status"] == "True"]
    add("k8s_node_status_json", "k8s-status-json",
        "Debian golang-k8s-sigs-structured-merge-diff-dev testdata/node.yaml printed as JSON "
        "(json.dumps(indent=4), the shape of kubectl get node -o json)",
        "Is the node healthy? Which conditions are not in their normal state?",
        [c["reason"] for c in true_c] + [c["message"] for c in true_c], ntext, args=bash_args("kubectl get node -o json"),
        later=("What are the node's allocatable cpu and memory?",
               [ndoc["status"]["allocatable"]["cpu"], ndoc["status"]["allocatable"]["memory"]]))
    imgs = sorted(ndoc["status"].get("images", []), key=lambda i: -i.get("sizeBytes", 0))
    if imgs:
        add("k8s_node_largest_image", "k8s-status-json", "Debian golang-k8s-sigs-structured-merge-diff-dev testdata/node.yaml printed as JSON "
            "(json.dumps(indent=4), the shape of kubectl get node -o json)",
            "Which container image on the node is the largest?", [imgs[0]["names"][0], str(imgs[0]["sizeBytes"])],
            ntext, args=bash_args("kubectl get node -o json"))
    pdoc = yaml.safe_load((td / "pod.yaml").read_text())
    cs = pdoc["status"].get("containerStatuses", [])
    ptext = json.dumps(pdoc, indent=4) + "\n"
    term = [c["lastState"]["terminated"] for c in cs if c.get("lastState", {}).get("terminated")]
    add("k8s_pod_status_json", "k8s-status-json",
        "Debian golang-k8s-sigs-structured-merge-diff-dev testdata/pod.yaml printed as JSON (json.dumps(indent=4))",
        "Did a container of this pod terminate with an error before? Which container run, and when did it end?",
        [t["containerID"] for t in term] + [t["finishedAt"] for t in term], ptext,
        args=bash_args("kubectl get pod -o json"))

    # JUnit XML and pytest output: tabulate 0.10.0's own tests run against tabulate 0.9.0.
    tv = E.work / "testvenv"
    if not (tv / "bin" / "pytest").exists():
        run([sys.executable, "-m", "venv", str(tv)], ok=(0,))
        run(f"{tv / 'bin' / 'pip'} install -q pytest tabulate==0.9.0 wcwidth", ok=(0,))
    tests = E.work / "tabtests"
    shutil.rmtree(tests, ignore_errors=True)
    shutil.copytree(sdist("tabulate", "0.10.0") / "test", tests)
    junit = E.work / "junit.xml"
    pcmd = "python -m pytest -p no:cacheprovider tabtests -q --tb=short -rfE --junitxml=junit.xml"
    ptext = run(f"{tv / 'bin' / 'python'} -m pytest -p no:cacheprovider tabtests -q --tb=short -rfE --junitxml={junit}",
                cwd=E.work)
    xml = junit.read_text()
    root = ET.fromstring(xml)
    failed = [(tc.get("classname"), tc.get("name"), tc) for tc in root.iter("testcase") if tc.find("failure") is not None]
    src = "tabulate 0.10.0's own test suite (sdist, PyPI) run against tabulate 0.9.0 in a scratch venv"
    suite_el = root.find("testsuite") if root.tag == "testsuites" else root
    regress = [n for c, n, _ in failed if c.endswith("test_regression")]
    add("junit_failed_regression", "junit-xml", f"{src}: {pcmd} (the report file)",
        "Which tests in test_regression failed?", [f'name="{n}"' for n in regress], xml, tool_name="read_file",
        args={"path": "junit.xml"},
        later=("How many tests failed, errored and were skipped in all?",
               [f'{a}="{suite_el.get(a)}"' for a in ("failures", "errors", "skipped")]))
    not_assert = [n for c, n, tc in failed if c.endswith("test_output")
                  and not (tc.find("failure").get("message") or "").startswith("AssertionError")]
    add("junit_output_not_assertions", "junit-xml", f"{src}: {pcmd} (the report file)",
        "Which test_output tests failed with something other than an AssertionError?",
        [f'name="{n}"' for n in not_assert], xml, tool_name="read_file", args={"path": "junit.xml"})
    slow = top(list(root.iter("testcase")), lambda t: float(t.get("time", 0)), 3)
    add("junit_slowest", "junit-xml", f"{src}: {pcmd} (the report file)",
        "Which 3 tests took the longest?", [f'name="{t.get("name")}"' for t in slow], xml, tool_name="read_file",
        args={"path": "junit.xml"})
    type_errors = [n for c, n, tc in failed if (tc.find("failure").get("message") or "").startswith("TypeError")]
    add("junit_type_errors", "junit-xml", f"{src}: {pcmd} (the report file)",
        "Which failures are TypeErrors rather than assertion failures?", [f'name="{n}"' for n in type_errors], xml,
        tool_name="read_file", args={"path": "junit.xml"})
    ptext_t, pcut = trim(ptext)
    summary = [ln for ln in ptext_t.splitlines() if re.match(r"^\d+ failed", ln)]
    fails = [ln for ln in ptext_t.splitlines() if ln.startswith("FAILED tabtests/test_textwrapper.py")]
    add("pytest_textwrapper_failures", "pytest-output", f"{src}: {pcmd}{pcut}",
        "Which tests in test_textwrapper.py fail, and what is the overall result?", fails + summary, ptext_t,
        args=bash_args(pcmd))
    value_errors = [f"FAILED tabtests/{c.split('.')[-1]}.py::{n}" for c, n, tc in failed
                    if (tc.find("failure").get("message") or "").startswith("ValueError")]
    add("pytest_value_errors", "pytest-output", f"{src}: {pcmd}{pcut}",
        "Which failing tests raise ValueError?", value_errors, ptext_t, args=bash_args(pcmd),
        later=("Which tests failed in test_api.py?",
               [f"FAILED tabtests/test_api.py::{n}" for c, n, _ in failed if c.endswith("test_api")]))

    # HTML documentation: pydoc -w, and HTML shipped with a package's docs.
    hd = E.work / "html"
    hd.mkdir(exist_ok=True)
    run(f"{sys.executable} -m pydoc -w tarfile", cwd=hd, ok=(0,))
    html = (hd / "tarfile.html").read_text(encoding="utf-8", errors="replace")
    html_t, hcut = trim(html)
    add("html_pydoc_tarfile_extractall", "html-docs", f"this Python's stdlib: python -m pydoc -w tarfile{hcut}",
        "What are the parameters of TarFile.extractall?", [m for m in re.findall(r"extractall</strong></a>(\([^<]*\))", html_t)][:1],
        html_t, tool_name="read_file", args={"path": "tarfile.html"},
        later=("Which exception classes does the tarfile module define?",
               sorted(set(re.findall(r'name="(\w*Error)"', html_t)))))
    run(f"{sys.executable} -m pydoc -w json.decoder", cwd=hd, ok=(0,))
    jh = (hd / "json.decoder.html").read_text(encoding="utf-8", errors="replace")
    add("html_pydoc_json_decoder", "html-docs", "this Python's stdlib: python -m pydoc -w json.decoder",
        "What does JSONDecodeError carry besides the message (its attributes)?",
        [ln.split("<br>")[0] for ln in jh.splitlines() if re.match(r"^(msg|doc|pos|lineno|colno):&nbsp;", ln)],
        jh, tool_name="read_file", args={"path": "json.decoder.html"})

    zh = Path("/usr/share/doc/zlib1g-dev/examples/zlib_how.html")
    if zh.exists():
        zt = zh.read_text(encoding="latin-1")
        add("html_zlib_how", "html-docs", f"Debian zlib1g-dev: {zh}, read whole",
            "What buffer size does zlib's zpipe example use, and which return codes can deflate() give?",
            [ln for ln in zt.splitlines() if ln.startswith("#define CHUNK")]
            + [ln for ln in zt.splitlines() if ln.startswith("<tt>Z_OK</tt>, ")], zt, tool_name="read_file", args={"path": str(zh)})
    pp = Path("/usr/share/doc/python3/python-policy.html")
    if pp.exists():
        pt = pp.read_text(encoding="utf-8")
        dirs = sorted(set(re.findall(r'<span class="pre">(/usr(?:/local)?/lib/python3/dist-packages)</span>', pt)))
        add("html_debian_python_policy", "html-docs", f"Debian python3-dev: {pp}, read whole",
            "Where do Debian's Python 3 modules go, for packages and for the local administrator?", dirs, pt,
            tool_name="read_file", args={"path": str(pp)})
    osv = E.site / "openapi_spec_validator" / "resources" / "schemas" / "v3.0" / "schema.json"
    st = osv.read_text()
    sd = json.loads(st)
    req = sd["definitions"]["Operation"].get("required", [])
    add("openapi_schema_operation", "json-schema", f"openapi-spec-validator (PyPI) {osv.relative_to(E.site)}, read whole",
        "Which fields are required in an OpenAPI 3.0 Operation object?",
        [json_snippet(st, json.dumps({"required": req}, separators=(",", ":"))[1:-1])], st,
        tool_name="read_file", args={"path": str(osv)},
        later=("What pattern must a Responses object key match?",
               [json.dumps(k)[1:-1] for k in sd["definitions"]["Responses"].get("patternProperties", {})]))
    draft = E.site / "jsonschema_specifications" / "schemas" / "draft7" / "metaschema.json"
    if draft.exists():
        dt = draft.read_text()
        dd = json.loads(dt)
        add("json_schema_draft7_types", "json-schema", f"jsonschema-specifications (PyPI) {draft.relative_to(E.site)}",
            "Which simple types does JSON Schema draft 7 allow?",
            [json_snippet(dt, json.dumps({"enum": dd["definitions"]["simpleTypes"]["enum"]}, separators=(",", ":"))[1:-1])],
            dt, tool_name="read_file", args={"path": str(draft)})
    sw = E.gocode / "k8s.io" / "kube-openapi" / "pkg" / "util" / "proto" / "testdata" / "swagger.json"
    full = json.loads(sw.read_text())
    defs = {k: v for k, v in full["definitions"].items() if k.startswith("io.k8s.api.apps.v1beta1.")}
    sub = {"swagger": full["swagger"], "info": full["info"], "definitions": defs}
    jq = "jq '{swagger, info, definitions: (.definitions | with_entries(select(.key | startswith(\"io.k8s.api.apps.v1beta1.\"))))}'"
    stext = json.dumps(sub, indent=2) + "\n"
    dep = defs["io.k8s.api.apps.v1beta1.DeploymentSpec"]
    add("openapi_k8s_deployment_spec", "openapi",
        f"Debian golang-k8s-kube-openapi-dev pkg/util/proto/testdata/swagger.json (Kubernetes' OpenAPI v2), its apps/v1beta1 "
        f"definitions: {jq} swagger.json",
        "What does progressDeadlineSeconds mean in a DeploymentSpec, and which fields are required?",
        [json.dumps(dep["properties"]["progressDeadlineSeconds"]["description"])[1:-1],
         json_snippet(stext, json.dumps({"required": dep["required"]}, separators=(",", ":"))[1:-1])],
        stext, args=bash_args(f"{jq} swagger.json"),
        later=("What is the default maxUnavailable of a rolling update?",
               [json.dumps(defs["io.k8s.api.apps.v1beta1.RollingUpdateDeployment"]["properties"]["maxUnavailable"]
                           ["description"])[1:-1]]))
    golden = E.gocode / "k8s.io" / "kube-openapi" / "test" / "integration" / "testdata" / "golden.v2.json"
    gt = golden.read_text()
    gd = json.loads(gt)
    union = [p for p in gd["paths"] if p.startswith("/test/uniontype/")]
    add("openapi_golden_union_paths", "openapi", "Debian golang-k8s-kube-openapi-dev test/integration/testdata/golden.v2.json",
        "Which paths are there for union types, and what operation ids do they have?",
        [f'"{p}"' for p in union] + [f'"{gd["paths"][p]["get"]["operationId"]}"' for p in union], gt,
        tool_name="read_file", args={"path": str(golden)})


# ---- logs, API JSON, code, grep, diffs, markdown, tracebacks --------------------------------------------

def system_logs() -> None:
    tail_cmd = "tail -n 1000 /var/log/dpkg.log"
    text = run(tail_cmd)
    lines = text.splitlines()
    installs = [ln for ln in lines if " install " in ln]
    family = Counter(ln.split(" install ")[1].split("-")[0] for ln in installs).most_common(1)[0][0]
    add("dpkg_log_latest_install", "dpkg-log", f"this machine: {tail_cmd}",
        "Which package was installed most recently, and when?", installs[-1:], text, args=bash_args(tail_cmd),
        later=(f"Which {family}-* packages were installed?",
               [ln for ln in installs if ln.split(" install ")[1].startswith(family + "-")]))
    head_cmd = "head -n 1000 /var/log/dpkg.log"
    text = run(head_cmd)
    upg = [ln for ln in text.splitlines() if " upgrade " in ln]
    add("dpkg_log_upgrades", "dpkg-log", f"this machine: {head_cmd}",
        "Were any packages upgraded (not freshly installed)? Which?", upg, text, args=bash_args(head_cmd))
    hist = Path("/var/log/apt/history.log").read_text()
    entries = [e for e in hist.split("\n\n") if e.strip()]
    latest = entries[-1]
    add("apt_history_latest", "apt-history", "this machine's /var/log/apt/history.log",
        "What was the most recent apt command, and when did it start?",
        [ln for ln in latest.splitlines() if ln.startswith(("Start-Date:", "Commandline:"))], hist, tool_name="read_file",
        args={"path": "/var/log/apt/history.log"},
        later=("Which apt runs installed clang, and when?",
               [ln for e in entries if re.search(r"^Install: .*\bclang:", e, re.M)
                for ln in e.splitlines() if ln.startswith(("Start-Date:", "Commandline:"))]))
    alt = Path("/var/log/alternatives.log").read_text()
    add("alternatives_log_cxx", "dpkg-log", "this machine's /var/log/alternatives.log",
        "Which alternatives were set up for clang or c++?",
        [ln for ln in alt.splitlines() if "/usr/bin/c++ " in ln or "link group c++ " in ln or "clang" in ln], alt, tool_name="read_file", args={"path": "/var/log/alternatives.log"})


def api_json() -> None:
    fx = E.npm / "node_modules" / "@octokit" / "fixtures" / "scenarios" / "api.github.com"
    pages = json.loads((fx / "paginate-issues" / "normalized-fixture.json").read_text())
    issues = [i for p in pages for i in p["response"]]
    text = "\n".join(json.dumps(p["response"], indent=2) for p in pages) + "\n"
    cmd = "gh api --paginate repos/octokit-fixture-org/paginate-issues/issues?per_page=3"
    seven = next(i for i in issues if i["number"] == 7)
    add("github_issues_number_7", "api-json",
        "@octokit/fixtures (npm) scenarios/api.github.com/paginate-issues: the recorded pages' bodies, one after another "
        f"(what `{cmd}` prints)", "What is the title and the web URL of issue #7?",
        [seven["title"], seven["html_url"]], text, args=bash_args(cmd),
        later=("Which issues are numbered above 10?", [i["html_url"] for i in issues if i["number"] > 10]))
    labels = json.loads((fx / "labels" / "normalized-fixture.json").read_text())
    resp = [r for r in labels if r["method"] == "get" and isinstance(r["response"], list)]
    if resp:
        lt = json.dumps(resp[0]["response"], indent=2) + "\n"
        add("github_labels", "api-json", "@octokit/fixtures (npm) scenarios/api.github.com/labels: a GET response body",
            "What colour is each label?", [lab["color"] for lab in resp[0]["response"]], lt,
            args=bash_args("gh api repos/octokit-fixture-org/labels/labels"))
    rel = json.loads((fx / "release-assets" / "normalized-fixture.json").read_text())
    rr = [r for r in rel if isinstance(r["response"], dict) and r["response"].get("assets") is not None]
    if rr:
        body = rr[0]["response"]
        rt = json.dumps(body, indent=2) + "\n"
        add("github_release", "api-json", "@octokit/fixtures (npm) scenarios/api.github.com/release-assets: a response body",
            "What is this release's tag, and is it a draft or prerelease?",
            [body["tag_name"], f'"draft": {json.dumps(body["draft"])}', f'"prerelease": {json.dumps(body["prerelease"])}'],
            rt, args=bash_args("gh api repos/octokit-fixture-org/release-assets/releases/latest"))
    cars = vega("cars.json")
    ct = cars.read_text()
    cd = json.loads(ct)
    heavy = max(cd, key=lambda c: c.get("Weight_in_lbs") or 0)
    add("json_cars_heaviest", "api-json", f"vega_datasets (PyPI) {cars.relative_to(E.site)}, read whole",
        "Which car is the heaviest, and what does it weigh?", [heavy["Name"], str(heavy["Weight_in_lbs"])], ct,
        tool_name="read_file", args={"path": str(cars)},
        later=("Which cars get at least 44 miles per gallon?",
               [c["Name"] for c in cd if (c.get("Miles_per_Gallon") or 0) >= 44]))


def unique_body_lines(lines: list[str], fn, most: int = 4) -> list[str]:
    """Up to `most` statements of a function's body, spread over it, each a line found once in the file:
    what an answer about that function quotes, and what no other part of the file could stand in for."""
    import ast

    counts = Counter(ln.strip() for ln in lines)
    start = fn.body[1].lineno if ast.get_docstring(fn) and len(fn.body) > 1 else fn.body[0].lineno
    own = [lines[i - 1].strip() for i in range(start, fn.end_lineno + 1)]
    own = [ln for ln in own if len(ln) > 12 and counts[ln] == 1 and not ln.startswith(("#", '"', "'"))]
    if len(own) <= most:
        return own
    return [own[i * (len(own) - 1) // (most - 1)] for i in range(most)]


def code_grep_diff_docs() -> None:
    tab = sdist("tabulate", "0.9.0") / "tabulate" / "__init__.py"
    text = tab.read_text()
    lines = text.splitlines()
    import ast

    tree = ast.parse(text)
    fns = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    fn = fns["_normalize_tabular_data"]
    body = ["\n".join(lines[n.lineno - 1:n.end_lineno]).strip() for n in ast.walk(fn) if isinstance(n, ast.Raise)]
    add("code_tabulate_normalize_raises", "source-code", "tabulate 0.9.0 sdist (PyPI): tabulate/__init__.py, read whole",
        "When does _normalize_tabular_data raise an error? Show the raise statements.", body, text,
        tool_name="read_file", args={"path": "tabulate/__init__.py"},
        later=("What does _is_separating_line check?",
               unique_body_lines(lines, fns["_is_separating_line"])))
    wrap = fns.get("_wrap_text_to_colwidths")
    if wrap:
        add("code_tabulate_wrap", "source-code", "tabulate 0.9.0 sdist (PyPI): tabulate/__init__.py, read whole",
            "How does the text wrap to column widths (_wrap_text_to_colwidths)?",
            unique_body_lines(lines, wrap), text,
            tool_name="read_file", args={"path": "tabulate/__init__.py"})
    parser = E.site / "dateutil" / "parser" / "_parser.py"
    pt = parser.read_text()
    ptree = ast.parse(pt)
    pl = pt.splitlines()
    cls = next(n for n in ptree.body if isinstance(n, ast.ClassDef) and n.name == "parser")
    parse_fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "_build_naive")
    stmts = unique_body_lines(pl, parse_fn)
    add("code_dateutil_build_naive", "source-code", "python-dateutil (PyPI) dateutil/parser/_parser.py, read whole",
        "How does parser._build_naive fill in missing fields from the default?", stmts, pt, tool_name="read_file",
        args={"path": "dateutil/parser/_parser.py"})

    gcmd = "grep -rn 'raise ValueError' dateutil"
    gtext = run("grep -rn 'raise ValueError' dateutil", cwd=E.site)
    tzm = [ln for ln in gtext.splitlines() if ln.startswith(("dateutil/tz/_common.py:", "dateutil/tz/win.py:"))]
    add("grep_dateutil_valueerror_tz", "grep", f"python-dateutil (PyPI), in site-packages: {gcmd}",
        "Where do tz/_common.py and tz/win.py raise ValueError?", tzm, gtext, args=bash_args(gcmd),
        later=("Which lines of relativedelta.py raise it?",
               [ln for ln in gtext.splitlines() if ln.startswith("dateutil/relativedelta.py:")]))
    g2cmd = "grep -rn --include=*.py 'def ' pandas/io/formats"
    g2 = run(["grep", "-rn", "--include=*.py", "def ", "pandas/io/formats"], cwd=E.site)
    g2t, g2cut = trim(g2)
    retry = [ln for ln in g2t.splitlines() if re.search(r"def \w*_?format_?\w*header\w*\(", ln)]
    add("grep_pandas_header_defs", "grep", f"pandas (PyPI wheel) in site-packages: {g2cmd}{g2cut}",
        "Where are the functions that format headers defined?", retry or g2t.splitlines()[:1], g2t,
        args=bash_args(g2cmd))

    sdist("tabulate", "0.8.10")  # both releases unpacked side by side for diff -u
    dcmd = "diff -u tabulate-0.8.10/tabulate.py tabulate-0.9.0/tabulate/__init__.py"
    dt = run(dcmd, cwd=E.work / "sdists")
    dtt, dcut = trim(dt)
    added_kw = [ln for ln in dtt.splitlines() if ln.startswith("+") and re.match(r"^\+\s+\w+=None,$", ln)]
    imports = [ln for ln in dtt.splitlines() if re.match(r"^[+-](import|from) ", ln)]
    add("diff_tabulate_imports", "diff", f"tabulate sdists 0.8.10 and 0.9.0 (PyPI): {dcmd}{dcut}",
        "Which top-level imports were added or removed between 0.8.10 and 0.9.0?", imports, dtt, args=bash_args(dcmd),
        later=("Which new keyword arguments default to None?", added_kw))
    gd = run("git diff HEAD~1 -- CHANGELOG README.md", cwd=E.work / "git-tabulate")
    if gd.strip():
        changelog = gd.split("diff --git a/CHANGELOG b/CHANGELOG", 1)[1].split("\ndiff --git", 1)[0]
        plus = [ln for ln in changelog.splitlines() if ln.startswith("+- ")]
        add("git_diff_changelog", "diff", "a git repository made of tabulate's sdists 0.8.7 .. 0.10.0 (PyPI) committed in order: "
            "git diff HEAD~1 -- CHANGELOG README.md",
            "What does the CHANGELOG say is new in the last release?", plus, gd,
            args=bash_args("git diff HEAD~1 -- CHANGELOG README.md"))

    md = sdist("tabulate", "0.9.0") / "README.md"
    mt = md.read_text()
    fmt_line = [ln for ln in mt.splitlines() if ln.startswith('-   "')]
    add("markdown_tabulate_formats", "markdown", "tabulate 0.9.0 sdist (PyPI): README.md, read whole",
        "Which table formats are supported (tablefmt values)?", fmt_line, mt, tool_name="read_file",
        args={"path": "README.md"},
        later=("How do I set a custom number format per column?",
               [ln for ln in mt.splitlines() if "floatfmt=(" in ln]))
    esr = E.npm / "node_modules" / "eslint" / "README.md"
    et = esr.read_text()
    add("markdown_eslint_readme", "markdown", "eslint (npm) README.md, read whole",
        "What Node.js versions does ESLint need?", re.findall(r"`[\^>]=?[\d.]+`", next(
            ln for ln in et.splitlines() if ln.startswith("To use ESLint, you must have"))), et, tool_name="read_file", args={"path": "node_modules/eslint/README.md"})


def tracebacks() -> None:
    tdir = E.work / "tb"
    tdir.mkdir(exist_ok=True)
    py = E.tools / "bin" / "python"
    td = k8s_testdata()
    multi = run("for f in k8s-deployment.yaml pod.yaml; do echo ---; cat $f; done", cwd=td)
    (tdir / "stack.yaml").write_text(multi)
    cmd = "python -c \"import yaml; yaml.safe_load(open('stack.yaml'))\""
    text = run([str(py), "-c", "import yaml; yaml.safe_load(open('stack.yaml'))"], cwd=tdir)
    add("traceback_yaml_single_doc", "traceback", f"PyYAML (PyPI) on a two-document file: {cmd}",
        "Why did loading the YAML fail, and where in the file?",
        [ln for ln in text.splitlines() if ln.startswith("yaml.")]
        + [ln.strip() for ln in text.splitlines() if ln.strip().startswith('in "stack.yaml"')],
        text, args=bash_args(cmd))
    pcmd = "python -c \"import pandas as pd; df = pd.read_csv('seattle-weather.csv'); df.groupby('wether').mean()\""
    ptext = run([str(py), "-c", f"import pandas as pd; df = pd.read_csv({str(vega('seattle-weather.csv'))!r}); "
                 "df.groupby('wether').mean()"], cwd=tdir)
    pl = ptext.strip().splitlines()
    user = [ln for ln in pl if ln.startswith('  File "<string>"')]
    add("traceback_pandas_keyerror", "traceback", f"pandas (PyPI) in the tools venv: {pcmd}",
        "What went wrong? Which line of my code triggered it, and what is the final exception?",
        [pl[-1]] + user, ptext, args=bash_args(pcmd))
    ccmd = "python -c \"import pandas as pd; pd.read_csv('junit.xml')\""
    ct = run([str(py), "-c", f"import pandas as pd; pd.read_csv({str(E.work / 'junit.xml')!r})"], cwd=tdir)
    cl = ct.strip().splitlines()
    add("traceback_pandas_parser", "traceback", f"pandas (PyPI) reading the JUnit report of junit-xml as CSV: {ccmd}",
        "Why can't pandas read this file, and on which line of the data?", [cl[-1]], ct, args=bash_args(ccmd))
    tv = E.work / "testvenv"
    lcmd = "python -m pytest -p no:cacheprovider tabtests/test_textwrapper.py --tb=long -q"
    lt = run(f"{tv / 'bin' / 'python'} -m pytest -p no:cacheprovider tabtests/test_textwrapper.py --tb=long -q",
             cwd=E.work)
    raised = [ln for ln in lt.splitlines() if re.match(r"^E\s+\w+(Error|Exception)\b", ln)]
    where = [ln for ln in lt.splitlines() if re.match(r"^\S+\.py:\d+: \w+(Error|Exception)$", ln)]
    add("traceback_pytest_long", "traceback",
        f"tabulate 0.10.0's own tests (sdist, PyPI) run against tabulate 0.9.0 in a scratch venv: {lcmd}",
        "What exceptions do the failing textwrapper tests raise, and at which file:line?", raised + where, lt,
        args=bash_args(lcmd),
        later=("Which test functions failed?", [ln for ln in lt.splitlines() if re.match(r"^_+ test_\w+ _+$", ln)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/rw"), help="scratch directory")
    ap.add_argument("--tools", type=Path, default=Path("/tmp/rwtools"), help="venv with mypy, ruff, vega_datasets, ...")
    ap.add_argument("--npm", type=Path, default=Path("/tmp/rwnpm"), help="npm project with typescript, eslint, ...")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", default="", help="comma-separated groups to run (for development); writes nothing")
    a = ap.parse_args()
    E.work, E.tools, E.npm = a.work, a.tools, a.npm
    E.work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(E.site))
    groups = {"c": diagnostics_c, "rust": diagnostics_rust, "ts": diagnostics_ts, "py": diagnostics_py,
              "tables": tables, "listings": listings, "git": gitlog, "pkg": package_managers,
              "structured": structured, "logs": system_logs, "api": api_json, "code": code_grep_diff_docs,
              "tb": tracebacks}
    only = [g for g in a.only.split(",") if g]
    for name, fn in groups.items():
        if only and name not in only:
            continue
        n = len(W)
        fn()
        print(f"{name}: {len(W) - n} workloads", file=sys.stderr)
    kinds = Counter(w["kind"] for w in W)
    size = sum(len(w["text"]) for w in W)
    print(f"{len(W)} workloads, {len(kinds)} kinds, {size / 1e6:.1f} MB of text", file=sys.stderr)
    if only:
        for w in W:
            print(w["id"], w["kind"], len(w["text"]), len(w["facts"]), file=sys.stderr)
        return
    a.out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as g:
        for w in W:
            g.write((json.dumps(w, ensure_ascii=False, sort_keys=True) + "\n").encode())
    tmp = a.out.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(a.out)
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
