"""Capture the agent corpus (headroom/evals/data/agents.jsonl.gz): the real Claude Code and Codex CLIs, driven
by the fake upstream to call their own built-in tools on real code bases, and the requests they then send.

    .venv/bin/python scripts/capture_agents.py [--work DIR] [--only ID_PREFIX] [--out FILE]

What it does, from scratch:
  1. installs the CLIs from npm into <repo>/.cache (the prefixes the e2e tests use) unless they are there;
  2. builds the code bases under --work: PyPI sdists of two successive releases of h11, click and tabulate
     (`pip download --no-binary :all:`), each a git repository with one commit per release (fixed author
     and dates, so `git log` is the same on every run), plus copies of the venv's hypothesis and httpx;
  3. starts the fake upstream (tests/support/fake_upstream.py) and a `headroom proxy --no-compress` routing
     api.anthropic.com, api.openai.com and chatgpt.com to it, so each CLI talks to its real host name and
     the bodies the fake records are exactly what the agent sent;
  4. runs every scenario: the fake answers the agent's requests with scripted tool calls (Claude Code's
     Read, Grep, Glob, Bash, Edit, Write; Codex's `exec` JavaScript calling exec_command / apply_patch, and
     exec_command called directly), the agent runs the tools and sends their real outputs back;
  5. writes one JSON line per case: the recorded body, the user's question(s) and the facts, each fact an
     exact line of a tool output in that body, picked by what the question needs.

Needs the npm registry and PyPI (for the installs and sdists); the corpus it writes is committed.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from headroom.core.pipeline import find_units  # noqa: E402
from tests.e2e import test_claude_code as cc_test  # noqa: E402
from tests.e2e import test_codex as codex_test  # noqa: E402
from tests.e2e.test_wrap import free_port  # noqa: E402
from tests.support.fake_upstream import Reply, make_pki  # noqa: E402

OUT = REPO / "headroom" / "evals" / "data" / "agents.jsonl.gz"
PY = sys.executable
SITE = Path(__import__("h11").__file__).resolve().parents[1]  # the venv's site-packages
SDISTS = (("h11", "0.13.0", "0.14.0"), ("click", "8.1.7", "8.1.8"), ("tabulate", "0.8.10", "0.9.0"))
COPIES = ("hypothesis", "httpx")  # installed sources, one commit each
GIT_ENV = {"GIT_AUTHOR_NAME": "capture", "GIT_AUTHOR_EMAIL": "capture@example.invalid",
           "GIT_COMMITTER_NAME": "capture", "GIT_COMMITTER_EMAIL": "capture@example.invalid"}
RUN_TIMEOUT = 300  # seconds per CLI run; a scenario runs a test suite at most
CLAUDE_TOOLS = "Read,Grep,Glob,Bash,Edit,Write"


# ---- code bases ---------------------------------------------------------------------------------------

def _git(cwd: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _replace_tree(repo: Path, src: Path) -> None:
    for p in repo.iterdir():
        if p.name != ".git":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in src.iterdir():
        (shutil.copytree if p.is_dir() else shutil.copy2)(p, repo / p.name)


def build_code_bases(work: Path, sdists_of=SDISTS, copies=COPIES) -> dict[str, Path]:
    """name -> git work tree; sdist repos carry two commits (the older release, then the newer).

    `sdists_of`: (name, older version, newer version) per PyPI sdist; `copies`: the venv's packages copied."""
    sdists = work / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    repos: dict[str, Path] = {}
    for name, *versions in sdists_of:
        repo = work / "src" / name
        if repo.exists():
            shutil.rmtree(repo)
        repo.mkdir(parents=True)
        _git(repo, "init", "-q", "-b", "main")
        for n, version in enumerate(versions):
            tarball = sdists / f"{name}-{version}.tar.gz"
            if not tarball.exists():
                subprocess.run([PY, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
                                f"{name}=={version}", "-d", str(sdists)], check=True)
            unpacked = work / "unpack"
            shutil.rmtree(unpacked, ignore_errors=True)
            with tarfile.open(tarball) as tf:
                tf.extractall(unpacked, filter="data")
            _replace_tree(repo, unpacked / f"{name}-{version}")
            _git(repo, "add", "-A")
            _git(repo, "commit", "-q", "-m", f"{name} {version}", date=f"2024-0{n + 1}-01T12:00:00Z")
        repos[name] = repo
    for name in copies:
        repo = work / "src" / name
        if repo.exists():
            shutil.rmtree(repo)
        shutil.copytree(SITE / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"{name} as installed", date="2024-03-01T12:00:00Z")
        repos[name] = repo
    return repos


# ---- the agents against the fake ----------------------------------------------------------------------

def _npm_install(prefix: Path, package: str, binary: Path) -> Path:
    if not binary.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        (REPO / ".cache" / ".gitignore").write_text("*\n")
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                        package], check=True)
    return binary


def _version(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60).stdout
    return re.search(r"\d+\.\d+\.\d+", out).group(0)


class Agents:
    """The fake upstream, a pass-through headroom proxy routing the LLM hosts to it, and the two CLIs."""

    def __init__(self, work: Path):
        self.work = work
        self.claude_bin = _npm_install(cc_test.PREFIX, cc_test.PACKAGE, cc_test.CLAUDE)
        self.codex_bin = _npm_install(codex_test.PREFIX, codex_test.PACKAGE, codex_test.CODEX)
        self.claude_version = _version(self.claude_bin)
        self.codex_version = _version(self.codex_bin)
        self.fake = codex_test.CodexFake(make_pki(work / "pki")).start()
        home = work / "headroom-home"
        home.mkdir(exist_ok=True)
        routes = " ".join(self.fake.route_for(h) for h in ("api.anthropic.com", "api.openai.com", "chatgpt.com"))
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HEADROOM_", "ANTHROPIC_", "CLAUDE_", "CODEX_", "OPENAI_"))}
        self.env.update(HEADROOM_HOME=str(home), HEADROOM_ROUTE=routes, HEADROOM_UPSTREAM_CA=str(self.fake.ca_cert),
                        HEADROOM_COMPRESS="0", PYTHONUNBUFFERED="1",
                        PYTHONDONTWRITEBYTECODE="1")  # test runs leave no .pyc for later listings and searches
        self.port = free_port()
        self.proxy_log = open(work / "proxy.log", "w")
        self.proxy = subprocess.Popen([PY, "-m", "headroom", "proxy", "--port", str(self.port)], env=self.env,
                                      stdout=self.proxy_log, stderr=subprocess.STDOUT)
        self._wait_for_proxy()

    def _wait_for_proxy(self) -> None:
        import socket

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"headroom proxy did not start: see {self.work / 'proxy.log'}")

    def close(self) -> None:
        self.proxy.terminate()
        self.proxy.wait(20)
        self.proxy_log.close()
        self.fake.stop()

    def _run(self, argv: list[str], cwd: Path, home: Path, extra: dict[str, str]) -> list:
        """Run a CLI under `headroom wrap` (reusing the proxy); the generation requests it sent."""
        with self.fake._lock:
            self.fake.requests.clear()
        env = {**self.env, "HOME": str(home), **extra}
        r = subprocess.run([PY, "-m", "headroom", "wrap", "--port", str(self.port), "--quiet", "--", *argv], env=env,
                           cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
        posts = [rec for rec in self.fake.requests
                 if rec.method == "POST" and rec.route.endswith(("/v1/messages", "/responses"))]
        if r.returncode != 0 or not posts:
            raise RuntimeError(f"{argv[0]} exited {r.returncode}: {(r.stdout + r.stderr)[-2000:]}")
        with self.fake._lock:
            leftover = len(self.fake._replies) + len(self.fake.custom_calls)
            self.fake._replies.clear()
            self.fake.custom_calls.clear()
        if leftover:
            raise RuntimeError(f"{argv[0]} stopped with {leftover} scripted replies unused: {r.stdout[-1000:]}")
        return posts

    def claude(self, prompt: str, calls: list[tuple[str, dict]], cwd: Path, home: Path, *, resume: bool = False):
        self.fake.queue(*(Reply.tool_call(name, args) for name, args in calls), Reply.text("Done."))
        argv = [str(self.claude_bin), "-p", prompt, "--allowedTools", CLAUDE_TOOLS, *(["--continue"] if resume else [])]
        return self._run(argv, cwd, home, {"ANTHROPIC_API_KEY": "sk-ant-dummy-key",
                                           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                                           "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1"})

    def codex(self, prompt: str, calls: list[tuple[str, str, object]], cwd: Path, home: Path, *, resume: bool = False):
        """`calls`: ("exec", js, None) for Codex's code-mode tool, ("function", name, args) for a nested tool
        called directly (its classic output format), ("custom", name, input) for a free-form tool."""
        for how, name, arg in calls:
            if how == "exec":
                self.fake.queue_custom_call("exec", name)
            elif how == "custom":
                self.fake.queue_custom_call(name, arg)
            else:
                self.fake.queue(Reply.tool_call(name, arg))
        self.fake.queue(Reply.text("Done."))
        flags = ["--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"]
        argv = [str(self.codex_bin), "exec", *flags, *(["resume", "--last"] if resume else []), prompt]
        return self._run(argv, cwd, home, {"CODEX_API_KEY": "sk-dummy-codex-key"})


# ---- cases --------------------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    agent: str
    agent_version: str
    provider: str
    path: str
    kind: str
    question: str
    later_question: str | None
    body: dict
    facts: list[str] = field(default_factory=list)

    def outputs(self) -> list[str]:
        return [u.text for u in find_units(self.provider, self.body)]

    def line(self, needle: str, *, nth: int = 0, last_output: bool = False) -> str:
        """The whole line (as it appears in a tool output of the body, prefix included) that contains `needle`.

        Lines are split on real newlines and, inside JSON-serialised results, on escaped ones."""
        texts = self.outputs()[-1:] if last_output else self.outputs()
        hits = [ln for t in texts for ln in re.split(r"\n|(?<!\\)\\n", t) if needle in ln]
        if len(hits) <= nth:
            raise LookupError(f"{self.id}: no line {nth} with {needle!r}")
        return hits[nth]

    def add(self, *needles: str, **kw) -> None:
        for needle in needles:
            fact = self.line(needle, **kw).strip("\r")
            if fact not in self.facts:
                self.facts.append(fact)

    def add_exact(self, *facts: str) -> None:
        for fact in facts:
            if not any(fact in t for t in self.outputs()):
                raise LookupError(f"{self.id}: {fact!r} is not in any tool output")
            self.facts.append(fact)

    def row(self) -> dict:
        if not self.facts:
            raise ValueError(f"{self.id}: no facts")
        return {"id": self.id, "agent": self.agent, "agent_version": self.agent_version, "provider": self.provider,
                "path": self.path, "kind": self.kind, "question": self.question, "later_question": self.later_question,
                "body": self.body, "facts": self.facts}


class Capture:
    def __init__(self, agents: Agents, repos: dict[str, Path], work: Path):
        self.a, self.repos, self.work = agents, repos, work
        self.cases: list[Case] = []

    def home(self, case_id: str) -> Path:
        home = self.work / "homes" / case_id
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        return home

    def fresh(self, name: str, case_id: str) -> Path:
        """A private copy of a code base (with its git history) for a scenario that edits files."""
        dst = self.work / "edits" / case_id
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(self.repos[name], dst, symlinks=True)
        return dst

    def _case(self, case_id, agent, kind, question, later, rec) -> Case:
        claude = agent == "claude-code"
        case = Case(case_id, agent, self.a.claude_version if claude else self.a.codex_version,
                    "anthropic" if claude else "openai_responses", rec.route, kind, question, later, rec.json)
        self.cases.append(case)
        return case

    def claude(self, case_id: str, kind: str, cwd: Path, question: str, calls, *, later: str | None = None,
               later_calls=()) -> Case:
        home = self.home(case_id)
        posts = self.a.claude(question, calls, cwd, home)
        if later is not None:
            posts = self.a.claude(later, list(later_calls), cwd, home, resume=True)
        return self._case(case_id, "claude-code", kind, question, later, posts[-1])

    def codex(self, case_id: str, kind: str, cwd: Path, question: str, calls, *, later: str | None = None,
              later_calls=()) -> Case:
        home = self.home(case_id)
        posts = self.a.codex(question, calls, cwd, home)
        if later is not None:
            posts = self.a.codex(later, list(later_calls), cwd, home, resume=True)
        return self._case(case_id, "codex", kind, question, later, posts[-1])


def exec_js(cmd: str, *, whole: bool = False) -> tuple[str, str, None]:
    """Codex code mode: JavaScript running one shell command; `whole` returns the exec_command result object
    (exit code, token count, output) as Codex serialises it, else only its output text."""
    value = "r" if whole else "r.output"
    return ("exec", f"const r = await tools.exec_command({{cmd: {json.dumps(cmd)}}});\ntext({value});\n", None)


def exec_patch(patch: str) -> tuple[str, str, None]:
    return ("exec", f"const r = await tools.apply_patch({json.dumps(patch)});\ntext(r);\n", None)


def direct(cmd: str) -> tuple[str, str, dict]:
    """exec_command called as a function tool: Codex answers in its classic header format."""
    return ("function", "exec_command", {"cmd": cmd})


def _src_line(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise LookupError(f"{needle!r} not in {path}")


SCENARIOS: list[Callable[[Capture], None]] = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


# ---- Claude Code --------------------------------------------------------------------------------------
# Each scenario states the user's question, the tool calls the fake makes the agent run, and the rule that
# picks the facts the question needs from the real output.

@scenario
def cc_read_full(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.claude("cc-read-full-h11-connection", "read-full", repo,
                    "In h11/_connection.py, what does Connection.send_failed do, and on which line is it defined?",
                    [("Read", {"file_path": str(repo / "h11/_connection.py")})])
    n = _src_line(repo / "h11/_connection.py", "def send_failed")
    case.add(f"{n}\t    def send_failed", f"{n + 8}\t        self._process_error(self.our_role)")


@scenario
def cc_read_partial(c: Capture) -> None:
    repo = c.repos["tabulate"]
    case = c.claude("cc-read-partial-tabulate", "read-partial", repo,
                    "How does tabulate's _normalize_tabular_data handle a dict of columns? Quote the lines.",
                    [("Read", {"file_path": str(repo / "tabulate/__init__.py"), "offset": 1300, "limit": 220})])
    case.add("def _normalize_tabular_data(", 'if hasattr(tabular_data, "keys") and hasattr(tabular_data, "values"):')


@scenario
def cc_read_large(c: Capture) -> None:
    repo = c.repos["hypothesis"]
    path = repo / "hypothesis/strategies/_internal/core.py"
    n = _src_line(path, "def composite(f: Callable[..., Ex])")
    case = c.claude("cc-read-large-hypothesis-core", "read-large", repo,
                    "Where is hypothesis's @composite decorator defined in strategies/_internal/core.py, and what "
                    "does it return?",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path), "offset": n - 10, "limit": 80})])
    case.add(f"{n}\t    def composite(f: Callable[..., Ex])", f"{n + 1}\t        return _composite(f)")


@scenario
def cc_read_doc(c: Capture) -> None:
    repo = c.repos["click"]
    path = repo / "CHANGES.rst"
    case = c.claude("cc-read-doc-click-changes", "read-full-doc", repo,
                    "From click's CHANGES.rst: what does 8.1.8 fix about open_file, and in which version did open_file "
                    "start to recognise Path('-') as a standard stream?",
                    [("Read", {"file_path": str(path)})])
    lines = path.read_text().splitlines()
    fix = _src_line(path, "Fix an issue with type hints for ``click.open_file()``")
    dash = _src_line(path, 'recognizes ``Path("-")`` as a standard stream')
    version = max(n for n, ln in enumerate(lines[:dash], 1) if ln.startswith("Version "))
    case.add(f"{fix}\t", f"{dash}\t", f"{version}\tVersion ")


@scenario
def cc_read_repeat(c: Capture) -> None:
    repo = c.repos["h11"]
    path = str(repo / "h11/_state.py")
    case = c.claude("cc-read-repeat-h11-state", "read-repeat", repo,
                    "Which connection states does h11/_state.py define? Re-check the file before answering.",
                    [("Read", {"file_path": path}), ("Read", {"file_path": path})])
    for state in ("IDLE", "SEND_RESPONSE", "SEND_BODY", "DONE", "MUST_CLOSE", "CLOSED", "ERROR",
                  "MIGHT_SWITCH_PROTOCOL", "SWITCHED_PROTOCOL"):
        case.add(f"class {state}(Sentinel")


@scenario
def cc_grep_content(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.claude("cc-grep-content-h11", "grep-content", repo,
                    "Where does h11 raise LocalProtocolError about Content-Length headers?",
                    [("Grep", {"pattern": "raise LocalProtocolError", "path": str(repo / "h11"),
                               "output_mode": "content", "-n": True})])
    case.add("conflicting Content-Length headers", nth=0)
    case.add("conflicting Content-Length headers", nth=1)


@scenario
def cc_grep_context(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.claude("cc-grep-context-h11", "grep-context", repo,
                    "Show me h11's send_failed with some context around it: what does it call?",
                    [("Grep", {"pattern": "def send_failed", "path": str(repo / "h11"), "output_mode": "content",
                               "-n": True, "-C": 8})])
    case.add("def send_failed", "self._process_error(self.our_role)")


@scenario
def cc_grep_content_paginated(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.claude("cc-grep-content-click-core", "grep-content-paginated", repo,
                    "Where does click's Context set allow_extra_args and ignore_unknown_options? Give the lines.",
                    [("Grep", {"pattern": "self", "path": str(repo / "src/click/core.py"), "output_mode": "content",
                               "-n": True})])
    case.add("self.allow_extra_args = allow_extra_args", "self.ignore_unknown_options: bool = ignore_unknown_options")


@scenario
def cc_grep_files(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.claude("cc-grep-files-click", "grep-files", repo, "Which of click's test files use CliRunner?",
                    [("Grep", {"pattern": "CliRunner", "path": str(repo / "tests")})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cc_grep_count(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.claude("cc-grep-count-click", "grep-count", repo,
                    "Which test file in click has the most test functions, and how many?",
                    [("Grep", {"pattern": "def test_", "path": str(repo / "tests"), "output_mode": "count"})])
    counts = [ln for ln in case.outputs()[-1].splitlines() if re.search(r":\d+$", ln)]
    case.facts.append(max(counts, key=lambda ln: int(ln.rsplit(":", 1)[1])))


@scenario
def cc_glob(c: Capture) -> None:
    repo = c.repos["hypothesis"]
    case = c.claude("cc-glob-hypothesis", "glob", repo,
                    "Which Python modules are under hypothesis/extra? List them all.",
                    [("Glob", {"pattern": "**/*.py", "path": str(repo)})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("hypothesis/extra/"))


@scenario
def cc_bash_pip_list(c: Capture) -> None:
    repo = c.repos["httpx"]
    case = c.claude("cc-bash-pip-list", "bash-listing", repo,
                    "Which versions of cryptography and h11 are installed in the project venv?",
                    [("Bash", {"command": f"{PY} -m pip list", "description": "List installed packages"})])
    case.add("cryptography ", "h11 ")


@scenario
def cc_bash_find(c: Capture) -> None:
    repo = c.repos["hypothesis"]
    case = c.claude("cc-bash-find-hypothesis", "bash-listing", repo,
                    "Which data files (not .py) ship inside the hypothesis package?",
                    [("Bash", {"command": "find hypothesis -type f | sort", "description": "List package files"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("hypothesis/") and not ln.endswith((".py", ".pyi")))


@scenario
def cc_bash_log(c: Capture) -> None:
    repo = c.repos["tabulate"]
    case = c.claude("cc-bash-log-tabulate-pytest", "bash-log", repo,
                    "Run tabulate's tests verbosely: which tests of the 'pipe' format ran, and did they all pass?",
                    [("Bash", {"command": f"{PY} -m pytest -v -rs -p no:cacheprovider test",
                               "description": "Run tabulate tests verbosely"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if re.match(r"test/\S+::test_\w*pipe", ln))


@scenario
def cc_bash_git_stat(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.claude("cc-bash-git-log-stat-click", "bash-git-log-stat", repo,
                    "Which file under src/click changed the most between 8.1.7 and 8.1.8?",
                    [("Bash", {"command": "git log --stat", "description": "Show commit history with stats"})])
    stats = [ln for ln in case.outputs()[-1].splitlines() if re.match(r"\s*src/click/\S+\s+\|\s+\d+", ln)]
    case.facts.append(max(stats, key=lambda ln: int(re.search(r"\|\s+(\d+)", ln).group(1))))


@scenario
def cc_bash_git_log_p(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.claude("cc-bash-git-log-p-h11", "bash-git-log-p", repo,
                    "What changed in h11/_state.py in the 0.14.0 release? Show the changed lines.",
                    [("Bash", {"command": "git log -p -- h11/_state.py", "description": "Show history of _state.py"})])
    newest = case.outputs()[-1].split("\ncommit ", 1)[0]  # the log starts with the newest commit
    case.facts.extend(ln for ln in newest.splitlines()
                      if ln[:1] in "+-" and not ln.startswith(("+++", "---")) and ln[1:].strip())


@scenario
def cc_bash_persisted(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.claude("cc-bash-persisted-click-pytest", "bash-persisted", repo,
                    "Run click's test suite verbosely. Where was the full output saved, and which test ran first?",
                    [("Bash", {"command": f"PYTHONPATH=src {PY} -m pytest -v -p no:cacheprovider "
                                          "-W ignore::pytest.PytestRemovedIn10Warning tests",
                               "description": "Run click tests verbosely"})])
    case.add("Full output saved to")
    case.add("PASSED", nth=0)


@scenario
def cc_bash_persisted_git(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.claude("cc-bash-persisted-click-git-log-p", "bash-persisted", repo,
                    "Show click's full history with patches: which release is the newest commit, and what is the "
                    "first file its diff touches?",
                    [("Bash", {"command": "git log -p", "description": "Show history with patches"})])
    case.add("Full output saved to", "    click 8.1.8")
    case.add("diff --git", nth=0)


@scenario
def cc_bash_failing(c: Capture) -> None:
    repo = c.fresh("h11", "cc-bash-failing-h11")
    path = repo / "h11/_connection.py"
    n = _src_line(path, "DEFAULT_MAX_INCOMPLETE_EVENT_SIZE = 16 * 1024")
    case = c.claude("cc-bash-failing-h11", "bash-failing-tests", repo,
                    "Lower DEFAULT_MAX_INCOMPLETE_EVENT_SIZE in h11/_connection.py to 16 bytes, then run the tests: "
                    "which ones fail, and why?",
                    [("Read", {"file_path": str(path), "offset": n - 5, "limit": 10}),
                     ("Edit", {"file_path": str(path), "old_string": "DEFAULT_MAX_INCOMPLETE_EVENT_SIZE = 16 * 1024",
                               "new_string": "DEFAULT_MAX_INCOMPLETE_EVENT_SIZE = 16"}),
                     ("Bash", {"command": f"{PY} -m pytest -q -p no:cacheprovider h11/tests",
                               "description": "Run h11 tests"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("FAILED "))
    case.add("RemoteProtocolError: Receive buffer too long", "Exit code 1")


@scenario
def cc_bash_collect_error(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.claude("cc-bash-collect-error-click", "bash-failing-tests", repo,
                    "Why doesn't click's test suite run with this pytest?",
                    [("Bash", {"command": f"PYTHONPATH=src {PY} -m pytest -q -p no:cacheprovider tests",
                               "description": "Run click tests"})])
    case.add("PytestRemovedIn10Warning", "Test: tests/test_basic.py::", "error during collection")


@scenario
def cc_bash_failing_big(c: Capture) -> None:
    repo = c.fresh("click", "cc-bash-failing-big-click")
    path = repo / "src/click/core.py"
    n = _src_line(path, 'help_option_names = ["--help"]')
    case = c.claude("cc-bash-failing-big-click", "bash-failing-tests", repo,
                    "Rename click's default help option to --hlp in src/click/core.py, run the test suite, and tell me "
                    "which tests fail.",
                    [("Read", {"file_path": str(path), "offset": n - 3, "limit": 6}),
                     ("Edit", {"file_path": str(path), "old_string": 'help_option_names = ["--help"]',
                               "new_string": 'help_option_names = ["--hlp"]'}),
                     ("Bash", {"command": f"PYTHONPATH=src {PY} -m pytest -p no:cacheprovider "
                                          "-W ignore::pytest.PytestRemovedIn10Warning tests",
                               "description": "Run click tests"})])
    # Claude Code keeps only the head and tail of a failing command's output (the summary at the very end
    # is cut before it reaches the model): what says which tests failed is the progress lines with an F
    # and the headers of the failure reports that are shown.
    for ln in case.outputs()[-1].splitlines():
        if re.match(r"tests/\S+\.py [.FsxE]*F", ln) or re.match(r"_{3,} test_\w+.* _{3,}$", ln):
            case.facts.append(ln)
    case.add("Exit code 1")


@scenario
def cc_edit(c: Capture) -> None:
    repo = c.fresh("tabulate", "cc-edit-tabulate")
    path = repo / "tabulate/__init__.py"
    n = _src_line(path, "def simple_separated_format(separator):")
    case = c.claude("cc-edit-tabulate", "edit", repo,
                    "Give simple_separated_format in tabulate a keyword-only `padding` argument defaulting to 0.",
                    [("Read", {"file_path": str(path), "offset": n, "limit": 25}),
                     ("Edit", {"file_path": str(path), "old_string": "def simple_separated_format(separator):",
                               "new_string": "def simple_separated_format(separator, *, padding=0):"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_write(c: Capture) -> None:
    repo = c.fresh("h11", "cc-write-h11")
    case = c.claude("cc-write-h11", "write", repo,
                    "Add a smoke test file h11/tests/test_smoke.py that imports h11 and checks its version string.",
                    [("Write", {"file_path": str(repo / "h11/tests/test_smoke.py"),
                                "content": "import h11\n\n\ndef test_version():\n    assert h11.__version__\n"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_later_read(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.claude("cc-later-read-h11-connection", "read-full-later", repo,
                    "What does h11's Connection.send_failed do?",
                    [("Read", {"file_path": str(repo / "h11/_connection.py")})],
                    later="Another question about that file: what is the default max_incomplete_event_size, "
                          "and on which line is it set?")
    n = _src_line(repo / "h11/_connection.py", "DEFAULT_MAX_INCOMPLETE_EVENT_SIZE = 16 * 1024")
    case.add(f"{n}\tDEFAULT_MAX_INCOMPLETE_EVENT_SIZE = 16 * 1024")


@scenario
def cc_later_grep(c: Capture) -> None:
    repo = c.repos["tabulate"]
    case = c.claude("cc-later-grep-tabulate", "grep-content-later", repo,
                    "Which padding helpers does tabulate define?",
                    [("Grep", {"pattern": "^def ", "path": str(repo / "tabulate/__init__.py"), "output_mode": "content",
                               "-n": True})],
                    later="And which function strips ANSI escape codes, on which line?")
    case.add("def _strip_ansi(")


@scenario
def cc_later_bash(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.claude("cc-later-bash-h11-pytest", "bash-log-later", repo, "Run h11's test suite: does it all pass?",
                    [("Bash", {"command": f"{PY} -m pytest -v -p no:cacheprovider h11/tests",
                               "description": "Run h11 tests verbosely"})],
                    later="Did test_h11_as_client run in that test run, and with what result?")
    case.add("test_h11_as_client")


@scenario
def cc_later_glob(c: Capture) -> None:
    repo = c.repos["httpx"]
    case = c.claude("cc-later-glob-httpx", "glob-later", repo, "Which transport modules does httpx have?",
                    [("Glob", {"pattern": "**/*.py", "path": str(repo)})],
                    later="Is there a module that encodes multipart form data? What is its path?")
    case.add("_multipart.py")


@scenario
def cc_later_edit(c: Capture) -> None:
    repo = c.fresh("h11", "cc-later-edit-h11")
    path = repo / "h11/_connection.py"
    case = c.claude("cc-later-edit-h11", "read-full-later", repo,
                    "Read h11/_connection.py: which method starts the next request/response cycle?",
                    [("Read", {"file_path": str(path)})],
                    later="Now change next_event so it raises RemoteProtocolError with a clearer message when the "
                          "peer is in ERROR state. Which exact lines will you edit?")
    n = _src_line(path, "def next_event(self)")
    case.add(f"{n}\t    def next_event(self)")
    case.add("Can't receive data when peer state is ERROR")


# ---- Codex --------------------------------------------------------------------------------------------
# Code mode (the one tool Codex 0.169 offers the model, `exec`) is how the model runs commands; exec_command
# called directly gets Codex's classic result format (Chunk ID / Wall time / exit code / token count).

BAD_LENGTH_PATCH = """*** Begin Patch
*** Update File: h11/_headers.py
@@
-_content_length_re = re.compile(rb"[0-9]+")
+_content_length_re = re.compile(rb"[1-9][0-9]*")
*** End Patch
"""


@scenario
def cx_exec_nl(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.codex("cx-exec-nl-h11-connection", "codex-exec-nl", repo,
                   "Show me Connection.send_failed in h11/_connection.py: what does it do, on which line?",
                   [exec_js("nl -ba h11/_connection.py | sed -n 420,640p")])
    n = _src_line(repo / "h11/_connection.py", "def send_failed")
    # send_failed's own body line (the same call ends send_with_data_passthrough's except clause above it).
    case.add(f"{n:6d}\t    def send_failed(self)", f"{n + 8:6d}\t        self._process_error(self.our_role)")


@scenario
def cx_exec_rg(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.codex("cx-exec-rg-h11", "codex-exec-rg", repo, "Which modules of h11 raise LocalProtocolError?",
                   [exec_js("rg -n 'raise LocalProtocolError' h11")])
    seen = set()
    for ln in case.outputs()[-1].splitlines():
        module = ln.split(":", 1)[0]
        if "raise LocalProtocolError" in ln and module not in seen:
            seen.add(module)
            case.facts.append(ln)


@scenario
def cx_exec_rg_files(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.codex("cx-exec-rg-files-click", "codex-exec-rg-files", repo,
                   "Which of click's test files use monkeypatch?", [exec_js("rg -l monkeypatch tests")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cx_exec_failing(c: Capture) -> None:
    repo = c.fresh("h11", "cx-exec-failing-h11")
    case = c.codex("cx-exec-failing-h11", "codex-exec-failing-tests", repo,
                   "Make h11's Content-Length regex reject leading zeros, then run the tests: what breaks?",
                   [exec_patch(BAD_LENGTH_PATCH), exec_js(f"{PY} -m pytest -q -p no:cacheprovider h11/tests", whole=True)])
    text = case.outputs()[-1]
    case.facts.extend(m.group(0) for m in re.finditer(r"FAILED [^\\\n]+", text))
    case.add("LocalProtocolError: bad Content-Length")
    case.add_exact('"exit_code":1')


@scenario
def cx_exec_truncated(c: Capture) -> None:
    repo = c.repos["click"]
    case = c.codex("cx-exec-truncated-click-log", "codex-exec-truncated", repo,
                   "Show the full history of click with patches: which release is the latest commit, and what is the "
                   "first file its diff touches?",
                   [exec_js("git log -p", whole=True)])
    case.add("click 8.1.8", nth=0)
    case.add("diff --git", nth=0)


FLOATFMT_PATCH = """*** Begin Patch
*** Update File: tabulate/__init__.py
@@
-_DEFAULT_FLOATFMT = "g"
+_DEFAULT_FLOATFMT = ".6g"
*** End Patch
"""


@scenario
def cx_exec_apply_patch(c: Capture) -> None:
    repo = c.fresh("tabulate", "cx-exec-apply-patch-tabulate")
    case = c.codex("cx-exec-apply-patch-tabulate", "codex-exec-apply-patch", repo,
                   "Set tabulate's default float format to '.6g' and show me the diff.",
                   [exec_patch(FLOATFMT_PATCH), exec_js("git diff")])
    case.add('+_DEFAULT_FLOATFMT = ".6g"', '-_DEFAULT_FLOATFMT = "g"', "@@ ")


@scenario
def cx_direct_apply_patch(c: Capture) -> None:
    repo = c.fresh("tabulate", "cx-direct-apply-patch-tabulate")
    case = c.codex("cx-direct-apply-patch-tabulate", "codex-cmd-apply-patch", repo,
                   "Set tabulate's default float format to '.6g'.", [("custom", "apply_patch", FLOATFMT_PATCH)])
    case.add_exact(case.outputs()[-1])


@scenario
def cx_exec_git_stat(c: Capture) -> None:
    repo = c.repos["tabulate"]
    case = c.codex("cx-exec-git-stat-tabulate", "codex-exec-git-log-stat", repo,
                   "Which files changed the most between tabulate 0.8.10 and 0.9.0?",
                   [exec_js("git log --stat")])
    stats = [ln for ln in case.outputs()[-1].splitlines() if re.match(r"\s*\S+\s+\|\s+\d+", ln)]
    stats.sort(key=lambda ln: -int(re.search(r"\|\s+(\d+)", ln).group(1)))
    case.facts.extend(stats[:3])


@scenario
def cx_exec_pytest_pass(c: Capture) -> None:
    repo = c.repos["tabulate"]
    case = c.codex("cx-exec-pytest-tabulate", "codex-exec-log", repo,
                   "Run tabulate's tests verbosely: were any skipped, and why?",
                   [exec_js(f"{PY} -m pytest -v -rs -p no:cacheprovider test", whole=True)])
    case.facts.extend(m.group(0) for m in re.finditer(r"SKIPPED \[[^\\\n]+", case.outputs()[-1]))


@scenario
def cx_exec_later(c: Capture) -> None:
    repo = c.repos["tabulate"]
    case = c.codex("cx-exec-later-tabulate", "codex-exec-nl-later", repo,
                   "Which table formats does tabulate define?",
                   [exec_js("nl -ba tabulate/__init__.py | sed -n 300,700p")],
                   later="What exactly does the 'github' format's TableFormat look like?")
    case.add('"github": TableFormat(')


@scenario
def cx_exec_later_rg(c: Capture) -> None:
    repo = c.repos["httpx"]
    case = c.codex("cx-exec-later-rg-httpx", "codex-exec-rg-later", repo,
                   "Which HTTP-verb methods does httpx's Client define?",
                   [exec_js("rg -n '    def ' httpx/_client.py")],
                   later="Where does the client build the request it sends after a redirect?")
    case.add("def _build_redirect_request(")


@scenario
def cx_direct_nl(c: Capture) -> None:
    repo = c.repos["httpx"]
    case = c.codex("cx-direct-nl-httpx-client", "codex-cmd-nl", repo,
                   "How does httpx's Client decide whether to follow a redirect? Show the lines.",
                   [direct("nl -ba httpx/_client.py | sed -n 440,560p")])
    case.add("def _build_redirect_request(", "def _redirect_method(")


@scenario
def cx_direct_rg(c: Capture) -> None:
    repo = c.repos["hypothesis"]
    case = c.codex("cx-direct-rg-hypothesis", "codex-cmd-rg", repo,
                   "Where is the deadline setting validated in hypothesis?",
                   [direct("rg -n deadline hypothesis/_settings.py")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "def _validate_deadline" in ln)


@scenario
def cx_direct_failing(c: Capture) -> None:
    repo = c.fresh("h11", "cx-direct-failing-h11")
    case = c.codex("cx-direct-failing-h11", "codex-cmd-failing-tests", repo,
                   "Make h11's Content-Length regex reject leading zeros, then run the tests: which fail?",
                   [exec_patch(BAD_LENGTH_PATCH), direct(f"{PY} -m pytest -q -p no:cacheprovider h11/tests")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("FAILED "))
    case.add("LocalProtocolError: bad Content-Length", "Process exited with code 1")


@scenario
def cx_direct_truncated(c: Capture) -> None:
    repo = c.repos["hypothesis"]
    case = c.codex("cx-direct-truncated-hypothesis", "codex-cmd-truncated", repo,
                   "Print hypothesis/strategies/_internal/core.py: what does the module import first, and what is the "
                   "last function defined in it?",
                   [direct("cat hypothesis/strategies/_internal/core.py")])
    out = case.outputs()[-1]
    case.add("import ", nth=0)
    defs = [ln for ln in out.splitlines() if re.match(r"def \w+", ln)]
    case.facts.append(defs[-1])


@scenario
def cx_direct_later(c: Capture) -> None:
    repo = c.repos["h11"]
    case = c.codex("cx-direct-later-h11-state", "codex-cmd-nl-later", repo,
                   "Which states can h11's client be in? Read h11/_state.py.",
                   [direct("nl -ba h11/_state.py | sed -n 1,260p")],
                   later="What does Rule 2 at the top of that file say?")
    case.add("# Rule 2: this file does not know about what role")


@scenario
def cx_direct_listing(c: Capture) -> None:
    repo = c.repos["httpx"]
    case = c.codex("cx-direct-pip-list", "codex-cmd-listing", repo,
                   "Which versions of httpcore and idna are installed?", [direct(f"{PY} -m pip list")])
    case.add("httpcore ", "idna ")


# ---- main ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None, *, doc: str = __doc__, scenarios=SCENARIOS, out: Path = OUT,
         work: Path = Path("/tmp/headroom-capture"), sdists_of=SDISTS, copies=COPIES) -> int:
    """The command line; another corpus (scripts/capture_holdout.py) passes its own scenarios, code bases and
    defaults for --out and --work."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--work", type=Path, default=work, help="scratch directory")
    p.add_argument("--only", default="", help="run only the scenarios whose function names start with one of "
                                              "these comma-separated prefixes (e.g. cc_read,cx_direct)")
    p.add_argument("--out", type=Path, default=out)
    args = p.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    repos = build_code_bases(work, sdists_of, copies)
    agents = Agents(work)
    capture = Capture(agents, repos, work)
    failed = []
    try:
        for fn in scenarios:
            if not fn.__name__.startswith(tuple(args.only.split(","))):
                continue
            t0 = time.monotonic()
            n = len(capture.cases)
            try:
                fn(capture)
            except (LookupError, ValueError, RuntimeError, subprocess.SubprocessError) as e:
                failed.append(fn.__name__)
                print(f"FAILED {fn.__name__}: {e}", file=sys.stderr)
                continue
            finally:
                for case in capture.cases[n:]:
                    (work / "bodies").mkdir(exist_ok=True)
                    (work / "bodies" / f"{case.id}.json").write_text(json.dumps(case.body, indent=1))
            for case in capture.cases[n:]:
                print(f"{case.id}: {len(case.facts)} facts, {len(json.dumps(case.body)) // 1024} KB "
                      f"({time.monotonic() - t0:.0f} s)")
    finally:
        agents.close()
    capture.cases = [c for c in capture.cases if c.facts]
    rows = [c.row() for c in capture.cases]
    if len({r["id"] for r in rows}) != len(rows):
        raise SystemExit("duplicate case ids")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()
    args.out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{len(rows)} cases -> {args.out} ({args.out.stat().st_size // 1024} KB)"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
