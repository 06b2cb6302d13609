"""Capture a ninth held-out agent corpus (agents-9): capture_agents.py's machinery, new code bases, new questions.

    .venv/bin/python scripts/capture_holdout9.py [--work DIR] [--only ID_PREFIX] [--out FILE]

agents-8 was measured held out and then shipped, so like the seven before it it no longer tells how the compressor
does on requests it has never seen. This one is made the same way (the real Claude Code and Codex CLIs, driven by the
fake upstream to call their own built-in tools, the bodies they then send) on code bases no earlier capture uses:
PyPI sdists of two successive releases of pyflakes (3.1.0, 3.2.0) and webcolors (24.6.0, 24.8.0) made into git
repositories, and copies of the venv's prometheus_client and anyio. Its scenarios cover the same tool-output formats
in the same proportions as capture_holdout8.py (the same 40 kinds of case), with new questions, asked the way a user
of each code base would ask them (an error they hit, a default they rely on, a change they weigh, a release they
upgrade to); each fact is an exact line (or, for Codex's JSON-serialised results, an exact piece of one) of a tool
output that the question needs, picked by what the question asks. A source line is found by `numbered`/`nl`, which
walk successive needles and insist that the first is unique in its file, so a fact is never another function's copy
of the same statement; a line of a tool output is found from the line that opens the part the question is about.
A failing-tests case's facts are its FAILED lines and exit status (the test names the answer must give), not the
progress dots or section rulers.

Each sdist was checked before it was picked: downloaded, unpacked and its tests run with the venv's pytest and no
plugins. pyflakes' suite (pyflakes/test) runs as it is; webcolors keeps its package under src/, so its tests run with
PYTHONPATH=src (WEBCOLORS_PYTEST), as a user running them from a checkout would. jmespath 1.0.0 and tomli (no tests
in the sdist), semver (its setup.cfg's addopts need pytest-cov), iso8601 (its tests import pytz) and isodate (six)
were tried and set aside. prometheus_client and anyio as installed carry no tests, so their scenarios only read,
search, edit and diff.

It is written outside the repository (default /work/holdout/agents-9.jsonl.gz) so that it stays held out: it was
captured blind (no compressor, benchmark or eval was run on it while it was made, and how headroom compresses it
was not looked at). It was measured held out on 2026-12-04 (47.2% saved, 271/285 verbatim, 12 lost: see
docs/benchmarks.md), then looked at and shipped as headroom/evals/data/agents-9.jsonl.gz, so it is no longer held
out: a new held-out capture needs new code bases and questions (change SDISTS, COPIES and the scenarios).

Its first run (2026-12-04, Claude Code 2.1.197 and Codex 0.169.1, installed into .cache by npm) captured all 40
scenarios. Every case's facts were then read against its raw tool outputs, and eight scenarios were changed and run
again with --only, their cases merged in by id: cc_grep_context took _get_ssl_ctx's client_auth_required line for
the server's (it now reads from start_wsgi_server's def line on); `git log -p -- src/webcolors` in
cc_bash_git_log_p was over Claude Code's persisting threshold, so only a 2 KB preview of the diff was shown (it now
runs `git log -p -1`); cx_direct_truncated asked for the last top-level class, which Codex's truncation of the
middle of checker.py had dropped (it now asks for the handler method the file ends with); cc_read_doc,
cc_later_edit, cx_exec_rg, cx_exec_later and cx_direct_rg left out lines their questions need (the rest of the 3.1.0
entries, _use_gateway's REGISTRY fallback, the second lines of two-line messages, the `from .exposition import (`
line, the `_use_created = False` of disable_created_metrics). /work/holdout/agents-9.jsonl.gz holds 40 cases with
285 facts (Claude Code 25 cases, 213 facts; Codex 15 cases, 72 facts).

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

OUT = Path("/work/holdout/agents-9.jsonl.gz")
WORK = Path("/tmp/headroom-holdout9")
SDISTS = (("pyflakes", "3.1.0", "3.2.0"), ("webcolors", "24.6.0", "24.8.0"))
COPIES = ("prometheus_client", "anyio")
PYTEST = f"{PY} -m pytest -p no:cacheprovider"
WEBCOLORS_PYTEST = f"PYTHONPATH=src {PYTEST}"  # webcolors keeps its package under src/ and is not installed

SCENARIOS: list[Callable[[Capture], None]] = []


scenario = scenarios_in(SCENARIOS)


# ---- Claude Code --------------------------------------------------------------------------------------

@scenario
def cc_read_full(c: Capture) -> None:
    repo = c.repos["webcolors"]
    path = repo / "src/webcolors/_normalization.py"
    case = c.claude("cc-read-full-webcolors-normalization", "read-full", repo,
                    "Our form stores user colors through webcolors.normalize_hex and normalize_integer_triplet. Will "
                    "normalize_hex take 'ABC' without the '#', or '#ABC', and what comes back? And what does "
                    "normalize_integer_triplet make of (300, -5, 12)?",
                    [("Read", {"file_path": str(path)})])
    anchor = "def normalize_hex(hex_value: str) -> str:"
    case.add(numbered(path, anchor, "if (match := _HEX_COLOR_RE.match(hex_value))"),
             numbered(path, anchor, "raise ValueError("),
             numbered(path, anchor, "if len(hex_digits) == 3:"),
             numbered(path, anchor, 'hex_digits = "".join(2 * s for s in hex_digits)'),
             numbered(path, anchor, 'return f"#{hex_digits.lower()}"'),
             numbered(path, "return 0 if value < 0 else 255 if value > 255 else value"))


@scenario
def cc_read_partial(c: Capture) -> None:
    repo = c.repos["prometheus_client"]
    path = repo / "prometheus_client/metrics.py"
    anchor = "    DEFAULT_BUCKETS = ("
    case = c.claude("cc-read-partial-prometheus-buckets", "read-partial", repo,
                    "We create Histogram('latency_seconds', ...) without buckets and another with buckets=[1, 0.5, "
                    "0.1]. Which buckets does the first get, is +Inf added for us, and why does the second one fail "
                    "at import time?",
                    [("Read", {"file_path": str(path), "offset": src_line(path, anchor), "limit": 45})])
    case.add(numbered(path, anchor),
             numbered(path, anchor, "buckets: Sequence[Union[float, str]] = DEFAULT_BUCKETS,"),
             numbered(path, anchor, "if buckets != sorted(buckets):"),
             numbered(path, anchor, "raise ValueError('Buckets not in sorted order')"),
             numbered(path, anchor, "if buckets and buckets[-1] != INF:"),
             numbered(path, anchor, "buckets.append(INF)"),
             numbered(path, anchor, "raise ValueError('Must have at least two buckets')"))


@scenario
def cc_read_large(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    path = repo / "pyflakes/checker.py"
    anchor = "class ExportBinding(Binding):"
    body = src_line(path, anchor, "def __init__(self, name, source, scope):")
    case = c.claude("cc-read-large-pyflakes-export-binding", "read-large", repo,
                    "Our package builds `__all__ = base.__all__ + ['extra']` and pyflakes still reports the imports "
                    "as unused, while `__all__ += ['x']` works. Which __all__ forms does pyflakes understand? Read "
                    "pyflakes/checker.py and find it.",
                    [("Read", {"file_path": str(path)}),
                     ("Read", {"file_path": str(path), "offset": body, "limit": 32})])
    case.add(numbered(path, anchor, "if '__all__' in scope and isinstance(source, ast.AugAssign):"),
             numbered(path, anchor, "self.names = list(scope['__all__'].names)"),
             numbered(path, anchor, "if isinstance(source.value, (ast.List, ast.Tuple)):"),
             numbered(path, anchor, "elif isinstance(source.value, ast.BinOp):"),
             numbered(path, anchor, "while isinstance(currentValue.right, (ast.List, ast.Tuple)):"),
             numbered(path, anchor, "# If not list concatenation"))


@scenario
def cc_read_doc(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    path = repo / "NEWS.rst"
    case = c.claude("cc-read-doc-pyflakes-news", "read-full-doc", repo,
                    "We're moving CI from pyflakes 3.0.1 to 3.2.0. One job still runs on Python 3.7, and our "
                    "report parser knows the ContinueInFinally warning: what breaks? What else is new? Check "
                    "NEWS.rst.",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "3.2.0 (2024-01-04)"),
             numbered(path, "- Add support for ``*T`` (TypeVarTuple) and ``**P`` (ParamSpec) in PEP 695"),
             numbered(path, "3.1.0 (2023-07-29)"),
             numbered(path, "- Drop support for EOL python 3.6 / 3.7"),
             numbered(path, "- Remove ``ContinueInFinally`` check (only relevant in python < 3.8)"),
             numbered(path, "- Fix forward annotations inside a nested scope"),
             numbered(path, "- Produce an error when a definition shadows an unused variable"),
             numbered(path, "- Fix accessed global annotation being redefined in a local scope"),
             numbered(path, "- Allow redefinition of functions across ``match`` arms"),
             numbered(path, "- Fix potential ``None`` for ``lineno`` during tokenization errors"),
             numbered(path, "- Add support for PEP 695 and python 3.12"))


@scenario
def cc_read_repeat(c: Capture) -> None:
    repo = c.repos["anyio"]
    path = repo / "anyio/__init__.py"
    case = c.claude("cc-read-repeat-anyio-init", "read-repeat", repo,
                    "Which of anyio's exception classes can I import straight from the anyio package? Read its "
                    "__init__ again, I want the exact list.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path)})])
    lines = path.read_text().splitlines()
    for n, ln in enumerate(lines, 1):
        if "from ._core._exceptions import" in ln:
            case.add(f"{n}\t{ln}")
            if ln.rstrip().endswith("("):  # a parenthesised import: its name is on the next line
                case.add(f"{n + 1}\t{lines[n]}")


@scenario
def cc_grep_content(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.claude("cc-grep-content-pyflakes-messages", "grep-content", repo,
                    "Our CI dashboard maps pyflakes warnings to severities by their text. Which message does each of "
                    "UnusedImport, UndefinedName, UnusedVariable, RedefinedWhileUnused and UndefinedExport carry?",
                    [("Grep", {"pattern": "^class |message = ", "path": str(repo / "pyflakes/messages.py"),
                               "output_mode": "content", "-n": True})])
    out = case.outputs()[-1]
    for name, message in (("UnusedImport", "'%r imported but unused'"), ("UndefinedName", "'undefined name %r'"),
                          ("UnusedVariable", "'local variable %r is assigned to but never used'"),
                          ("RedefinedWhileUnused", "'redefinition of unused %r from line %r'"),
                          ("UndefinedExport", "'undefined name %r in __all__'")):
        case.facts.extend(output_lines_after(out, f"class {name}(", f"class {name}(", f"message = {message}"))


@scenario
def cc_grep_context(c: Capture) -> None:
    repo = c.repos["prometheus_client"]
    case = c.claude("cc-grep-context-prometheus-bind", "grep-context", repo,
                    "Security review: when we call prometheus_client.start_http_server(8000), which address does "
                    "the metrics server bind by default, and is TLS client authentication required unless we ask "
                    "for it?",
                    [("Grep", {"pattern": "addr: str = |client_auth_required: bool = |^start_http_server",
                               "path": str(repo / "prometheus_client"), "output_mode": "content", "-n": True,
                               "-C": 2})])
    # _get_ssl_ctx, above start_wsgi_server, declares client_auth_required too: the server's own defaults are read
    # from its def line on.
    case.facts.extend(output_lines_after(case.outputs()[-1], "def start_wsgi_server(", "addr: str = '0.0.0.0',",
                                         "client_auth_required: bool = False,",
                                         "start_http_server = start_wsgi_server"))


@scenario
def cc_grep_content_paginated(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.claude("cc-grep-content-pyflakes-unused-assignments", "grep-content-paginated", repo,
                    "pyflakes warns about `tmp = compute()` left unused in our functions but not about "
                    "`_ = compute()`, nor in the function that calls locals(). How does a function scope decide "
                    "which assignments are unused?",
                    [("Grep", {"pattern": "self|name|binding|yield|return", "path": str(repo / "pyflakes/checker.py"),
                               "output_mode": "content", "-n": True})])
    # unused_annotations, just below, walks self.items() and checks binding.used the same way: the facts are
    # unused_assignments' own, read from its def line on.
    case.facts.extend(output_lines_after(case.outputs()[-1], "def unused_assignments(self):",
                                         "def unused_assignments(self):", "for name, binding in self.items():",
                                         "if (not binding.used and", "name != '_' and  # see issue #202",
                                         "name not in self.globals and", "not self.usesLocals and",
                                         "isinstance(binding, Assignment)):"))


@scenario
def cc_grep_files(c: Capture) -> None:
    repo = c.repos["anyio"]
    case = c.claude("cc-grep-files-anyio-get-async-backend", "grep-files", repo,
                    "We're pinning anyio to the asyncio backend in a fork. Which anyio modules call "
                    "get_async_backend()?",
                    [("Grep", {"pattern": "get_async_backend\\(", "path": str(repo / "anyio")})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cc_grep_count(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.claude("cc-grep-count-pyflakes-tests", "grep-count", repo,
                    "Before we touch pyflakes' checker: which of its test files hold the most test methods? Count "
                    "them per file.",
                    [("Grep", {"pattern": "def test_", "path": str(repo / "pyflakes/test"), "output_mode": "count"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if re.search(r"\.py:\d+$", ln))


@scenario
def cc_glob(c: Capture) -> None:
    repo = c.repos["anyio"]
    case = c.claude("cc-glob-anyio-streams", "glob", repo,
                    "Which stream wrappers does anyio ship (buffered, TLS, text...)? List the modules under "
                    "anyio/streams.",
                    [("Glob", {"pattern": "anyio/streams/*.py", "path": str(repo)})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cc_bash_find(c: Capture) -> None:
    repo = c.repos["webcolors"]
    case = c.claude("cc-bash-find-webcolors", "bash-listing", repo,
                    "Packaging webcolors for our distro: besides Python modules, which files does its sdist carry?",
                    [("Bash", {"command": "find . -path ./.git -prune -o -type f -print | sort",
                               "description": "List files in the sdist"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("./") and not ln.endswith(".py"))


@scenario
def cc_bash_log(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.claude("cc-bash-log-pyflakes-annotations", "bash-log", repo,
                    "We're on Python 3.11 and plan to adopt PEP 695 generics later. Run pyflakes' type-annotation "
                    "tests verbosely: do the type-parameter tests run on our Python, and with what result?",
                    [("Bash", {"command": f"{PYTEST} -v pyflakes/test/test_type_annotations.py",
                               "description": "Run pyflakes annotation tests verbosely"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("pyflakes/test/test_type_annotations.py::") and "type_parameters" in ln)


@scenario
def cc_bash_git_stat(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.claude("cc-bash-git-log-stat-pyflakes", "bash-git-log-stat", repo,
                    "Between pyflakes 3.1.0 and 3.2.0, how many lines changed in checker.py and in the "
                    "type-annotation tests?",
                    [("Bash", {"command": "git log --stat", "description": "Show commit history with stats"})])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"pyflakes/(?:checker|test/test_type_annotations)\.py"))


@scenario
def cc_bash_git_log_p(c: Capture) -> None:
    repo = c.repos["webcolors"]
    case = c.claude("cc-bash-git-log-p-webcolors", "bash-git-log-p", repo,
                    "webcolors 24.8.0 says it added a names() function. What exactly changed in the package code "
                    "for that, and did anything else change in it? Show me the diff.",
                    # the whole history (24.6.0 adds every file) is over Claude Code's persisting threshold, so
                    # the newest commit only, as a user asking for that release's change would
                    [("Bash", {"command": "git log -p -1 -- src/webcolors",
                               "description": "Show the latest change to the package"})])
    case.facts.extend(_newest_changes(case.outputs()[-1]))


@scenario
def cc_bash_persisted_git(c: Capture) -> None:
    repo = c.repos["webcolors"]
    # The history holds both versions of the docs and the README (about 55 KB), so Claude Code persists it and
    # shows a preview; 24.8.0 changed four files of the docs.
    case = c.claude("cc-bash-persisted-webcolors-git-log-p", "bash-persisted", repo,
                    "What did webcolors' latest release change in its documentation? Show it as a diff.",
                    [("Bash", {"command": "git log -p -- docs README.rst",
                               "description": "Show history of the docs"})])
    case.add("Full output saved to")
    case.facts.extend(f for f in _newest_changes(case.outputs()[-1]) if f not in case.facts)


@scenario
def cc_bash_persisted(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.claude("cc-bash-persisted-pyflakes-tests", "bash-persisted", repo,
                    "Run pyflakes' whole test suite verbosely with per-test timings. Where did the full log go, and "
                    "which test opens it, with what result?",
                    [("Bash", {"command": f"{PYTEST} -v -rA --durations=0 --durations-min=0 pyflakes",
                               "description": "Run pyflakes tests with timings"})])
    case.add("Full output saved to")
    case.add("PASSED", nth=0)


@scenario
def cc_bash_failing(c: Capture) -> None:
    repo = c.fresh("webcolors", "cc-bash-failing-webcolors")
    path = repo / "src/webcolors/_normalization.py"
    old = '    return f"#{hex_digits.lower()}"'
    n = src_line(path, "def normalize_hex(hex_value: str) -> str:", old)
    case = c.claude("cc-bash-failing-webcolors-case", "bash-failing-tests", repo,
                    "Our design tokens keep hex colors uppercase. Make webcolors' normalize_hex keep the caller's "
                    "letter case instead of lowercasing, and run the test suite: what breaks?",
                    [("Read", {"file_path": str(path), "offset": n - 5, "limit": 7}),
                     ("Edit", {"file_path": str(path), "old_string": old,
                               "new_string": '    return f"#{hex_digits}"'}),
                     ("Bash", {"command": f"{WEBCOLORS_PYTEST} -q tests", "description": "Run webcolors tests"})])
    case.facts.extend(failed_lines(case.outputs()[-1]))
    case.add("Exit code 1")


@scenario
def cc_bash_failing_big(c: Capture) -> None:
    repo = c.fresh("pyflakes", "cc-bash-failing-big-pyflakes")
    path = repo / "pyflakes/checker.py"
    old = "                    used = value.used or value.name in all_names\n"
    n = src_line(path, "def checkDeadScopes(self):", old.strip())
    case = c.claude("cc-bash-failing-big-pyflakes", "bash-failing-tests", repo,
                    "Our lint policy says re-exports must be spelled `import x as x`: make pyflakes report an "
                    "unused import even when its name is listed in __all__, then run the whole test suite. Which "
                    "tests fail?",
                    [("Read", {"file_path": str(path), "offset": n - 6, "limit": 12}),
                     ("Edit", {"file_path": str(path), "old_string": old,
                               "new_string": "                    used = value.used\n"}),
                     ("Bash", {"command": f"{PYTEST} pyflakes", "description": "Run pyflakes tests"})])
    case.facts.extend(failed_lines(case.outputs()[-1]))
    case.add("Exit code 1")


@scenario
def cc_edit(c: Capture) -> None:
    repo = c.fresh("prometheus_client", "cc-edit-prometheus")
    path = repo / "prometheus_client/metrics.py"
    line = "    DEFAULT_BUCKETS = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0, 2.5, 5.0, 7.5, 10.0, INF)"
    n = src_line(path, line)
    case = c.claude("cc-edit-prometheus-buckets", "edit", repo,
                    "Our batch endpoints take up to 30 s: add a 30-second bucket to prometheus_client's default "
                    "Histogram buckets, before +Inf.",
                    [("Read", {"file_path": str(path), "offset": n - 3, "limit": 8}),
                     ("Edit", {"file_path": str(path), "old_string": line,
                               "new_string": line.replace("10.0, INF", "10.0, 30.0, INF")})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_write(c: Capture) -> None:
    repo = c.fresh("webcolors", "cc-write-webcolors")
    case = c.claude("cc-write-webcolors", "write", repo,
                    "Add tests/test_grey_names.py: webcolors.names() must list both 'gray' and 'grey' for CSS3.",
                    [("Write", {"file_path": str(repo / "tests/test_grey_names.py"),
                                "content": "import webcolors\n\n\n"
                                           "def test_css3_lists_both_gray_spellings():\n"
                                           "    names = webcolors.names(webcolors.CSS3)\n"
                                           "    assert 'gray' in names and 'grey' in names\n"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_later_read(c: Capture) -> None:
    repo = c.repos["anyio"]
    path = repo / "anyio/_core/_tasks.py"
    case = c.claude("cc-later-read-anyio-tasks", "read-full-later", repo,
                    "Explain anyio's timeout helpers (fail_after, move_on_after and friends). Read "
                    "anyio/_core/_tasks.py.",
                    [("Read", {"file_path": str(path)})],
                    later="We wrap a call in fail_after(5, reason='upstream slow') and catch TimeoutError. When "
                          "exactly is TimeoutError raised, and what does reason= change? Quote the lines.")
    case.add(numbered(path, "def fail_after(",
                      "deadline = (current_time() + delay) if delay is not None else math.inf"),
             numbered(path, "def fail_after(", "with fail_at(deadline, shield=shield, reason=reason) as scope:"),
             numbered(path, "def fail_at(",
                      "if cancel_scope.cancelled_caught and current_time() >= cancel_scope.deadline:"),
             numbered(path, "def fail_at(", "raise TimeoutError(reason) if reason else TimeoutError"))


@scenario
def cc_later_grep(c: Capture) -> None:
    repo = c.repos["prometheus_client"]
    case = c.claude("cc-later-grep-prometheus-exposition", "grep-content-later", repo,
                    "List the functions prometheus_client's exposition module defines.",
                    [("Grep", {"pattern": "^def ", "path": str(repo / "prometheus_client/exposition.py"),
                               "output_mode": "content", "-n": True})],
                    later="Which one writes the metrics for node exporter's textfile collector, and can I tell it "
                          "where to put the temporary file? Line?")
    case.add("def write_to_textfile(path: str, registry: Collector, escaping: str = openmetrics.ALLOWUTF8, "
             "tmpdir: Optional[str] = None) -> None:")


@scenario
def cc_later_bash(c: Capture) -> None:
    repo = c.repos["webcolors"]
    case = c.claude("cc-later-bash-webcolors-html5", "bash-log-later", repo,
                    "Run webcolors' HTML5 and normalization tests verbosely; is everything green?",
                    [("Bash", {"command": f"{WEBCOLORS_PYTEST} -v tests/test_html5.py tests/test_normalization.py",
                               "description": "Run HTML5 and normalization tests verbosely"})],
                    later="Which of them cover the HTML5 legacy color parsing, and what did each report?")
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "::test_parse_legacy_color" in ln)


@scenario
def cc_later_edit(c: Capture) -> None:
    repo = c.fresh("prometheus_client", "cc-later-edit-prometheus")
    path = repo / "prometheus_client/exposition.py"
    case = c.claude("cc-later-edit-prometheus-exposition", "read-full-later", repo,
                    "Read prometheus_client/exposition.py: how does start_http_server serve the metrics?",
                    [("Read", {"file_path": str(path)})],
                    later="We run several registries, so in our fork every exposition helper should require an "
                          "explicit registry instead of falling back to the global REGISTRY. Which lines set that "
                          "default?")
    for n, ln in enumerate(path.read_text().splitlines(), 1):
        # the parameter and attribute defaults, and _use_gateway's fallback when no registry is given
        if "registry: Collector = REGISTRY" in ln or ln.strip() == "registry = REGISTRY":
            case.add(f"{n}\t{ln}")


# ---- Codex --------------------------------------------------------------------------------------------

HEX3_PATCH = r"""*** Begin Patch
*** Update File: src/webcolors/_definitions.py
@@
-_HEX_COLOR_RE = re.compile(r"^#([a-fA-F0-9]{3}|[a-fA-F0-9]{6})$")
+_HEX_COLOR_RE = re.compile(r"^#([a-fA-F0-9]{6})$")
*** End Patch
"""


@scenario
def cx_exec_nl(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    path = repo / "pyflakes/checker.py"
    anchor = "    def checkDeadScopes(self):"
    start = src_line(path, anchor)
    case = c.codex("cx-exec-nl-pyflakes-dead-scopes", "codex-exec-nl", repo,
                   "pyflakes reports \"undefined name 'x' in __all__\" in our modules but never in a package's "
                   "__init__.py, and names listed in __all__ never count as unused imports. Why? Show me "
                   "checkDeadScopes.",
                   [exec_js(f"nl -ba pyflakes/checker.py | sed -n {start},{start + 70}p")])
    case.add(nl(path, anchor), nl(path, anchor, "if undefined:"),
             nl(path, anchor, "os.path.basename(self.filename) != '__init__.py':"),
             nl(path, anchor, "self.report(messages.UndefinedExport,"),
             nl(path, anchor, "used = value.used or value.name in all_names"),
             nl(path, anchor, "messg = messages.UnusedImport"))


@scenario
def cx_exec_rg(c: Capture) -> None:
    repo = c.repos["anyio"]
    case = c.codex("cx-exec-rg-anyio-runtime-errors", "codex-exec-rg", repo,
                   "Our code trips RuntimeErrors from anyio's cancel scopes and task groups on asyncio. Which "
                   "misuses does the asyncio backend refuse, and with which message?",
                   [exec_js("rg -n -A 2 'raise RuntimeError' anyio/_backends/_asyncio.py")])
    case.add("Each CancelScope may only be used for a single 'with' block",
             "This cancel scope is not active",
             "Attempted to exit cancel scope in a different task than it was ", '"entered in"',
             "Attempted to exit a cancel scope that isn't the current tasks's ", '"current cancel scope"',
             "called 'started' twice on the same task status",
             "TaskGroup cannot be entered more than once",
             "This task group is not active; no new tasks can be started.")


@scenario
def cx_exec_rg_files(c: Capture) -> None:
    repo = c.repos["prometheus_client"]
    case = c.codex("cx-exec-rg-files-prometheus-registry", "codex-exec-rg-files", repo,
                   "We want every exporter to use our own CollectorRegistry. Which prometheus_client modules import "
                   "from its registry module?",
                   [exec_js("rg -l 'registry import' prometheus_client")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cx_exec_failing(c: Capture) -> None:
    repo = c.fresh("webcolors", "cx-exec-failing-webcolors")
    case = c.codex("cx-exec-failing-webcolors-hex3", "codex-exec-failing-tests", repo,
                   "Our style guide bans 3-digit hex shorthand. Make webcolors reject '#09c', run the test suite, "
                   "and tell me which tests rely on the shorthand.",
                   [exec_patch(HEX3_PATCH), exec_js(f"{WEBCOLORS_PYTEST} -q tests", whole=True)])
    case.facts.extend(m.group(0) for m in re.finditer(r"FAILED [^\\\n]+", case.outputs()[-1]))
    case.add_exact('"exit_code":1')


@scenario
def cx_exec_truncated(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.codex("cx-exec-truncated-pyflakes-log", "codex-exec-truncated", repo,
                   "Dump pyflakes' whole history with patches. Which release is the tip commit, and which file does "
                   "its patch touch first?",
                   [exec_js("git log -p", whole=True)])
    case.add("pyflakes 3.2.0", nth=0)
    case.add("diff --git", nth=0)


TASKGROUP_PATCH = """*** Begin Patch
*** Update File: anyio/_backends/_asyncio.py
@@
     async def __aenter__(self) -> Self:
         if self._entered:
-            raise RuntimeError("TaskGroup cannot be entered more than once")
+            raise RuntimeError(
+                "TaskGroup cannot be entered more than once; "
+                "create a new one with anyio.create_task_group()"
+            )
*** End Patch
"""


@scenario
def cx_exec_apply_patch(c: Capture) -> None:
    repo = c.fresh("anyio", "cx-exec-apply-patch-anyio")
    case = c.codex("cx-exec-apply-patch-anyio", "codex-exec-apply-patch", repo,
                   "Developers who reuse a task group get 'TaskGroup cannot be entered more than once' and no hint. "
                   "Make the message say what to do instead, then show me the diff.",
                   [exec_patch(TASKGROUP_PATCH), exec_js("git diff")])
    case.add('-            raise RuntimeError("TaskGroup cannot be entered more than once")',
             '+                "TaskGroup cannot be entered more than once; "',
             '+                "create a new one with anyio.create_task_group()"', "@@ ")


HEX_MESSAGE_PATCH = """*** Begin Patch
*** Update File: src/webcolors/_normalization.py
@@
     if (match := _HEX_COLOR_RE.match(hex_value)) is None:
-        raise ValueError(f'"{hex_value}" is not a valid hexadecimal color value.')
+        raise ValueError(
+            f'"{hex_value}" is not a valid hexadecimal color value; expected "#rgb" or "#rrggbb".'
+        )
*** End Patch
"""


@scenario
def cx_direct_apply_patch(c: Capture) -> None:
    repo = c.fresh("webcolors", "cx-direct-apply-patch-webcolors")
    case = c.codex("cx-direct-apply-patch-webcolors", "codex-cmd-apply-patch", repo,
                   "When normalize_hex rejects a value our users can't tell what it wanted: make its error name the "
                   "accepted formats.",
                   [("custom", "apply_patch", HEX_MESSAGE_PATCH)])
    case.add_exact(case.outputs()[-1])


@scenario
def cx_exec_pytest_pass(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.codex("cx-exec-pytest-pyflakes-match", "codex-exec-log", repo,
                   "We're adopting match statements. Run pyflakes' match tests in pyflakes/test/test_match.py "
                   "verbosely: does pyflakes handle every construct they cover?",
                   [exec_js(f"{PYTEST} -v pyflakes/test/test_match.py", whole=True)])
    for m in re.finditer(r"pyflakes/test/test_match\.py::\w+::test_\w+ PASSED", case.outputs()[-1]):
        case.add(m.group(0))


@scenario
def cx_exec_git_stat(c: Capture) -> None:
    repo = c.repos["webcolors"]
    case = c.codex("cx-exec-git-stat-webcolors", "codex-exec-git-log-stat", repo,
                   "Going from webcolors 24.6.0 to 24.8.0, how many lines changed in the package's modules and in "
                   "its tests?",
                   [exec_js("git log --stat")])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"(?:src/webcolors|tests)/\S+\.py"))


@scenario
def cx_exec_later(c: Capture) -> None:
    repo = c.repos["prometheus_client"]
    path = repo / "prometheus_client/__init__.py"
    case = c.codex("cx-exec-later-prometheus-init", "codex-exec-nl-later", repo,
                   "What does the prometheus_client package export at top level?",
                   [exec_js("nl -ba prometheus_client/__init__.py")],
                   later="Which name do I import to serve the metrics over HTTP from a background thread, and which "
                         "module does it come from? Give the line.")
    case.add(nl(path, "from .exposition import ("),
             nl(path, "from .exposition import (", "pushadd_to_gateway, start_http_server, start_wsgi_server,"))


@scenario
def cx_direct_nl(c: Capture) -> None:
    repo = c.repos["prometheus_client"]
    path = repo / "prometheus_client/exposition.py"
    anchor = "def _bake_output("
    start = src_line(path, anchor)
    case = c.codex("cx-direct-nl-prometheus-gzip", "codex-cmd-nl", repo,
                   "Does prometheus_client's metrics endpoint gzip its response, when, and can our WSGI app turn "
                   "that off?",
                   [direct(f"nl -ba prometheus_client/exposition.py | sed -n {start},{start + 24}p")])
    case.add(nl(path, anchor),
             nl(path, anchor, "if not disable_compression and gzip_accepted(accept_encoding_header):"),
             nl(path, anchor, "output = gzip.compress(output)"),
             nl(path, anchor, "headers.append(('Content-Encoding', 'gzip'))"),
             nl(path, "def make_wsgi_app(registry: Collector = REGISTRY, disable_compression: bool = False)"))


@scenario
def cx_direct_rg(c: Capture) -> None:
    repo = c.repos["prometheus_client"]
    case = c.codex("cx-direct-rg-prometheus-created", "codex-cmd-rg", repo,
                   "Our dashboards get an extra *_created series for every counter and histogram. How do we switch "
                   "those off, by environment or in code?",
                   [direct("rg -n -i 'created' prometheus_client/metrics.py")])
    case.add('return os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", \'False\').lower() not in',
             "_use_created = _get_use_created()", "def disable_created_metrics():", "_use_created = False")


@scenario
def cx_direct_failing(c: Capture) -> None:
    repo = c.fresh("webcolors", "cx-direct-failing-webcolors")
    case = c.codex("cx-direct-failing-webcolors-hex3", "codex-cmd-failing-tests", repo,
                   "Make webcolors accept only six-digit hex colors and run the tests: which ones fail?",
                   [exec_patch(HEX3_PATCH), direct(f"{WEBCOLORS_PYTEST} -q tests")])
    case.facts.extend(failed_lines(case.outputs()[-1]))
    case.add("Process exited with code 1")


@scenario
def cx_direct_truncated(c: Capture) -> None:
    repo = c.repos["pyflakes"]
    case = c.codex("cx-direct-truncated-pyflakes-checker", "codex-cmd-truncated", repo,
                   "cat pyflakes/checker.py: what does it import first, and which node handler method does the "
                   "file end with?",
                   [direct("cat pyflakes/checker.py")])
    # Codex keeps the head and the tail of this 2200-line file and drops the middle (where class Checker opens),
    # so the question asks for what its ends hold.
    out = case.outputs()[-1].splitlines()
    imports = [ln for ln in out if re.match(r"(import|from) \w", ln)]
    methods = [ln for ln in out if re.match(r"    def [A-Z]+\(self, node\):", ln)]
    if not imports or not methods:
        raise LookupError(f"{case.id}: no import or no handler method in the output")
    case.facts.extend((imports[0], methods[-1]))


@scenario
def cx_direct_later(c: Capture) -> None:
    repo = c.repos["anyio"]
    path = repo / "anyio/to_thread.py"
    case = c.codex("cx-direct-later-anyio-to-thread", "codex-cmd-nl-later", repo,
                   "Show me anyio's to_thread module: how does run_sync hand work to a worker thread?",
                   [direct("nl -ba anyio/to_thread.py")],
                   later="Our task was cancelled while a to_thread.run_sync call ran, and the thread kept going and "
                         "the task waited for it. Which parameter controls that, and what is its default? Quote it.")
    anchor = "async def run_sync("
    case.add(nl(path, anchor, "abandon_on_cancel: bool = False,"),
             nl(path, anchor, ":param abandon_on_cancel: ``True`` to abandon the thread (leaving it to run"),
             nl(path, anchor, "unchecked on own) if the host task is cancelled, ``False`` to ignore"),
             nl(path, anchor, "cancellations in the host task until the operation has completed in the worker"))


if __name__ == "__main__":
    raise SystemExit(main(doc=__doc__, scenarios=SCENARIOS, out=OUT, work=WORK, sdists_of=SDISTS, copies=COPIES))
