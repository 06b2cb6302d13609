"""Capture a tenth held-out agent corpus (agents-10): capture_agents.py's machinery, new code bases, new questions.

    .venv/bin/python scripts/capture_holdout10.py [--work DIR] [--only ID_PREFIX] [--out FILE]

agents-9 was measured held out and then shipped, so like the eight before it it no longer tells how the compressor
does on requests it has never seen. This one is made the same way (the real Claude Code and Codex CLIs, driven by the
fake upstream to call their own built-in tools, the bodies they then send) on code bases no earlier capture uses:
PyPI sdists of two successive releases of mistune (3.0.1, 3.0.2) and semantic_version (2.9.0, 2.10.0) made into git
repositories, and copies of the venv's redis (redis-py) and psycopg. Its scenarios cover the same tool-output formats
in the same proportions as capture_holdout9.py (the same 40 kinds of case, the same scenario names and tool-call
shapes), with new questions, asked the way a user of each code base would ask them (an error they hit, a default they
rely on, a change they weigh, a release they upgrade to); each fact is an exact line (or, for Codex's JSON-serialised
results, an exact piece of one) of a tool output that the question needs, picked by what the question asks. A source
line is found by `numbered`/`nl`, which walk successive needles and insist that the first is unique in its file, so a
fact is never another function's copy of the same statement; a line of a tool output is found from the line that
opens the part the question is about. A failing-tests case's facts are its FAILED lines (and, for semantic_version,
whose unittest cases loop with subTest, its SUBFAILED lines) and exit status, not the progress dots or section rulers.

Each sdist was checked before it was picked: downloaded, unpacked and its tests run with the venv's pytest and no
plugins. mistune's suite (tests, 941 tests) runs as it is (its pyproject puts src on pytest's pythonpath);
semantic_version's (tests) runs as it is, its 16 Django tests skipped (Django is not installed). boltons 23.1.1/24.0.0
(its conftest's pytest_ignore_collect(path) hook is rejected by this pytest), configobj (the 5.0.8 sdist has no
tests), pycparser 2.21/2.22 (tests/test_examples.py fails on the c_json.py example in both), parso 0.8.3 (46 of its
tests fail on Python 3.11), rsa 4.8/4.9 (no tests in the sdist), pycodestyle 2.11.1/2.12.0 (its tests import
testing.support, which the sdist leaves out), Markdown 3.6 (its sdist is Markdown-3.6.tar.gz, a name the machinery's
`name-version` tarball and directory do not match) and termcolor 2.4.0/2.5.0 (its suite passes with PYTHONPATH=src,
but it is one small module) were tried and set aside. redis and psycopg as installed carry no tests, so their
scenarios only read, search, edit and diff.

It is written outside the repository (default /work/holdout/agents-10.jsonl.gz) so that it stays held out: it was
captured blind (no compressor, benchmark or eval was run on it while it was made, and how headroom compresses it was
not looked at). It was measured held out on 2026-12-04 with the code after agents-9's fixes (37.2% saved; by the
eval's classifier 400/451 verbatim, 4 named, 47 lost, 0 false marker claims: see docs/benchmarks.md), then looked at
and shipped as headroom/evals/data/agents-10.jsonl.gz, so it is no longer held out: a new held-out capture needs new
code bases and questions (change SDISTS, COPIES and the scenarios).

Its first run (2026-12-04, Claude Code 2.1.197 and Codex 0.169.1, installed into .cache by npm) captured 39 of the
40 scenarios: cx_direct_rg's `rg -n timeout` is case-sensitive and missed `_DEFAULT_CONNECT_TIMEOUT = 130` (it now
runs `rg -n -i timeout`). Every case's facts were then read against its raw tool outputs, and ten more scenarios were
changed and run again with --only, their cases merged in by id: cc_grep_content_paginated and cx_exec_rg left out
lines of the messages their questions ask for (the `f"can't change {attribute!r} now: "` lines, the third line of the
in-transaction message; cx_exec_rg now takes every message line after each raise); cc_bash_log took only
TestPlugin1_table's tests, while TestPlugin2_table and TestExtraPlugins::test_table_in_* test the table plugin too;
cc_bash_git_log_p asked whether 1.0.0+b1 == 1.0.0+b2 still holds, which the diff does not show (it now asks whether <
and > take the build into account); cc_edit now also has the line its Edit spans; cc_later_edit's `raise` needle
hit the `if self.raise_on_release_error:` line above it, so the bare `raise` was missing; cx_exec_pytest_pass took
the progress lines' `SKIPPED [ 25%]` for skip reasons (it now takes the -rs summary and the closing count);
cx_exec_git_stat asked for documentation pages but took only the .rst ones (it now asks for the .rst pages);
cx_direct_later left out the `parameter.` that ends tuple_row's sentence about the default. The cases of all 40
scenarios are in /work/holdout/agents-10.jsonl.gz: 40 cases with 451 facts (Claude Code 25 cases, 308 facts; Codex
15 cases, 143 facts).

Needs the npm registry and PyPI (for the CLI installs and the sdists).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_agents import PY, Capture, direct, exec_js, exec_patch, main  # noqa: E402
from capture_holdout3 import _newest_changes, _stat_lines  # noqa: E402
from capture_holdout8 import failed_lines, nl, numbered, output_lines_after, scenarios_in, src_line  # noqa: E402

OUT = Path("/work/holdout/agents-10.jsonl.gz")
WORK = Path("/tmp/headroom-holdout10")
SDISTS = (("mistune", "3.0.1", "3.0.2"), ("semantic_version", "2.9.0", "2.10.0"))
COPIES = ("redis", "psycopg")
PYTEST = f"{PY} -m pytest -p no:cacheprovider"

SCENARIOS: list[Callable[[Capture], None]] = []


scenario = scenarios_in(SCENARIOS)


def failed_and_subfailed(text: str) -> list[str]:
    """failed_lines, plus the `SUBFAILED(...) test` lines pytest prints for each failing subtest of a unittest
    TestCase (semantic_version's tests loop over cases with self.subTest)."""
    return failed_lines(text) + [ln for ln in text.splitlines() if ln.startswith("SUBFAILED(")]


# ---- Claude Code --------------------------------------------------------------------------------------

@scenario
def cc_read_full(c: Capture) -> None:
    repo = c.repos["mistune"]
    path = repo / "src/mistune/__init__.py"
    case = c.claude("cc-read-full-mistune-init", "read-full", repo,
                    "We render user comments with mistune.html(text). Does that escape raw HTML such as a <script> "
                    "tag the user typed? And if we switch to mistune.markdown(text) or our own create_markdown(), "
                    "what is the default there? Check mistune's __init__.py.",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "def create_markdown(escape: bool=True, hard_wrap: bool=False, renderer='html'"),
             numbered(path, "def create_markdown(", "elif renderer == 'html':"),
             numbered(path, "def create_markdown(", "renderer = HTMLRenderer(escape=escape)"),
             numbered(path, "html: Markdown = create_markdown("),
             numbered(path, "html: Markdown = create_markdown(", "escape=False,"),
             numbered(path, "html: Markdown = create_markdown(", "plugins=['strikethrough', 'footnotes', 'table'"),
             numbered(path, "def markdown(text, escape=True, renderer='html', plugins=None) -> str:"))


@scenario
def cc_read_partial(c: Capture) -> None:
    repo = c.repos["redis"]
    path = repo / "redis/backoff.py"
    anchor = "class ExponentialBackoff(AbstractBackoff):"
    case = c.claude("cc-read-partial-redis-backoff", "read-partial", repo,
                    "We wrap our redis-py client in Retry(ExponentialBackoff(), 3). How long does it wait after the "
                    "first, second and third failure with the default arguments, and what is the longest wait?",
                    [("Read", {"file_path": str(path), "offset": 1, "limit": src_line(path, anchor) + 22})])
    case.add(numbered(path, "DEFAULT_CAP = 0.512"), numbered(path, "DEFAULT_BASE = 0.008"),
             numbered(path, "return math.ldexp(base, failures)"),
             numbered(path, anchor, "def __init__(self, cap: float = DEFAULT_CAP, base: float = DEFAULT_BASE)"),
             numbered(path, anchor, "return min(self._cap, _exponential(self._base, failures))"))


@scenario
def cc_read_large(c: Capture) -> None:
    repo = c.repos["redis"]
    path = repo / "redis/connection.py"
    anchor = "class AbstractConnection("
    init = src_line(path, anchor, "    def __init__(")
    case = c.claude("cc-read-large-redis-connection-timeouts", "read-large", repo,
                    "After a Redis failover our commands die with TimeoutError and are never retried. With a plain "
                    "Connection, which socket_timeout and socket_connect_timeout does redis-py use by default, and "
                    "does it retry a command that timed out? Read redis/connection.py.",
                    [("Read", {"file_path": str(path)}),
                     ("Read", {"file_path": str(path), "offset": init - 8, "limit": 130})])
    case.add(numbered(path, anchor, "socket_timeout: Optional[float] = DEFAULT_SOCKET_TIMEOUT,"),
             numbered(path, anchor, "socket_connect_timeout: Optional[float] = DEFAULT_SOCKET_CONNECT_TIMEOUT,"),
             numbered(path, anchor, "retry_on_timeout: bool = False,"),
             numbered(path, anchor, "To retry on TimeoutError, `retry_on_timeout` can also be set to `True`."),
             numbered(path, anchor, "if socket_connect_timeout is None:"),
             numbered(path, anchor, "if socket_connect_timeout is None:", "socket_connect_timeout = socket_timeout"),
             numbered(path, anchor, "        if retry_on_timeout:"),
             numbered(path, anchor, "retry_on_errors_list.append(TimeoutError)"),
             numbered(path, anchor, "self.retry = Retry(NoBackoff(), 1)"),
             numbered(path, anchor, "self.retry = Retry(NoBackoff(), 0)"))


@scenario
def cc_read_doc(c: Capture) -> None:
    repo = c.repos["semantic_version"]
    path = repo / "ChangeLog"
    case = c.claude("cc-read-doc-semantic-version-changelog", "read-full-doc", repo,
                    "We're upgrading semantic_version from 2.8.4 to 2.10.0. We sort lists of versions that carry "
                    "build metadata, and our specs use wildcards like SimpleSpec('==1.2.*'). What changed for us in "
                    "between, release by release? Check the ChangeLog.",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "2.10.0 (2022-05-26)"),
             numbered(path, "Ensure sorting a collection of versions is always stable, even with"),
             numbered(path, "Ensure sorting a collection of versions is always stable, even with", "build metadata."),
             numbered(path, "2.9.0 (2022-02-06)"),
             numbered(path, "Add support for Django 3.1, 3.2, 4.0"),
             numbered(path, "Add support for Python 3.7 / 3.8 / 3.9 / 3.10"),
             numbered(path, "2.8.5 (2020-04-29)"),
             numbered(path, "Properly handle wildcards in ``SimpleSpec`` (e.g. ``==1.2.*``)."))


@scenario
def cc_read_repeat(c: Capture) -> None:
    repo = c.repos["psycopg"]
    path = repo / "psycopg/__init__.py"
    case = c.claude("cc-read-repeat-psycopg-init", "read-repeat", repo,
                    "Which DB-API exception classes can I import straight from the psycopg package? Read its "
                    "__init__ again before you answer, I want the exact list.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path)})])
    for n, ln in enumerate(path.read_text().splitlines(), 1):
        if ln.startswith("from .errors import"):
            case.add(f"{n}\t{ln}")


@scenario
def cc_grep_content(c: Capture) -> None:
    repo = c.repos["semantic_version"]
    case = c.claude("cc-grep-content-semantic-version-errors", "grep-content", repo,
                    "Our release tooling feeds git tags to semantic_version.Version and some tags blow up with "
                    "ValueError. Which messages can parsing a version string raise, and for what input?",
                    [("Grep", {"pattern": "raise ValueError", "path": str(repo / "semantic_version/base.py"),
                               "output_mode": "content", "-n": True})])
    case.add("raise ValueError('Invalid empty version string: %r' % version_string)",
             "raise ValueError('Invalid version string: %r' % version_string)",
             'raise ValueError("Invalid leading zero in major: %r" % version_string)',
             'raise ValueError("Invalid leading zero in minor: %r" % version_string)',
             'raise ValueError("Invalid leading zero in patch: %r" % version_string)',
             'raise ValueError("Invalid leading zero in identifier %r" % item)')


@scenario
def cc_grep_context(c: Capture) -> None:
    repo = c.repos["redis"]
    case = c.claude("cc-grep-context-redis-lock-defaults", "grep-context", repo,
                    "Our worker takes r.lock('nightly-report') and sometimes sits there forever, and a crashed "
                    "worker's lock never goes away. What are redis-py's Lock defaults for timeout, sleep, blocking "
                    "and blocking_timeout?",
                    [("Grep", {"pattern": "sleep: Number = 0\\.1", "path": str(repo / "redis/lock.py"),
                               "output_mode": "content", "-n": True, "-C": 4})])
    case.facts.extend(output_lines_after(case.outputs()[-1], "name: str,", "timeout: Optional[Number] = None,",
                                         "sleep: Number = 0.1,", "blocking: bool = True,",
                                         "blocking_timeout: Optional[Number] = None,"))


@scenario
def cc_grep_content_paginated(c: Capture) -> None:
    repo = c.repos["psycopg"]
    case = c.claude("cc-grep-content-psycopg-intrans", "grep-content-paginated", repo,
                    "Setting conn.autocommit = True sometimes raises ProgrammingError in our app, right after a "
                    "SELECT. When does psycopg refuse to change autocommit, and what does the error say?",
                    [("Grep", {"pattern": "self|def |return|raise|status|transaction|now: ",
                               "path": str(repo / "psycopg/_connection_base.py"), "output_mode": "content",
                               "-n": True})])
    out = case.outputs()[-1]
    case.facts.extend(output_lines_after(out, "def _set_autocommit_gen(",
                                         'yield from self._check_intrans_gen("autocommit")'))
    case.facts.extend(output_lines_after(out, "def _check_intrans_gen(self, attribute: str)",
                                         "def _check_intrans_gen(self, attribute: str)", "if status != IDLE:",
                                         "if self._num_transactions:", "f\"can't change {attribute!r} now: \"",
                                         '"connection.transaction() context in progress"'))
    # the second message repeats the first line: it is read from the end of the first message on
    case.facts.extend(output_lines_after(out, '"connection.transaction() context in progress"',
                                         "f\"can't change {attribute!r} now: \"",
                                         '"connection in transaction status "',
                                         "{pq.TransactionStatus(status).name}"))


@scenario
def cc_grep_files(c: Capture) -> None:
    repo = c.repos["psycopg"]
    case = c.claude("cc-grep-files-psycopg-pq", "grep-files", repo,
                    "We're checking how much of psycopg talks to libpq directly. Which of its modules import the pq "
                    "wrapper package?",
                    [("Grep", {"pattern": "from \\.+ import pq|from \\.+pq import|import pq\\b",
                               "path": str(repo / "psycopg")})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cc_grep_count(c: Capture) -> None:
    repo = c.repos["semantic_version"]
    case = c.claude("cc-grep-count-semantic-version-tests", "grep-count", repo,
                    "Before we patch semantic_version's spec matching: how many test methods does each of its test "
                    "files have?",
                    [("Grep", {"pattern": "def test_", "path": str(repo / "tests"), "output_mode": "count"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if re.search(r"\.py:\d+$", ln))


@scenario
def cc_glob(c: Capture) -> None:
    repo = c.repos["redis"]
    case = c.claude("cc-glob-redis-parsers", "glob", repo,
                    "We're deciding whether to install hiredis. Which response parsers does redis-py ship? List the "
                    "modules under redis/_parsers.",
                    [("Glob", {"pattern": "redis/_parsers/*.py", "path": str(repo)})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cc_bash_find(c: Capture) -> None:
    repo = c.repos["mistune"]
    case = c.claude("cc-bash-find-mistune", "bash-listing", repo,
                    "Packaging mistune for our distro: besides the Python modules, which files does its sdist "
                    "carry?",
                    [("Bash", {"command": "find . -path ./.git -prune -o -type f -print | sort",
                               "description": "List files in the sdist"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("./") and not ln.endswith(".py"))


@scenario
def cc_bash_log(c: Capture) -> None:
    repo = c.repos["mistune"]
    case = c.claude("cc-bash-log-mistune-plugins", "bash-log", repo,
                    "Our docs site relies on mistune's table plugin. Run its plugin tests verbosely: which table "
                    "tests ran, and did they all pass?",
                    [("Bash", {"command": f"{PYTEST} -v tests/test_plugins.py",
                               "description": "Run mistune plugin tests verbosely"})])
    # the table plugin is tested alone (TestPlugin1_table), with the other plugins (TestPlugin2_table) and inside
    # lists and quotes (TestExtraPlugins::test_table_in_*)
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("tests/test_plugins.py::") and "table" in ln.split(" ", 1)[0])


@scenario
def cc_bash_git_stat(c: Capture) -> None:
    repo = c.repos["semantic_version"]
    case = c.claude("cc-bash-git-log-stat-semantic-version", "bash-git-log-stat", repo,
                    "Between semantic_version 2.9.0 and 2.10.0, how many lines changed in base.py and in its "
                    "tests?",
                    [("Bash", {"command": "git log --stat", "description": "Show commit history with stats"})])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"(?:semantic_version/base|tests/test_base)\.py"))


@scenario
def cc_bash_git_log_p(c: Capture) -> None:
    repo = c.repos["semantic_version"]
    case = c.claude("cc-bash-git-log-p-semantic-version", "bash-git-log-p", repo,
                    "semantic_version 2.10.0 says sorting versions is now stable even with build metadata. What "
                    "exactly changed in the package code for that, and do < and > now take the build into account? "
                    "Show me the diff.",
                    [("Bash", {"command": "git log -p -1 -- semantic_version",
                               "description": "Show the latest change to the package"})])
    case.facts.extend(_newest_changes(case.outputs()[-1]))


@scenario
def cc_bash_persisted_git(c: Capture) -> None:
    repo = c.repos["mistune"]
    # The docs' whole history (3.0.1 adds every page) is about 75 KB, so Claude Code persists it and shows a
    # preview.
    case = c.claude("cc-bash-persisted-mistune-git-log-p", "bash-persisted", repo,
                    "What did mistune's latest release change in its documentation? Show it as a diff.",
                    [("Bash", {"command": "git log -p -- docs", "description": "Show history of the docs"})])
    case.add("Full output saved to")
    case.facts.extend(f for f in _newest_changes(case.outputs()[-1]) if f not in case.facts)


@scenario
def cc_bash_persisted(c: Capture) -> None:
    repo = c.repos["mistune"]
    case = c.claude("cc-bash-persisted-mistune-tests", "bash-persisted", repo,
                    "Run mistune's whole test suite verbosely with per-test timings. Where did the full log go, and "
                    "which test opens it, with what result?",
                    [("Bash", {"command": f"{PYTEST} -v -rA --durations=0 --durations-min=0 tests",
                               "description": "Run mistune tests with timings"})])
    case.add("Full output saved to")
    case.add("PASSED", nth=0)


@scenario
def cc_bash_failing(c: Capture) -> None:
    repo = c.fresh("semantic_version", "cc-bash-failing-semantic-version")
    path = repo / "semantic_version/base.py"
    old = "def __init__(self, operator, target, prerelease_policy=PRERELEASE_NATURAL, build_policy=BUILD_IMPLICIT):"
    n = src_line(path, "class Range(Matcher):", old)
    case = c.claude("cc-bash-failing-semantic-version-prerelease", "bash-failing-tests", repo,
                    "Our canary channel wants SimpleSpec('<2.0.0') to accept 2.0.0-rc1. Make semantic_version's "
                    "Range use the 'always' prerelease policy by default, then run the test suite: what breaks?",
                    [("Read", {"file_path": str(path), "offset": n - 22, "limit": 30}),
                     ("Edit", {"file_path": str(path), "old_string": old,
                               "new_string": old.replace("=PRERELEASE_NATURAL", "=PRERELEASE_ALWAYS")}),
                     ("Bash", {"command": f"{PYTEST} -q tests", "description": "Run semantic_version tests"})])
    case.facts.extend(failed_and_subfailed(case.outputs()[-1]))
    case.add("Exit code 1")


@scenario
def cc_bash_failing_big(c: Capture) -> None:
    repo = c.fresh("mistune", "cc-bash-failing-big-mistune")
    path = repo / "src/mistune/renderers/html.py"
    old = "        return '<br />\\n'"
    n = src_line(path, "    def linebreak(self) -> str:", old)
    case = c.claude("cc-bash-failing-big-mistune", "bash-failing-tests", repo,
                    "Our templates are HTML5 and the validator flags self-closing tags: make mistune's HTML renderer "
                    "emit <br> instead of <br /> for line breaks, then run the whole test suite. Which tests fail?",
                    [("Read", {"file_path": str(path), "offset": n - 4, "limit": 8}),
                     ("Edit", {"file_path": str(path), "old_string": old,
                               "new_string": "        return '<br>\\n'"}),
                     ("Bash", {"command": f"{PYTEST} tests", "description": "Run mistune tests"})])
    case.facts.extend(failed_lines(case.outputs()[-1]))
    case.add("Exit code 1")


@scenario
def cc_edit(c: Capture) -> None:
    repo = c.fresh("redis", "cc-edit-redis-backoff")
    path = repo / "redis/backoff.py"
    line = "DEFAULT_CAP = 0.512"
    n = src_line(path, line)
    case = c.claude("cc-edit-redis-backoff-cap", "edit", repo,
                    "Our Redis Sentinel failovers take a couple of seconds, so retries give up too early: raise "
                    "redis-py's default backoff cap from 0.512 s to 2 s.",
                    [("Read", {"file_path": str(path), "offset": 1, "limit": n + 4}),
                     ("Edit", {"file_path": str(path), "old_string": line, "new_string": "DEFAULT_CAP = 2.0"})])
    case.add(f"{n}\t{line}")  # the line the Edit spans, as the Read showed it
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_write(c: Capture) -> None:
    repo = c.fresh("semantic_version", "cc-write-semantic-version")
    case = c.claude("cc-write-semantic-version", "write", repo,
                    "Add tests/test_build_order.py: sorting 1.0.0+b2 and 1.0.0+b1 must give b1 first, while the two "
                    "still compare equal.",
                    [("Write", {"file_path": str(repo / "tests/test_build_order.py"),
                                "content": "from semantic_version import Version\n\n\n"
                                           "def test_build_metadata_sorts_but_compares_equal():\n"
                                           "    b1, b2 = Version('1.0.0+b1'), Version('1.0.0+b2')\n"
                                           "    assert sorted([b2, b1]) == [b1, b2]\n"
                                           "    assert not b1 < b2 and not b2 < b1\n"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_later_read(c: Capture) -> None:
    repo = c.repos["psycopg"]
    path = repo / "psycopg/connection.py"
    case = c.claude("cc-later-read-psycopg-connection", "read-full-later", repo,
                    "Explain how psycopg's Connection.connect() tries the hosts in a multi-host conninfo. Read "
                    "psycopg/connection.py.",
                    [("Read", {"file_path": str(path)})],
                    later="We go through PgBouncer in transaction mode and get 'prepared statement does not exist'. "
                          "What does connect() default prepare_threshold to, is autocommit on by default, and where "
                          "are both applied? Quote the lines.")
    anchor = "    def connect("
    case.add(numbered(path, anchor, "autocommit: bool = False,"),
             numbered(path, anchor, "prepare_threshold: int | None = 5,"),
             numbered(path, anchor, "rv._autocommit = bool(autocommit)"),
             numbered(path, anchor, "rv.prepare_threshold = prepare_threshold"))


@scenario
def cc_later_grep(c: Capture) -> None:
    repo = c.repos["redis"]
    case = c.claude("cc-later-grep-redis-exceptions", "grep-content-later", repo,
                    "List the exception classes redis-py defines in redis/exceptions.py.",
                    [("Grep", {"pattern": "^class ", "path": str(repo / "redis/exceptions.py"),
                               "output_mode": "content", "-n": True})],
                    later="Our handler catches ConnectionError. Does that also catch a read timeout and a failed "
                          "AUTH? Which classes are those, and what do they derive from? Lines?")
    case.add("class ConnectionError(RedisError):", "class TimeoutError(RedisError):",
             "class AuthenticationError(ConnectionError):")


@scenario
def cc_later_bash(c: Capture) -> None:
    repo = c.repos["mistune"]
    case = c.claude("cc-later-bash-mistune-misc", "bash-log-later", repo,
                    "Run mistune's misc, hooks and renderer tests verbosely; is everything green?",
                    [("Bash", {"command": f"{PYTEST} -v tests/test_misc.py tests/test_hooks.py tests/test_renderers.py",
                               "description": "Run misc, hooks and renderer tests verbosely"})],
                    later="We render untrusted input. Which of those tests cover HTML escaping and harmful or data: "
                          "links, and what did each report?")
    for name in ("test_allow_data_protocols", "test_allow_harmful_protocols", "test_escape_html",
                 "test_harmful_links"):
        case.add(f"tests/test_misc.py::TestMiscCases::{name} ")


@scenario
def cc_later_edit(c: Capture) -> None:
    repo = c.fresh("redis", "cc-later-edit-redis-lock")
    path = repo / "redis/lock.py"
    case = c.claude("cc-later-edit-redis-lock", "read-full-later", repo,
                    "Read redis/lock.py: how does Lock.release make sure we only delete our own lock?",
                    [("Read", {"file_path": str(path)})],
                    later="Our jobs sometimes outlive the lock timeout, and leaving the `with lock:` block then "
                          "raises LockNotOwnedError. In our fork the context manager should only log that by "
                          "default. Which exact lines will you edit?")
    anchor = "class Lock:"
    case.add(numbered(path, anchor, "raise_on_release_error: bool = True,"),
             numbered(path, anchor, "the lock is no longer owned when exiting the context manager. By default,"),
             numbered(path, anchor, "this is True, meaning an exception will be raised. If False, the warning"),
             numbered(path, anchor, "    def __exit__(", "if self.raise_on_release_error:"))
    n = src_line(path, anchor, "    def __exit__(", "if self.raise_on_release_error:")
    case.add(f"{n + 1}\t{path.read_text().splitlines()[n]}")  # its bare `raise` (a needle would hit the `if`)


# ---- Codex --------------------------------------------------------------------------------------------

HR_PATCH = """*** Begin Patch
*** Update File: src/mistune/renderers/html.py
@@
     def thematic_break(self) -> str:
-        return '<hr />\\n'
+        return '<hr>\\n'
*** End Patch
"""


@scenario
def cx_exec_nl(c: Capture) -> None:
    repo = c.repos["semantic_version"]
    path = repo / "semantic_version/base.py"
    anchor = "class Range(Matcher):"
    start = src_line(path, anchor)
    case = c.codex("cx-exec-nl-semantic-version-range", "codex-exec-nl", repo,
                   "SimpleSpec('<2.0.0') doesn't match 2.0.0-rc1 for us, though rc1 sorts before 2.0.0. Why? Show "
                   "me Range and its match method in semantic_version/base.py.",
                   [exec_js(f"nl -ba semantic_version/base.py | sed -n {start},{start + 85}p")])
    case.add(nl(path, anchor, "# <1.2.3 does not match 1.2.3-a1"),
             nl(path, anchor, "PRERELEASE_NATURAL = 'natural'"),
             nl(path, anchor, "def __init__(self, operator, target, prerelease_policy=PRERELEASE_NATURAL"),
             nl(path, anchor, "elif self.operator == self.OP_LT:"),
             nl(path, anchor, "elif self.operator == self.OP_LT:", "version.prerelease"),
             nl(path, anchor, "elif self.operator == self.OP_LT:",
                "and self.prerelease_policy == self.PRERELEASE_NATURAL"),
             nl(path, anchor, "elif self.operator == self.OP_LT:", "and version.truncate() == self.target.truncate()"),
             nl(path, anchor, "elif self.operator == self.OP_LT:", "and not self.target.prerelease"),
             nl(path, anchor, "elif self.operator == self.OP_LT:", "return False"))


@scenario
def cx_exec_rg(c: Capture) -> None:
    repo = c.repos["psycopg"]
    case = c.codex("cx-exec-rg-psycopg-programming-errors", "codex-exec-rg", repo,
                   "Our code gets ProgrammingError from psycopg when it calls commit() or rollback() inside "
                   "`with conn.transaction():`, or changes settings mid-transaction. Which misuses does the "
                   "connection refuse, and with which message?",
                   [exec_js("rg -n -A 3 'raise e.ProgrammingError' psycopg/_connection_base.py")])
    # every message: the string-literal lines of the context after each raise (two of them open the same way)
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if re.match(r'\d+-\s+f?"', ln))
    if not any("Explicit commit() forbidden within a Transaction" in f for f in case.facts):
        raise LookupError(f"{case.id}: the commit() message is not in the output")


@scenario
def cx_exec_rg_files(c: Capture) -> None:
    repo = c.repos["redis"]
    case = c.codex("cx-exec-rg-files-redis-retry", "codex-exec-rg-files", repo,
                   "We want one retry policy everywhere. Which redis-py modules import from its retry module?",
                   [exec_js("rg -l 'retry import' redis")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cx_exec_failing(c: Capture) -> None:
    repo = c.fresh("mistune", "cx-exec-failing-mistune")
    case = c.codex("cx-exec-failing-mistune-hr", "codex-exec-failing-tests", repo,
                   "Our HTML5 validator flags <hr />. Make mistune render thematic breaks as <hr>, run the test "
                   "suite, and tell me which tests expect the old tag.",
                   [exec_patch(HR_PATCH), exec_js(f"{PYTEST} -q tests", whole=True)])
    case.facts.extend(m.group(0) for m in re.finditer(r"FAILED [^\\\n]+", case.outputs()[-1]))
    case.add_exact('"exit_code":1')


@scenario
def cx_exec_truncated(c: Capture) -> None:
    repo = c.repos["semantic_version"]
    case = c.codex("cx-exec-truncated-semantic-version-log", "codex-exec-truncated", repo,
                   "Dump semantic_version's whole history with patches. Which release is the tip commit, and which "
                   "file does its patch touch first?",
                   [exec_js("git log -p", whole=True)])
    case.add("semantic_version 2.10.0", nth=0)
    case.add("diff --git", nth=0)


LOCK_MESSAGE_PATCH = """*** Begin Patch
*** Update File: redis/lock.py
@@
         raise LockError(
-            "Unable to acquire lock within the time specified",
+            f"Unable to acquire lock {self.name!r} within the time specified "
+            f"(blocking_timeout={self.blocking_timeout!r})",
             lock_name=self.name,
         )
*** End Patch
"""


@scenario
def cx_exec_apply_patch(c: Capture) -> None:
    repo = c.fresh("redis", "cx-exec-apply-patch-redis")
    case = c.codex("cx-exec-apply-patch-redis-lock", "codex-exec-apply-patch", repo,
                   "When `with r.lock(...)` can't get the lock, our logs just say 'Unable to acquire lock within the "
                   "time specified'. Make the message name the lock and the blocking_timeout, then show me the diff.",
                   [exec_patch(LOCK_MESSAGE_PATCH), exec_js("git diff")])
    case.add('-            "Unable to acquire lock within the time specified",',
             '+            f"Unable to acquire lock {self.name!r} within the time specified "',
             '+            f"(blocking_timeout={self.blocking_timeout!r})",', "@@ ")


VERSION_MESSAGE_PATCH = """*** Begin Patch
*** Update File: semantic_version/base.py
@@
         match = version_re.match(version_string)
         if not match:
-            raise ValueError('Invalid version string: %r' % version_string)
+            raise ValueError(
+                'Invalid version string: %r (expected MAJOR.MINOR.PATCH; see Version.coerce)'
+                % version_string
+            )
*** End Patch
"""


@scenario
def cx_direct_apply_patch(c: Capture) -> None:
    repo = c.fresh("semantic_version", "cx-direct-apply-patch-semantic-version")
    case = c.codex("cx-direct-apply-patch-semantic-version", "codex-cmd-apply-patch", repo,
                   "Users who pass 'v1.2' get a bare 'Invalid version string' error: make Version.parse's message "
                   "say what it expects and point them at Version.coerce.",
                   [("custom", "apply_patch", VERSION_MESSAGE_PATCH)])
    case.add_exact(case.outputs()[-1])


@scenario
def cx_exec_pytest_pass(c: Capture) -> None:
    repo = c.repos["semantic_version"]
    case = c.codex("cx-exec-pytest-semantic-version-django", "codex-exec-log", repo,
                   "We store versions in Django models with semantic_version's VersionField. Run its Django tests "
                   "verbosely: do they run in this environment, and if not, why not?",
                   [exec_js(f"{PYTEST} -v -rs tests/test_django.py", whole=True)])
    out = case.outputs()[-1]
    # the -rs summary (how many were skipped and why) and the closing count; not the progress lines' "[ 25%]"
    case.facts.extend(m.group(0) for m in re.finditer(r"SKIPPED \[\d+\] [^\\\n]+", out))
    case.facts.extend(m.group(0) for m in re.finditer(r"\d+ skipped in [\d.]+s", out))


@scenario
def cx_exec_git_stat(c: Capture) -> None:
    repo = c.repos["mistune"]
    case = c.codex("cx-exec-git-stat-mistune", "codex-exec-git-log-stat", repo,
                   "Going from mistune 3.0.1 to 3.0.2, which package modules and which .rst pages of the docs "
                   "changed, and by how many lines?",
                   [exec_js("git log --stat")])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"(?:src/mistune/\S+\.py|docs/\S+\.rst)"))


@scenario
def cx_exec_later(c: Capture) -> None:
    repo = c.repos["psycopg"]
    path = repo / "psycopg/__init__.py"
    case = c.codex("cx-exec-later-psycopg-init", "codex-exec-nl-later", repo,
                   "What does the psycopg package export at top level?",
                   [exec_js("nl -ba psycopg/__init__.py")],
                   later="We're moving to asyncio: which name do I import for an async connection, from which "
                         "module does it come, and which paramstyle does psycopg declare for query parameters? Give "
                         "the lines.")
    case.add(nl(path, "from .connection_async import AsyncConnection"), nl(path, 'paramstyle = "pyformat"'))


@scenario
def cx_direct_nl(c: Capture) -> None:
    repo = c.repos["redis"]
    path = repo / "redis/retry.py"
    anchor = "    def call_with_retry("
    start = src_line(path, anchor)
    case = c.codex("cx-direct-nl-redis-retry", "codex-cmd-nl", repo,
                   "With Retry(ExponentialBackoff(), 3), how many times does redis-py run a failing command before "
                   "the error reaches us, and does it sleep after the last failure?",
                   [direct(f"nl -ba redis/retry.py | sed -n {start},{start + 46}p")])
    case.add(nl(path, anchor), nl(path, anchor, "failures += 1"),
             nl(path, anchor, "if self._retries >= 0 and failures > self._retries:"),
             nl(path, anchor, "if self._retries >= 0 and failures > self._retries:", "raise error"),
             nl(path, anchor, "backoff = self._backoff.compute(failures)"),
             nl(path, anchor, "sleep(backoff)"))


@scenario
def cx_direct_rg(c: Capture) -> None:
    repo = c.repos["psycopg"]
    case = c.codex("cx-direct-rg-psycopg-connect-timeout", "codex-cmd-rg", repo,
                   "When the database host is down, psycopg.connect() hangs for about two minutes before failing. "
                   "Where does that come from, and what happens if we set connect_timeout=0 or 1?",
                   [direct("rg -n -i timeout psycopg/conninfo.py")])
    case.add("_DEFAULT_CONNECT_TIMEOUT = 130", 'get_param(params, "connect_timeout")',
             "value = _DEFAULT_CONNECT_TIMEOUT", "if timeout <= 0:", "timeout = _DEFAULT_CONNECT_TIMEOUT",
             "elif timeout < 2:", "        timeout = 2")


@scenario
def cx_direct_failing(c: Capture) -> None:
    repo = c.fresh("mistune", "cx-direct-failing-mistune")
    case = c.codex("cx-direct-failing-mistune-hr", "codex-cmd-failing-tests", repo,
                   "Make mistune render thematic breaks as <hr> instead of <hr /> and run the tests: which ones "
                   "fail?",
                   [exec_patch(HR_PATCH), direct(f"{PYTEST} -q tests")])
    case.facts.extend(failed_lines(case.outputs()[-1]))
    case.add("Process exited with code 1")


@scenario
def cx_direct_truncated(c: Capture) -> None:
    repo = c.repos["redis"]
    case = c.codex("cx-direct-truncated-redis-client", "codex-cmd-truncated", repo,
                   "cat redis/client.py: what does it import first, and which method does the file end with?",
                   [direct("cat redis/client.py")])
    # Codex keeps the head and the tail of this 2400-line file and drops the middle, so the question asks for what
    # its ends hold.
    out = case.outputs()[-1].splitlines()
    imports = [ln for ln in out if re.match(r"(import|from) \w", ln)]
    methods = [ln for ln in out if re.match(r"    def \w+\(", ln)]
    if not imports or not methods:
        raise LookupError(f"{case.id}: no import or no method in the output")
    case.facts.extend((imports[0], methods[-1]))


@scenario
def cx_direct_later(c: Capture) -> None:
    repo = c.repos["psycopg"]
    path = repo / "psycopg/rows.py"
    case = c.codex("cx-direct-later-psycopg-rows", "codex-cmd-nl-later", repo,
                   "Show me psycopg's rows module: which row factories does it offer?",
                   [direct("nl -ba psycopg/rows.py")],
                   later="Our API returns query results as JSON objects. Which row factory gives dicts keyed by "
                         "column name, and what do we get if we pass none? Quote the lines.")
    case.add(nl(path, "def dict_row("),
             nl(path, "def dict_row(", "The dictionary keys are taken from the column names of the returned columns."),
             nl(path, "def dict_row(", "return dict(zip(names, values))"),
             nl(path, "def tuple_row("),
             nl(path, "def tuple_row(", "This is the default factory, used when `~psycopg.Connection.connect()` or"),
             nl(path, "def tuple_row(", "`~psycopg.Connection.cursor()` are called without a `!row_factory`"),
             nl(path, "def tuple_row(", "`~psycopg.Connection.cursor()` are called without a `!row_factory`",
                "    parameter."))


if __name__ == "__main__":
    raise SystemExit(main(doc=__doc__, scenarios=SCENARIOS, out=OUT, work=WORK, sdists_of=SDISTS, copies=COPIES))
