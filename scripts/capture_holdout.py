"""Capture a held-out agent corpus: scripts/capture_agents.py's machinery, new questions, other code bases.

    .venv/bin/python scripts/capture_holdout.py [--work DIR] [--only ID_PREFIX] [--out FILE]

The shipped corpus has been looked at while tuning the compressor, so it no longer tells how the compressor does
on requests it has never seen. This one is made the same way (the real Claude Code and Codex CLIs, driven by the
fake upstream to call their own tools, the bodies they then send) on code bases that corpus does not use: PyPI
sdists of two successive releases of idna and pyparsing made into git repositories, and copies of the venv's
jinja2 and rich. Its scenarios cover the same tool-output formats in about the same proportions; each fact is an
exact line of a tool output that the question needs, picked by what the question asks.

It is written outside the repository (default /work/holdout/agents_holdout.jsonl.gz) so that it stays held out:
measure it with `benchmarks/agents_bench.py --data FILE`, never tune to it.

Its first run (2026-12-01) was measured held out (27.8% saved, 94.4% of facts verbatim, none lost), then
looked at, and shipped as headroom/evals/data/agents-2.jsonl.gz: it is part of the tuned corpus now. A
new held-out capture needs new code bases and questions (change SDISTS, COPIES and the scenarios).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_agents import PY, Capture, _src_line, direct, exec_js, exec_patch, main  # noqa: E402

OUT = Path("/work/holdout/agents_holdout.jsonl.gz")
WORK = Path("/tmp/headroom-holdout")
SDISTS = (("idna", "3.6", "3.7"), ("pyparsing", "3.1.1", "3.1.2"))
COPIES = ("jinja2", "rich")
PYPARSING_TESTS = "tests --ignore=tests/test_diagram.py"  # test_diagram needs railroad-diagrams, not installed

SCENARIOS: list[Callable[[Capture], None]] = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def numbered(path: Path, needle: str, delta: int = 0) -> str:
    """`N<tab>text` of the source line `delta` lines after the first containing `needle`, as Read shows it."""
    n = _src_line(path, needle) + delta
    return f"{n}\t{path.read_text().splitlines()[n - 1]}"


def nl(path: Path, needle: str, delta: int = 0) -> str:
    """The same line as `nl -ba` shows it."""
    n = _src_line(path, needle) + delta
    return f"{n:6d}\t{path.read_text().splitlines()[n - 1]}"


# ---- Claude Code --------------------------------------------------------------------------------------

@scenario
def cc_read_full(c: Capture) -> None:
    repo = c.repos["idna"]
    path = repo / "idna/core.py"
    case = c.claude("cc-read-full-idna-core", "read-full", repo,
                    "In idna/core.py, when does valid_contextj accept a ZERO WIDTH JOINER (U+200D)? Give the lines.",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "def valid_contextj"), numbered(path, "if cp_value == 0x200d:"),
             numbered(path, "if cp_value == 0x200d:", 3), numbered(path, "if cp_value == 0x200d:", 4),
             numbered(path, "if cp_value == 0x200d:", 5))


@scenario
def cc_read_partial(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    path = repo / "pyparsing/core.py"
    case = c.claude("cc-read-partial-pyparsing-core", "read-partial", repo,
                    "How does pyparsing's ParserElement.parse_string combine parse_all and parseAll, and what does it "
                    "do when the whole input must match? Quote the lines.",
                    [("Read", {"file_path": str(path), "offset": 1100, "limit": 160})])
    case.add(numbered(path, "    def parse_string("), numbered(path, "parseAll = parse_all or parseAll"),
             numbered(path, "            if parseAll:"), numbered(path, "            if parseAll:", 1),
             numbered(path, "            if parseAll:", 2))


@scenario
def cc_read_large(c: Capture) -> None:
    repo = c.repos["rich"]
    path = repo / "rich/console.py"
    n = _src_line(path, "    def print(")
    case = c.claude("cc-read-large-rich-console", "read-large", repo,
                    "What does rich's Console.print do when soft_wrap is on? Find it in rich/console.py.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path), "offset": n, "limit": 100})])
    case.add(numbered(path, "    def print("), numbered(path, "        if soft_wrap:"),
             numbered(path, "        if soft_wrap:", 1), numbered(path, "        if soft_wrap:", 2),
             numbered(path, "        if soft_wrap:", 3), numbered(path, "        if soft_wrap:", 4),
             numbered(path, "        if soft_wrap:", 5))


@scenario
def cc_read_doc(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    path = repo / "CHANGES"
    case = c.claude("cc-read-doc-pyparsing-changes", "read-full-doc", repo,
                    "From pyparsing's CHANGES: what did 3.1.2 add to pyparsing.common, and in which version did the "
                    "Located class start replacing locatedExpr?",
                    [("Read", {"file_path": str(path)})])
    lines = path.read_text().splitlines()
    located = _src_line(path, "`locatedExpr` is being replaced by the class `Located`")
    version = max(n for n, ln in enumerate(lines[:located], 1) if ln.startswith("Version "))
    case.add(numbered(path, "Added `ieee_float` expression to `pyparsing.common`"),
             numbered(path, "Added `ieee_float` expression to `pyparsing.common`", 1),
             numbered(path, "`locatedExpr` is being replaced by the class `Located`"), f"{version}\t{lines[version - 1]}")


@scenario
def cc_read_repeat(c: Capture) -> None:
    repo = c.repos["jinja2"]
    path = str(repo / "jinja2/exceptions.py")
    case = c.claude("cc-read-repeat-jinja2-exceptions", "read-repeat", repo,
                    "Which exception classes in jinja2/exceptions.py derive from TemplateRuntimeError? Read the file "
                    "again before answering to be sure.",
                    [("Read", {"file_path": path}), ("Read", {"file_path": path})])
    for ln in Path(path).read_text().splitlines():
        if re.match(r"class \w+\(TemplateRuntimeError\)", ln):
            case.add(ln)


@scenario
def cc_grep_content(c: Capture) -> None:
    repo = c.repos["idna"]
    case = c.claude("cc-grep-content-idna", "grep-content", repo,
                    "Where does idna raise an error because a single label is too long?",
                    [("Grep", {"pattern": "raise IDNAError", "path": str(repo / "idna"), "output_mode": "content",
                               "-n": True})])
    case.add("Label too long", nth=0)
    case.add("Label too long", nth=1)


@scenario
def cc_grep_context(c: Capture) -> None:
    repo = c.repos["jinja2"]
    case = c.claude("cc-grep-context-jinja2-lexer", "grep-context", repo,
                    "What error messages does jinja2's lexer give for unbalanced brackets?",
                    [("Grep", {"pattern": "raise TemplateSyntaxError", "path": str(repo / "jinja2/lexer.py"),
                               "output_mode": "content", "-n": True, "-A": 3})])
    case.add("""f"unexpected '{data}'", lineno""", """f"unexpected '{data}', expected '{expected_op}'",""")


@scenario
def cc_grep_content_paginated(c: Capture) -> None:
    repo = c.repos["rich"]
    case = c.claude("cc-grep-content-rich-console", "grep-content-paginated", repo,
                    "Where does rich's Console.__init__ store soft_wrap and force_terminal? Give the lines.",
                    [("Grep", {"pattern": "self", "path": str(repo / "rich/console.py"), "output_mode": "content",
                               "-n": True})])
    case.add("self.soft_wrap = soft_wrap", "self._force_terminal = force_terminal")


@scenario
def cc_grep_files(c: Capture) -> None:
    repo = c.repos["jinja2"]
    case = c.claude("cc-grep-files-jinja2", "grep-files", repo, "Which jinja2 modules import markupsafe?",
                    [("Grep", {"pattern": "markupsafe", "path": str(repo / "jinja2")})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cc_grep_count(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    case = c.claude("cc-grep-count-pyparsing", "grep-count", repo,
                    "Which of pyparsing's test files defines the most test methods, and how many?",
                    [("Grep", {"pattern": "def test", "path": str(repo / "tests"), "output_mode": "count"})])
    counts = [ln for ln in case.outputs()[-1].splitlines() if re.search(r":\d+$", ln)]
    case.facts.append(max(counts, key=lambda ln: int(ln.rsplit(":", 1)[1])))


@scenario
def cc_glob(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    case = c.claude("cc-glob-pyparsing", "glob", repo,
                    "Which of pyparsing's example scripts parse SQL? List their paths.",
                    [("Glob", {"pattern": "**/*.py", "path": str(repo)})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("examples/") and "sql" in ln.lower())
    case.add("examples/select_parser.py", "examples/bigquery_view_parser.py")  # SQL SELECT, BigQuery SQL views


@scenario
def cc_bash_log(c: Capture) -> None:
    repo = c.repos["idna"]
    case = c.claude("cc-bash-log-idna-pytest", "bash-log", repo,
                    "Run idna's tests verbosely: which codec tests ran, and did they pass?",
                    [("Bash", {"command": f"{PY} -m pytest -v -p no:cacheprovider tests",
                               "description": "Run idna tests verbosely"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("tests/test_idna_codec.py::"))


@scenario
def cc_bash_git_stat(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    case = c.claude("cc-bash-git-log-stat-pyparsing", "bash-git-log-stat", repo,
                    "Which module of the pyparsing package changed the most between 3.1.1 and 3.1.2?",
                    [("Bash", {"command": "git log --stat", "description": "Show commit history with stats"})])
    stats = [ln for ln in case.outputs()[-1].split("\ncommit ", 1)[0].splitlines()
             if re.match(r"\s*pyparsing/\S+\s+\|\s+\d+", ln)]
    case.facts.append(max(stats, key=lambda ln: int(re.search(r"\|\s+(\d+)", ln).group(1))))


@scenario
def cc_bash_git_log_p(c: Capture) -> None:
    repo = c.repos["idna"]
    case = c.claude("cc-bash-git-log-p-idna", "bash-git-log-p", repo,
                    "What changed in idna/core.py in the 3.7 release? Show the changed lines.",
                    [("Bash", {"command": "git log -p -- idna/core.py", "description": "Show history of core.py"})])
    newest = case.outputs()[-1].split("\ncommit ", 1)[0]  # the log starts with the newest commit
    case.facts.extend(ln for ln in newest.splitlines()
                      if ln[:1] in "+-" and not ln.startswith(("+++", "---")) and ln[1:].strip())


@scenario
def cc_bash_persisted(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    case = c.claude("cc-bash-persisted-pyparsing-pytest", "bash-persisted", repo,
                    "Run pyparsing's test_unit.py verbosely, leaving out the empty-expression tests that fail here. "
                    "Where was the full output saved, and which test class ran first?",
                    [("Bash", {"command": f"{PY} -m pytest -v -p no:cacheprovider tests/test_unit.py "
                                          "-k 'not testEmptyExpressionsAreHandledProperly'",
                               "description": "Run pyparsing unit tests verbosely"})])
    case.add("Full output saved to")
    case.add("PASSED", nth=0)


@scenario
def cc_bash_failing(c: Capture) -> None:
    repo = c.fresh("idna", "cc-bash-failing-idna")
    path = repo / "idna/core.py"
    n = _src_line(path, "_alabel_prefix = b'xn--'")
    case = c.claude("cc-bash-failing-idna", "bash-failing-tests", repo,
                    "Change idna's A-label prefix in idna/core.py to b'xq--', then run the tests: which fail, and "
                    "with what error?",
                    [("Read", {"file_path": str(path), "offset": max(1, n - 4), "limit": 10}),
                     ("Edit", {"file_path": str(path), "old_string": "_alabel_prefix = b'xn--'",
                               "new_string": "_alabel_prefix = b'xq--'"}),
                     ("Bash", {"command": f"{PY} -m pytest -q -p no:cacheprovider tests",
                               "description": "Run idna tests"})])
    text = case.outputs()[-1]
    case.facts.extend(ln for ln in text.splitlines() if ln.startswith("FAILED "))
    case.add("IDNAError: Label has disallowed hyphens in 3rd and 4th position", "Exit code 1")


@scenario
def cc_bash_failing_big(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    case = c.claude("cc-bash-failing-big-pyparsing", "bash-failing-tests", repo,
                    "Run pyparsing's whole test suite (test_diagram needs a package we lack): which tests fail?",
                    [("Bash", {"command": f"{PY} -m pytest -p no:cacheprovider {PYPARSING_TESTS}",
                               "description": "Run pyparsing tests"})])
    # A failing command's output reaches the model as head and tail: the failures are named by the progress
    # lines with an F, the failure report headers and the summary lines that are shown.
    for ln in case.outputs()[-1].splitlines():
        if (re.match(r"tests/\S+\.py [.FsxE]*F", ln) or re.match(r"_+ \S*test\w+.* _+$", ln)
                or ln.startswith("FAILED ")):
            case.facts.append(ln)
    case.add("Exit code 1")


@scenario
def cc_edit(c: Capture) -> None:
    repo = c.fresh("jinja2", "cc-edit-jinja2")
    path = repo / "jinja2/filters.py"
    n = _src_line(path, "def do_truncate(")
    case = c.claude("cc-edit-jinja2", "edit", repo,
                    "Make jinja2's truncate filter default to 100 characters instead of 255.",
                    [("Read", {"file_path": str(path), "offset": n, "limit": 12}),
                     ("Edit", {"file_path": str(path), "old_string": "    length: int = 255,\n    killwords",
                               "new_string": "    length: int = 100,\n    killwords"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_later_read(c: Capture) -> None:
    repo = c.repos["rich"]
    path = repo / "rich/text.py"
    case = c.claude("cc-later-read-rich-text", "read-full-later", repo,
                    "What does rich's Text.from_markup do?",
                    [("Read", {"file_path": str(path)})],
                    later="Another question about that file: what tab size does Text.expand_tabs use when none is "
                          "given, and on which line does it pick it?")
    case.add(numbered(path, "    def expand_tabs("), numbered(path, "    def expand_tabs(", 10),
             numbered(path, "    def expand_tabs(", 12))


@scenario
def cc_later_grep(c: Capture) -> None:
    repo = c.repos["jinja2"]
    case = c.claude("cc-later-grep-jinja2-filters", "grep-content-later", repo,
                    "Which of jinja2's filters work on lists (first, last, join...)?",
                    [("Grep", {"pattern": "^(async )?def do_", "path": str(repo / "jinja2/filters.py"),
                               "output_mode": "content", "-n": True})],
                    later="And which filter formats a number of bytes as a human-readable file size, on which line?")
    case.add("def do_filesizeformat(")


@scenario
def cc_later_edit(c: Capture) -> None:
    repo = c.fresh("pyparsing", "cc-later-edit-pyparsing")
    path = repo / "pyparsing/exceptions.py"
    case = c.claude("cc-later-edit-pyparsing", "read-full-later", repo,
                    "Read pyparsing/exceptions.py: which exception is raised for a fatal parse error that stops "
                    "backtracking?",
                    [("Read", {"file_path": str(path)})],
                    later="Now make ParseBaseException.mark_input_line use '>|<' as its default marker. Which exact "
                          "lines will you edit?")
    case.add(numbered(path, "    def mark_input_line("), numbered(path, "    def mark_input_line(", 1))


# ---- Codex --------------------------------------------------------------------------------------------

SHORT_LABEL_PATCH = """*** Begin Patch
*** Update File: idna/core.py
@@
 def valid_label_length(label: Union[bytes, str]) -> bool:
-    if len(label) > 63:
+    if len(label) > 16:
*** End Patch
"""


@scenario
def cx_exec_nl(c: Capture) -> None:
    repo = c.repos["idna"]
    path = repo / "idna/core.py"
    case = c.codex("cx-exec-nl-idna-core", "codex-exec-nl", repo,
                   "In idna/core.py, what does check_label raise for a code point that is neither PVALID nor a "
                   "context rule, and on which line?",
                   [exec_js("nl -ba idna/core.py | sed -n 100,300p")])
    case.add(nl(path, "def check_label("), nl(path, "raise InvalidCodepoint('Codepoint {} at position"))


@scenario
def cx_exec_rg(c: Capture) -> None:
    repo = c.repos["jinja2"]
    case = c.codex("cx-exec-rg-jinja2", "codex-exec-rg", repo, "Which jinja2 modules raise TemplateSyntaxError?",
                   [exec_js("rg -n TemplateSyntaxError jinja2")])
    seen = set()
    for ln in case.outputs()[-1].splitlines():
        module = ln.split(":", 1)[0]
        if "raise TemplateSyntaxError" in ln and module not in seen:
            seen.add(module)
            case.facts.append(ln)


@scenario
def cx_exec_rg_files(c: Capture) -> None:
    repo = c.repos["rich"]
    case = c.codex("cx-exec-rg-files-rich", "codex-exec-rg-files", repo,
                   "Which rich modules use the loop_last helper?", [exec_js("rg -l loop_last rich")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cx_exec_failing(c: Capture) -> None:
    repo = c.fresh("idna", "cx-exec-failing-idna")
    case = c.codex("cx-exec-failing-idna", "codex-exec-failing-tests", repo,
                   "Limit idna labels to 16 characters, then run the tests: what breaks?",
                   [exec_patch(SHORT_LABEL_PATCH), exec_js(f"{PY} -m pytest -q -p no:cacheprovider tests", whole=True)])
    text = case.outputs()[-1]
    case.facts.extend(m.group(0) for m in re.finditer(r"FAILED [^\\\n]+", text))
    case.add("idna.core.IDNAError: Label too long")
    case.add_exact('"exit_code":1')


@scenario
def cx_exec_truncated(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    case = c.codex("cx-exec-truncated-pyparsing-log", "codex-exec-truncated", repo,
                   "Show pyparsing's full history with patches: which release is the newest commit, and which file "
                   "does its diff touch first?",
                   [exec_js("git log -p", whole=True)])
    case.add("pyparsing 3.1.2", nth=0)
    case.add("diff --git", nth=0)


COLUMNS_PATCH = """*** Begin Patch
*** Update File: rich/columns.py
@@
-        padding: PaddingDimensions = (0, 1),
+        padding: PaddingDimensions = (0, 2),
*** End Patch
"""


@scenario
def cx_exec_apply_patch(c: Capture) -> None:
    repo = c.fresh("rich", "cx-exec-apply-patch-rich")
    case = c.codex("cx-exec-apply-patch-rich", "codex-exec-apply-patch", repo,
                   "Widen rich Columns' default padding to (0, 2) and show me the diff.",
                   [exec_patch(COLUMNS_PATCH), exec_js("git diff")])
    case.add("+        padding: PaddingDimensions = (0, 2),", "-        padding: PaddingDimensions = (0, 1),", "@@ ")


LEEWAY_PATCH = """*** Begin Patch
*** Update File: jinja2/defaults.py
@@
-    "truncate.leeway": 5,
+    "truncate.leeway": 0,
*** End Patch
"""


@scenario
def cx_direct_apply_patch(c: Capture) -> None:
    repo = c.fresh("jinja2", "cx-direct-apply-patch-jinja2")
    case = c.codex("cx-direct-apply-patch-jinja2", "codex-cmd-apply-patch", repo,
                   "Set jinja2's default truncate leeway policy to 0.", [("custom", "apply_patch", LEEWAY_PATCH)])
    case.add_exact(case.outputs()[-1])


@scenario
def cx_exec_pytest_pass(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    case = c.codex("cx-exec-pytest-pyparsing", "codex-exec-log", repo,
                   "Run pyparsing's Test02_WithoutPackrat unit tests verbosely, leaving out the empty-expression test "
                   "that fails here: which parse-action tests ran, and did they pass?",
                   [exec_js(f"{PY} -m pytest -v -p no:cacheprovider tests/test_unit.py "
                            "-k 'Test02_WithoutPackrat and not testEmptyExpressionsAreHandledProperly'", whole=True)])
    case.facts.extend(m.group(0) for m in re.finditer(r"tests/test_unit\.py::Test02_WithoutPackrat::\w*ParseAction\w* "
                                                      r"PASSED", case.outputs()[-1]))


@scenario
def cx_exec_later(c: Capture) -> None:
    repo = c.repos["rich"]
    case = c.codex("cx-exec-later-rich-console", "codex-exec-nl-later", repo,
                   "What parameters does rich's Console constructor take?",
                   [exec_js("nl -ba rich/console.py | sed -n 581,800p")],
                   later="When force_terminal is given, where does the constructor store it?")
    case.add(nl(repo / "rich/console.py", "self._force_terminal = force_terminal"))


@scenario
def cx_direct_nl(c: Capture) -> None:
    repo = c.repos["jinja2"]
    path = repo / "jinja2/filters.py"
    case = c.codex("cx-direct-nl-jinja2-filters", "codex-cmd-nl", repo,
                   "How does jinja2's truncate filter decide where to cut a string when killwords is false? Show "
                   "the lines.",
                   [direct("nl -ba jinja2/filters.py | sed -n 820,980p")])
    case.add(nl(path, "def do_truncate("), nl(path, "if len(s) <= length + leeway:"),
             nl(path, 'result = s[: length - len(end)].rsplit(" ", 1)[0]'))


@scenario
def cx_direct_rg(c: Capture) -> None:
    repo = c.repos["jinja2"]
    case = c.codex("cx-direct-rg-jinja2", "codex-cmd-rg", repo,
                   "Where does jinja2's Environment store its autoescape setting?",
                   [direct("rg -n autoescape jinja2/environment.py")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "self.autoescape = autoescape" in ln)


@scenario
def cx_direct_failing(c: Capture) -> None:
    repo = c.fresh("idna", "cx-direct-failing-idna")
    case = c.codex("cx-direct-failing-idna", "codex-cmd-failing-tests", repo,
                   "Limit idna labels to 16 characters, then run the tests: which fail?",
                   [exec_patch(SHORT_LABEL_PATCH), direct(f"{PY} -m pytest -q -p no:cacheprovider tests")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("FAILED "))
    case.add("idna.core.IDNAError: Label too long", "Process exited with code 1")


@scenario
def cx_direct_truncated(c: Capture) -> None:
    repo = c.repos["pyparsing"]
    case = c.codex("cx-direct-truncated-pyparsing-core", "codex-cmd-truncated", repo,
                   "Print pyparsing/core.py: what does the module import first, and what is the last function "
                   "defined in it?",
                   [direct("cat pyparsing/core.py")])
    out = case.outputs()[-1]
    case.add("import ", nth=0)
    defs = [ln for ln in out.splitlines() if re.match(r"def \w+", ln)]
    case.facts.append(defs[-1])


@scenario
def cx_direct_later(c: Capture) -> None:
    repo = c.repos["jinja2"]
    case = c.codex("cx-direct-later-jinja2-lexer", "codex-cmd-nl-later", repo,
                   "Which token types does jinja2's lexer define? Read the top of jinja2/lexer.py.",
                   [direct("nl -ba jinja2/lexer.py | sed -n 1,200p")],
                   later="Why does that file cache lexers, and how many does the cache keep?")
    path = repo / "jinja2/lexer.py"
    case.add(nl(path, "# cache for the lexers."), nl(path, "# environments with the same lexer"), nl(path, "_lexer_cache"))


if __name__ == "__main__":
    raise SystemExit(main(doc=__doc__, scenarios=SCENARIOS, out=OUT, work=WORK, sdists_of=SDISTS, copies=COPIES))
