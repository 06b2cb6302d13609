"""Capture an eighth held-out agent corpus (agents-8): capture_agents.py's machinery, new code bases, new questions.

    .venv/bin/python scripts/capture_holdout8.py [--work DIR] [--only ID_PREFIX] [--out FILE]

agents-7 was measured held out and then looked at, so like the six before it it no longer tells how the compressor
does on requests it has never seen. This one is made the same way (the real Claude Code and Codex CLIs, driven by the
fake upstream to call their own built-in tools, the bodies they then send) on code bases no earlier capture uses:
PyPI sdists of two successive releases of parse (1.20.1, 1.20.2) and tomlkit (0.12.5, 0.13.0) made into git
repositories, and copies of the venv's flask and asgiref. Its scenarios cover the same tool-output formats in about
the same proportions as capture_holdout7.py (the same 40 kinds of case), with new questions, asked the way a user of
each code base would ask them (an error they hit, a default they rely on, a change they weigh, a release they
upgrade to); each fact is an exact line (or, for Codex's JSON-serialised results, an exact piece of one) of a tool
output that the question needs, picked by what the question asks. A source line is found by `numbered`/`nl`, which
walk successive needles and insist that the first is unique in its file, so a fact is never another function's copy
of the same statement; a line of a tool output is found from the line that opens the part the question is about.
A failing-tests case's facts are its FAILED lines and exit status (the test names the answer must give), not the
progress dots or section rulers.

pycodestyle was tried first, but its sdists lack the `testing` package their tests import, so parse took its place.
parse's tests run with the venv's pytest and no plugins; one tomlkit test module (test_toml_spec_tests.py) imports
PyYAML, which the venv lacks, so the scenarios that run tomlkit's whole suite leave it out (--ignore), as a user
without PyYAML would. flask and asgiref as installed carry no tests, so their scenarios only read, search, edit and
diff.

It is written outside the repository (default /work/holdout/agents-8.jsonl.gz) so that it stays held out: it was
captured blind (no compressor, benchmark or eval was run on it while it was made, and how headroom compresses it
was not looked at). It was measured held out on 2026-12-03 with the code of commit 2be9dc0 (before anyone looked at
it): 45.7% of its tool-output tokens saved, 207/207 facts verbatim, 0 named, 0 lost, 0 false marker claims. It was then
shipped as headroom/evals/data/agents-8.jsonl.gz, so it is no longer held out: a new held-out capture needs new code
bases and questions (change SDISTS, COPIES and the scenarios).

Its first run (2026-12-03, Claude Code 2.1.197 and Codex 0.169.1 in .cache) captured 39 of the 40 scenarios:
cc_later_read anchored on open_session, which SessionInterface (the base class above) declares too, and the
unique-anchor check refused it; it now walks from SecureCookieSessionInterface, was run again with --only and merged
in. Every case's facts were then read against its outputs. /work/holdout/agents-8.jsonl.gz holds 40 cases with 207
facts (Claude Code 25 cases, 151 facts; Codex 15 cases, 56 facts).

Needs the npm registry and PyPI (for the CLI installs and the sdists).
"""
from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_agents import PY, Capture, direct, exec_js, exec_patch, main  # noqa: E402
from capture_holdout3 import _check_facts, _newest_changes, _stat_lines  # noqa: E402

OUT = Path("/work/holdout/agents-8.jsonl.gz")
WORK = Path("/tmp/headroom-holdout8")
SDISTS = (("parse", "1.20.1", "1.20.2"), ("tomlkit", "0.12.5", "0.13.0"))
COPIES = ("flask", "asgiref")
PYTEST = f"{PY} -m pytest -p no:cacheprovider"
TOMLKIT_SUITE = "tests --ignore=tests/test_toml_spec_tests.py"  # that module imports PyYAML, not in the venv

SCENARIOS: list[Callable[[Capture], None]] = []


def scenarios_in(registry: list[Callable[[Capture], None]]) -> Callable:
    """The `@scenario` decorator of a capture script: it adds the scenario to `registry` (the script's SCENARIOS,
    which main() runs), checks every case's facts against its tool outputs, and clears the facts of the cases
    of a scenario that failed half-way (main() writes every case with facts: a half-picked one must not be)."""
    def scenario(fn):
        @functools.wraps(fn)
        def checked(c: Capture) -> None:
            n = len(c.cases)
            try:
                fn(c)
            except Exception:
                for case in c.cases[n:]:
                    case.facts.clear()
                raise
            for case in c.cases[n:]:
                _check_facts(case)

        registry.append(checked)
        return checked
    return scenario


scenario = scenarios_in(SCENARIOS)


def src_line(path: Path, *needles: str) -> int:
    """The number of the line holding the last needle, each needle searched from the previous one's line on.

    The first needle must occur on exactly one line of the file: it anchors the walk."""
    lines = path.read_text().splitlines()
    first = [n for n, ln in enumerate(lines, 1) if needles[0] in ln]
    if len(first) != 1:
        raise LookupError(f"{needles[0]!r} is on {len(first)} lines of {path}, not one")
    n = first[0]
    for needle in needles[1:]:
        n = next((k for k in range(n, len(lines) + 1) if needle in lines[k - 1]), 0)
        if not n:
            raise LookupError(f"{needle!r} not after {needles[0]!r} in {path}")
    return n


def numbered(path: Path, *needles: str) -> str:
    """src_line's line as Claude Code's Read shows it: `N<tab>text`."""
    n = src_line(path, *needles)
    return f"{n}\t{path.read_text().splitlines()[n - 1]}"


def nl(path: Path, *needles: str) -> str:
    """src_line's line as `nl -ba` shows it."""
    n = src_line(path, *needles)
    return f"{n:6d}\t{path.read_text().splitlines()[n - 1]}"


def output_lines_after(text: str, anchor: str, *wants: str) -> list[str]:
    """For each of `wants`, the first line of a tool output at or after the first line holding `anchor`."""
    out = text.splitlines()
    start = next((k for k, ln in enumerate(out) if anchor in ln), None)
    if start is None:
        raise LookupError(f"{anchor!r} not in the output")
    picked = []
    for want in wants:
        hit = next((ln for ln in out[start:] if want in ln), None)
        if hit is None:
            raise LookupError(f"{want!r} not after {anchor!r} in the output")
        picked.append(hit)
    return picked


def failed_lines(text: str) -> list[str]:
    """pytest's `FAILED test - reason` summary lines (one per failing test)."""
    return [ln for ln in text.splitlines() if ln.startswith("FAILED ")]


# ---- Claude Code --------------------------------------------------------------------------------------

@scenario
def cc_read_full(c: Capture) -> None:
    repo = c.repos["asgiref"]
    path = repo / "asgiref/local.py"
    case = c.claude("cc-read-full-asgiref-local", "read-full", repo,
                    "We keep a per-thread DB handle in asgiref's Local(thread_critical=True) and request state in a "
                    "plain Local(). What storage does each mode use, and what changes when the code runs inside an "
                    "event loop?",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "def __init__(self, thread_critical: bool = False) -> None:"),
             numbered(path, "self._storage = threading.local()"),
             numbered(path, "self._storage = _CVar()"),
             numbered(path, "asyncio.get_running_loop()"),
             numbered(path, "self._storage.cvar = _CVar()"))


@scenario
def cc_read_partial(c: Capture) -> None:
    repo = c.repos["flask"]
    path = repo / "flask/config.py"
    anchor = "    def from_prefixed_env("
    case = c.claude("cc-read-partial-flask-prefixed-env", "read-partial", repo,
                    "In production we set FLASK_DEBUG=false and FLASK_DB__POOL_SIZE=5 and call "
                    "app.config.from_prefixed_env(). What ends up in app.config for each: which type, and how is "
                    "the double underscore handled?",
                    [("Read", {"file_path": str(path), "offset": src_line(path, anchor), "limit": 61})])
    case.add(numbered(path, anchor, 'self, prefix: str = "FLASK", *, loads:'),
             numbered(path, anchor, "value = loads(value)"),
             numbered(path, anchor, "# Keep the value as a string if loading failed."),
             numbered(path, anchor, '*parts, tail = key.split("__")'),
             numbered(path, anchor, "current[part] = {}"))


@scenario
def cc_read_large(c: Capture) -> None:
    repo = c.repos["flask"]
    path = repo / "flask/app.py"
    anchor = "    def make_response(self, rv: ft.ResponseReturnValue) -> Response:"
    body = src_line(path, anchor, "status: int | None = None")
    case = c.claude("cc-read-large-flask-make-response", "read-large", repo,
                    "Our view returns (body, [('X-Request-Id', rid)]): does Flask take that list as headers or as a "
                    "status? And a 4-tuple gave 'did not return a valid response tuple'. How does make_response "
                    "unpack tuples? Read flask/app.py and find it.",
                    [("Read", {"file_path": str(path)}),
                     ("Read", {"file_path": str(path), "offset": body, "limit": 30})])
    case.add(numbered(path, anchor, "if len_rv == 3:"),
             numbered(path, anchor, "elif len_rv == 2:"),
             numbered(path, anchor, "if isinstance(rv[1], (Headers, dict, tuple, list)):"),
             numbered(path, anchor, '"The view function did not return a valid response tuple."'))


@scenario
def cc_read_doc(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    path = repo / "CHANGELOG.md"
    case = c.claude("cc-read-doc-tomlkit-changelog", "read-full-doc", repo,
                    "We're upgrading tomlkit from 0.12.5 to 0.13.0. Our custom encoder raises TypeError to decline "
                    "values it can't handle: does that still work? And what else is in that release? Check "
                    "CHANGELOG.md.",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "## [0.13.0] - 2024-07-10"),
             numbered(path, "- Expect a tomlkit-specific error instead of `TypeError` from a custom encoder."),
             numbered(path, "- Drop support for Python older than 3.8."),
             numbered(path, "- Fix the incompatiblity with 3.13 because of the `datetime.replace()` change."),
             numbered(path, "- Revert the change of parsing out-of-order tables."),
             numbered(path, "- Keep the nested out-of-order table."))


@scenario
def cc_read_repeat(c: Capture) -> None:
    repo = c.repos["flask"]
    path = repo / "flask/__init__.py"
    case = c.claude("cc-read-repeat-flask-init", "read-repeat", repo,
                    "Which of Flask's signals can I import straight from the flask package? Read its __init__ "
                    "again, I want the exact list.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path)})])
    for n, ln in enumerate(path.read_text().splitlines(), 1):
        if ln.startswith("from .signals import "):
            case.add(f"{n}\t{ln}")


@scenario
def cc_grep_content(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.claude("cc-grep-content-tomlkit-errors", "grep-content", repo,
                    "Our config loader turns tomlkit parse errors into friendly texts. Which message does each of "
                    "the date and time errors (InvalidDateTimeError, InvalidDateError, InvalidTimeError, "
                    "InvalidNumberOrDateError) carry?",
                    [("Grep", {"pattern": "^class |message = ", "path": str(repo / "tomlkit/exceptions.py"),
                               "output_mode": "content", "-n": True})])
    out = case.outputs()[-1]
    for name, message in (("InvalidDateTimeError", '"Invalid datetime"'), ("InvalidDateError", '"Invalid date"'),
                          ("InvalidTimeError", '"Invalid time"'),
                          ("InvalidNumberOrDateError", '"Invalid number or date format"')):
        case.facts.extend(output_lines_after(out, f"class {name}(", f"class {name}(", f"message = {message}"))


@scenario
def cc_grep_context(c: Capture) -> None:
    repo = c.repos["flask"]
    case = c.claude("cc-grep-context-flask-cookie-flags", "grep-context", repo,
                    "Security review: which flags does Flask put on the session cookie by default (HttpOnly, Secure, "
                    "SameSite), and where does the session interface read them?",
                    [("Grep", {"pattern": "SESSION_COOKIE_(HTTPONLY|SECURE|SAMESITE)", "path": str(repo / "flask"),
                               "output_mode": "content", "-n": True, "-C": 2})])
    case.add('"SESSION_COOKIE_HTTPONLY": True,', '"SESSION_COOKIE_SECURE": False,', '"SESSION_COOKIE_SAMESITE": None,',
             'return app.config["SESSION_COOKIE_HTTPONLY"]', 'return app.config["SESSION_COOKIE_SECURE"]',
             'return app.config["SESSION_COOKIE_SAMESITE"]')


@scenario
def cc_grep_content_paginated(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.claude("cc-grep-content-tomlkit-container-remove", "grep-content-paginated", repo,
                    "doc.remove('name') raises NonExistentKey although I can see the key when I print the document "
                    "(it sits in a table further down). How does Container.remove look the key up, and what does "
                    "it leave in the document body where the key was?",
                    [("Grep", {"pattern": "self|return|raise|key|idx", "path": str(repo / "tomlkit/container.py"),
                               "output_mode": "content", "-n": True})])
    # _remove_at, just above remove, raises NonExistentKey and blanks a body slot with the same statements: the
    # facts are remove's own, read from its def line on.
    case.facts.extend(output_lines_after(case.outputs()[-1], "def remove(self, key: Key | str) -> Container:",
                                         "def remove(self, key: Key | str) -> Container:", "key = SingleKey(key)",
                                         "idx = self._map.pop(key, None)", "raise NonExistentKey(key)",
                                         "self._body[i] = (None, Null())", "self._body[idx] = (None, Null())"))


@scenario
def cc_grep_files(c: Capture) -> None:
    repo = c.repos["flask"]
    case = c.claude("cc-grep-files-flask-werkzeug-exceptions", "grep-files", repo,
                    "We plan to swap werkzeug's HTTP exceptions for our own in a Flask fork. Which flask modules "
                    "import from werkzeug.exceptions?",
                    [("Grep", {"pattern": "from werkzeug.exceptions import", "path": str(repo / "flask")})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cc_grep_count(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.claude("cc-grep-count-tomlkit-tests", "grep-count", repo,
                    "Before we touch tomlkit's writer: which of its test files hold the most test functions? Count "
                    "them per file.",
                    [("Grep", {"pattern": "def test_", "path": str(repo / "tests"), "output_mode": "count"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if re.search(r"\.py:\d+$", ln))


@scenario
def cc_glob(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.claude("cc-glob-tomlkit-invalid-examples", "glob", repo,
                    "Which malformed TOML documents does tomlkit's example suite expect the parser to reject? List "
                    "the files under tests/examples/invalid.",
                    [("Glob", {"pattern": "tests/examples/invalid/*.toml", "path": str(repo)})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".toml"))


@scenario
def cc_bash_find(c: Capture) -> None:
    repo = c.repos["parse"]
    case = c.claude("cc-bash-find-parse", "bash-listing", repo,
                    "Packaging parse for our distro: besides Python modules, which files does its sdist carry?",
                    [("Bash", {"command": "find . -path ./.git -prune -o -type f -print | sort",
                               "description": "List files in the sdist"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("./") and not ln.endswith(".py"))


@scenario
def cc_bash_log(c: Capture) -> None:
    repo = c.repos["parse"]
    case = c.claude("cc-bash-log-parse-datetimes", "bash-log", repo,
                    "We parse log timestamps with parse's {:ti} and {:tg} types. Run its main tests verbosely: do "
                    "the datetime tests pass on our Python?",
                    [("Bash", {"command": f"{PYTEST} -v tests/test_parse.py",
                               "description": "Run parse tests verbosely"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("tests/test_parse.py::") and "datetime" in ln)


@scenario
def cc_bash_git_stat(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.claude("cc-bash-git-log-stat-tomlkit", "bash-git-log-stat", repo,
                    "Between tomlkit 0.12.5 and 0.13.0, how many lines changed in container.py and in items.py?",
                    [("Bash", {"command": "git log --stat", "description": "Show commit history with stats"})])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"tomlkit/(?:container|items)\.py"))


@scenario
def cc_bash_git_log_p(c: Capture) -> None:
    repo = c.repos["parse"]
    case = c.claude("cc-bash-git-log-p-parse", "bash-git-log-p", repo,
                    "parse 1.20.2 says field names may now contain '-'. What exactly changed in parse.py for that, "
                    "and did anything else change in it? Show me the diff.",
                    [("Bash", {"command": "git log -p -- parse.py", "description": "Show history of parse.py"})])
    case.facts.extend(_newest_changes(case.outputs()[-1]))


@scenario
def cc_bash_persisted_git(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    # The history holds both versions of the changelog and the docs (about 32 KB), so Claude Code persists it and
    # shows a preview; 0.13.0 changed only the changelog among them.
    case = c.claude("cc-bash-persisted-tomlkit-git-log-p", "bash-persisted", repo,
                    "What did tomlkit's latest release change in its changelog and user docs? Show it as a diff.",
                    [("Bash", {"command": "git log -p -- CHANGELOG.md README.md docs",
                               "description": "Show history of the changelog and docs"})])
    case.add("Full output saved to")
    case.facts.extend(f for f in _newest_changes(case.outputs()[-1]) if f not in case.facts)


@scenario
def cc_bash_persisted(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.claude("cc-bash-persisted-tomlkit-tests", "bash-persisted", repo,
                    "Run tomlkit's test suite verbosely with per-test timings (leave out the spec tests, they need "
                    "PyYAML). Where did the full log go, and which test opens it, with what result?",
                    [("Bash", {"command": f"{PYTEST} -v -rA --durations=0 --durations-min=0 {TOMLKIT_SUITE}",
                               "description": "Run tomlkit tests with timings"})])
    case.add("Full output saved to")
    case.add("PASSED", nth=0)


@scenario
def cc_bash_failing(c: Capture) -> None:
    repo = c.fresh("parse", "cc-bash-failing-parse")
    path = repo / "parse.py"
    new = r'PARSE_RE = re.compile(r"({{|}}|{[\w-]*(?:\.[\w-]+|\[[^]]+])*(?::[^}]+)?})")'
    old = r'PARSE_RE = re.compile(r"({{|}}|{\w*(?:\.\w+|\[[^]]+])*(?::[^}]+)?})")'
    n = src_line(path, "PARSE_RE = re.compile(")
    case = c.claude("cc-bash-failing-parse-hyphen", "bash-failing-tests", repo,
                    "Our templates should only allow identifier-like field names. Put parse's field-name pattern "
                    "back to \\w only (no '-') and run the main tests: what breaks?",
                    [("Read", {"file_path": str(path), "offset": n - 2, "limit": 6}),
                     ("Edit", {"file_path": str(path), "old_string": new, "new_string": old}),
                     ("Bash", {"command": f"{PYTEST} -q tests/test_parse.py", "description": "Run parse tests"})])
    case.facts.extend(failed_lines(case.outputs()[-1]))
    case.add("Exit code 1")


@scenario
def cc_bash_failing_big(c: Capture) -> None:
    repo = c.fresh("tomlkit", "cc-bash-failing-big-tomlkit")
    path = repo / "tomlkit/items.py"
    old = "            key=lambda i: (isinstance(i[1], dict), i[0]) if _sort_keys else 1,\n"
    n = src_line(path, "def item(value: Any, _parent: Item | None = None", old.strip())
    case = c.claude("cc-bash-failing-big-tomlkit", "bash-failing-tests", repo,
                    "We want generated TOML to be diff-stable: make tomlkit's item() always sort a dict's keys, "
                    "whatever sort_keys says, then run the whole test suite (without the PyYAML spec tests). "
                    "Which tests fail?",
                    [("Read", {"file_path": str(path), "offset": n - 6, "limit": 12}),
                     ("Edit", {"file_path": str(path), "old_string": old,
                               "new_string": "            key=lambda i: (isinstance(i[1], dict), i[0]),\n"}),
                     ("Bash", {"command": f"{PYTEST} {TOMLKIT_SUITE}", "description": "Run tomlkit tests"})])
    case.facts.extend(failed_lines(case.outputs()[-1]))
    case.add("Exit code 1")


@scenario
def cc_edit(c: Capture) -> None:
    repo = c.fresh("flask", "cc-edit-flask")
    path = repo / "flask/app.py"
    line = '            "PERMANENT_SESSION_LIFETIME": timedelta(days=31),'
    n = src_line(path, line)
    case = c.claude("cc-edit-flask-session-lifetime", "edit", repo,
                    "Our security policy caps sessions at a week: change Flask's default PERMANENT_SESSION_LIFETIME "
                    "to 7 days.",
                    [("Read", {"file_path": str(path), "offset": n - 3, "limit": 8}),
                     ("Edit", {"file_path": str(path), "old_string": line,
                               "new_string": line.replace("days=31", "days=7")})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_write(c: Capture) -> None:
    repo = c.fresh("parse", "cc-write-parse")
    case = c.claude("cc-write-parse", "write", repo,
                    "Add tests/test_thousands.py: parse('{:n}', '1,234,567') must give the integer 1234567.",
                    [("Write", {"file_path": str(repo / "tests/test_thousands.py"),
                                "content": "import parse\n\n\n"
                                           "def test_thousands_separator():\n"
                                           "    assert parse.parse('{:n}', '1,234,567')[0] == 1234567\n"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_later_read(c: Capture) -> None:
    repo = c.repos["flask"]
    path = repo / "flask/sessions.py"
    case = c.claude("cc-later-read-flask-sessions", "read-full-later", repo,
                    "Explain how Flask's default session interface signs the session cookie. Read flask/sessions.py.",
                    [("Read", {"file_path": str(path)})],
                    later="Users with a tampered or expired session cookie get an empty session rather than an "
                          "error. What does open_session do with such a cookie? Quote the lines.")
    # SessionInterface, the base class above, declares open_session too: the walk starts at the cookie interface
    anchor = ("class SecureCookieSessionInterface(SessionInterface):", "    def open_session(")
    case.add(numbered(path, *anchor, "max_age = int(app.permanent_session_lifetime.total_seconds())"),
             numbered(path, *anchor, "data = s.loads(val, max_age=max_age)"),
             numbered(path, *anchor, "except BadSignature:"),
             numbered(path, *anchor, "except BadSignature:", "return self.session_class()"))


@scenario
def cc_later_grep(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.claude("cc-later-grep-tomlkit-api", "grep-content-later", repo,
                    "List the functions tomlkit's api module defines.",
                    [("Grep", {"pattern": "^def ", "path": str(repo / "tomlkit/api.py"), "output_mode": "content",
                               "-n": True})],
                    later="Which one writes a document into a file object I already opened, and does it sort keys by "
                          "default? Line?")
    case.add("def dump(data: Mapping, fp: IO[str], *, sort_keys: bool = False) -> None:")


@scenario
def cc_later_bash(c: Capture) -> None:
    repo = c.repos["parse"]
    case = c.claude("cc-later-bash-parse-search", "bash-log-later", repo,
                    "Run parse's search and findall tests verbosely; is everything green?",
                    [("Bash", {"command": f"{PYTEST} -v tests/test_search.py tests/test_findall.py",
                               "description": "Run search and findall tests verbosely"})],
                    later="Which of them cover evaluate_result=False, and what did each report?")
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "::test_no_evaluate_result" in ln)


@scenario
def cc_later_edit(c: Capture) -> None:
    repo = c.fresh("asgiref", "cc-later-edit-asgiref")
    path = repo / "asgiref/sync.py"
    case = c.claude("cc-later-edit-asgiref-sync", "read-full-later", repo,
                    "Read asgiref/sync.py: how does sync_to_async decide which thread runs my function?",
                    [("Read", {"file_path": str(path)})],
                    later="Our helpers are all thread-safe, so we'd make thread_sensitive default to False in our "
                          "asgiref fork. Which lines set that default?")
    for n, ln in enumerate(path.read_text().splitlines(), 1):
        if ln.strip() == "thread_sensitive: bool = True,":
            case.add(f"{n}\t{ln}")


# ---- Codex --------------------------------------------------------------------------------------------

FLOAT_PATCH = r"""*** Begin Patch
*** Update File: parse.py
@@
         elif type == "f":
-            s = r"\d*\.\d+"
+            s = r"\d+\.\d+"
             conv[group] = convert_first(float)
*** End Patch
"""


@scenario
def cx_exec_nl(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    path = repo / "tomlkit/items.py"
    anchor = "def item(value: Any, _parent: Item | None = None"
    start = src_line(path, anchor)
    case = c.codex("cx-exec-nl-tomlkit-item", "codex-exec-nl", repo,
                   "tomlkit.item(Decimal('1.5')) raises ConvertError even though we registered an encoder. How does "
                   "item() consult custom encoders, and when does it give up? Show me item().",
                   [exec_js(f"nl -ba tomlkit/items.py | sed -n {start},{start + 110}p")])
    case.add(nl(path, anchor), nl(path, anchor, "for encoder in CUSTOM_ENCODERS:"),
             nl(path, anchor, "except ConvertError:"),
             nl(path, anchor, 'raise ConvertError(f"Unable to convert an object of'))


@scenario
def cx_exec_rg(c: Capture) -> None:
    repo = c.repos["asgiref"]
    case = c.codex("cx-exec-rg-asgiref-runtime-errors", "codex-exec-rg", repo,
                   "When does asgiref refuse with a RuntimeError? Give me each message.",
                   [exec_js("rg -n -A 2 'raise RuntimeError' asgiref")])
    case.add("You cannot use AsyncToSync in the same thread as an async event loop",
             "Single thread executor already being used, would deadlock",
             "You cannot run CurrentThreadExecutor from a different thread",
             "You cannot submit onto CurrentThreadExecutor from its own thread",
             "CurrentThreadExecutor already quit or is broken",
             "Timeout context manager should be used ")


@scenario
def cx_exec_rg_files(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.codex("cx-exec-rg-files-tomlkit-items", "codex-exec-rg-files", repo,
                   "We want to subclass tomlkit's Table. Which tomlkit modules import from tomlkit.items?",
                   [exec_js("rg -l 'from tomlkit.items import' tomlkit")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cx_exec_failing(c: Capture) -> None:
    repo = c.fresh("parse", "cx-exec-failing-parse")
    case = c.codex("cx-exec-failing-parse-float", "codex-exec-failing-tests", repo,
                   "Our floats always have a leading digit. Make parse's {:f} pattern require one, run the test "
                   "suite, and tell me which tests rely on floats like '.5'.",
                   [exec_patch(FLOAT_PATCH), exec_js(f"{PYTEST} -q tests", whole=True)])
    case.facts.extend(m.group(0) for m in re.finditer(r"FAILED [^\\\n]+", case.outputs()[-1]))
    case.add_exact('"exit_code":1')


@scenario
def cx_exec_truncated(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.codex("cx-exec-truncated-tomlkit-log", "codex-exec-truncated", repo,
                   "Dump tomlkit's whole history with patches. Which release is the tip commit, and which file does "
                   "its patch touch first?",
                   [exec_js("git log -p", whole=True)])
    case.add("tomlkit 0.13.0", nth=0)
    case.add("diff --git", nth=0)


DEADLOCK_PATCH = """*** Begin Patch
*** Update File: asgiref/sync.py
@@
                 raise RuntimeError(
-                    "Single thread executor already being used, would deadlock"
+                    "Single thread executor already being used, would deadlock; "
+                    "use thread_sensitive=False or a ThreadSensitiveContext"
                 )
*** End Patch
"""


@scenario
def cx_exec_apply_patch(c: Capture) -> None:
    repo = c.fresh("asgiref", "cx-exec-apply-patch-asgiref")
    case = c.codex("cx-exec-apply-patch-asgiref", "codex-exec-apply-patch", repo,
                   "The 'would deadlock' RuntimeError from sync_to_async leaves our developers stuck. Make it say "
                   "what to do instead, then show me the diff.",
                   [exec_patch(DEADLOCK_PATCH), exec_js("git diff")])
    case.add('+                    "Single thread executor already being used, would deadlock; "',
             '+                    "use thread_sensitive=False or a ThreadSensitiveContext"',
             '-                    "Single thread executor already being used, would deadlock"', "@@ ")


REPR_PATCH = """*** Begin Patch
*** Update File: parse.py
@@
     def __repr__(self):
-        if len(self._format) > 20:
-            return "<%s %r>" % (self.__class__.__name__, self._format[:17] + "...")
+        if len(self._format) > 40:
+            return "<%s %r>" % (self.__class__.__name__, self._format[:37] + "...")
         return "<%s %r>" % (self.__class__.__name__, self._format)
*** End Patch
"""


@scenario
def cx_direct_apply_patch(c: Capture) -> None:
    repo = c.fresh("parse", "cx-direct-apply-patch-parse")
    case = c.codex("cx-direct-apply-patch-parse", "codex-cmd-apply-patch", repo,
                   "Parser's repr cuts our formats off after 17 characters; let it show up to 40.",
                   [("custom", "apply_patch", REPR_PATCH)])
    case.add_exact(case.outputs()[-1])


@scenario
def cx_exec_pytest_pass(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.codex("cx-exec-pytest-tomlkit-unwrap", "codex-exec-log", repo,
                   "We call .unwrap() to hand plain Python objects to our app. Run tomlkit's unwrap tests in "
                   "tests/test_items.py verbosely: does unwrap work for every item type they cover?",
                   [exec_js(f"{PYTEST} -v -k unwrap tests/test_items.py", whole=True)])
    for m in re.finditer(r"tests/test_items\.py::test_\w*unwrap PASSED", case.outputs()[-1]):
        case.add(m.group(0))


@scenario
def cx_exec_git_stat(c: Capture) -> None:
    repo = c.repos["parse"]
    case = c.codex("cx-exec-git-stat-parse", "codex-exec-git-log-stat", repo,
                   "Going from parse 1.20.1 to 1.20.2, how many lines changed in the module and in its tests?",
                   [exec_js("git log --stat")])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"(?:parse|tests/test_parse)\.py"))


@scenario
def cx_exec_later(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    path = repo / "tomlkit/__init__.py"
    case = c.codex("cx-exec-later-tomlkit-init", "codex-exec-nl-later", repo,
                   "What does the tomlkit package export at top level?",
                   [exec_js("nl -ba tomlkit/__init__.py")],
                   later="And which tomlkit version is this checkout? Give the line.")
    case.add(nl(path, '__version__ = "0.13.0"'))


@scenario
def cx_direct_nl(c: Capture) -> None:
    repo = c.repos["parse"]
    path = repo / "parse.py"
    anchor = "class Parser(object):"
    start = src_line(path, anchor)
    case = c.codex("cx-direct-nl-parse-case", "codex-cmd-nl", repo,
                   "Our log matcher treats 'ERROR' and 'error' alike with parse.compile. Is parse case-insensitive "
                   "by default, and how does Parser implement it?",
                   [direct(f"nl -ba parse.py | sed -n {start},{start + 36}p")])
    case.add(nl(path, anchor, "def __init__(self, format, extra_types=None, case_sensitive=False):"),
             nl(path, anchor, "if case_sensitive:"), nl(path, anchor, "self._re_flags = re.DOTALL"),
             nl(path, anchor, "self._re_flags = re.IGNORECASE | re.DOTALL"))


@scenario
def cx_direct_rg(c: Capture) -> None:
    repo = c.repos["flask"]
    case = c.codex("cx-direct-rg-flask-secret-fallbacks", "codex-cmd-rg", repo,
                   "We're rotating our SECRET_KEY and put the old one in SECRET_KEY_FALLBACKS. How does the cookie "
                   "session use the fallbacks?",
                   [direct("rg -n -i 'secret_key|fallbacks' flask/sessions.py")])
    case.add("keys: list[str | bytes] = [app.secret_key]", 'if fallbacks := app.config["SECRET_KEY_FALLBACKS"]:',
             "keys.extend(fallbacks)")


@scenario
def cx_direct_failing(c: Capture) -> None:
    repo = c.fresh("parse", "cx-direct-failing-parse")
    case = c.codex("cx-direct-failing-parse-float", "codex-cmd-failing-tests", repo,
                   "Make parse's {:f} require a digit before the decimal point and run the tests: which ones fail?",
                   [exec_patch(FLOAT_PATCH), direct(f"{PYTEST} -q tests")])
    case.facts.extend(failed_lines(case.outputs()[-1]))
    case.add("Process exited with code 1")


@scenario
def cx_direct_truncated(c: Capture) -> None:
    repo = c.repos["tomlkit"]
    case = c.codex("cx-direct-truncated-tomlkit-items", "codex-cmd-truncated", repo,
                   "cat tomlkit/items.py: what does it import first, and what is the last class it defines at top "
                   "level?",
                   [direct("cat tomlkit/items.py")])
    out = case.outputs()[-1].splitlines()
    imports = [ln for ln in out if re.match(r"(import|from) \w", ln)]
    classes = [ln for ln in out if re.match(r"class \w+", ln)]
    if not imports or not classes:
        raise LookupError(f"{case.id}: no import or no class statement in the output")
    case.facts.extend((imports[0], classes[-1]))


@scenario
def cx_direct_later(c: Capture) -> None:
    repo = c.repos["asgiref"]
    path = repo / "asgiref/sync.py"
    start = src_line(path, "class AsyncToSync(Generic[_P, _R]):")
    case = c.codex("cx-direct-later-asgiref-async-to-sync", "codex-cmd-nl-later", repo,
                   "Show me how asgiref's AsyncToSync is set up, from the class statement through the start of "
                   "__call__.",
                   [direct(f"nl -ba asgiref/sync.py | sed -n {start},{start + 90}p")],
                   later="Why does calling async_to_sync from code already running in an event loop fail? Quote the "
                         "check.")
    anchor = "# You can't call AsyncToSync from a thread with a running event loop"
    case.add(nl(path, anchor, "event_loop = asyncio.get_running_loop()"),
             nl(path, anchor, "if event_loop.is_running():"),
             nl(path, anchor, '"You cannot use AsyncToSync in the same thread as an async event loop - "'))


if __name__ == "__main__":
    raise SystemExit(main(doc=__doc__, scenarios=SCENARIOS, out=OUT, work=WORK, sdists_of=SDISTS, copies=COPIES))
