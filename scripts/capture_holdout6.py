"""Capture a sixth held-out agent corpus (agents-6): capture_agents.py's machinery, new code bases, new questions.

    .venv/bin/python scripts/capture_holdout6.py [--work DIR] [--only ID_PREFIX] [--out FILE]

agents-5 was measured held out and then looked at while fixing the compressor, so like the four before it it no
longer tells how the compressor does on requests it has never seen. This one is made the same way (the real Claude
Code and Codex CLIs, driven by the fake upstream to call their own built-in tools, the bodies they then send) on
code bases no earlier capture uses: PyPI sdists of two successive releases of pathspec (0.11.2, 0.12.1) and
itsdangerous (2.1.2, 2.2.0) made into git repositories, and copies of the venv's markdown_it and pluggy. Its
scenarios cover the same tool-output formats in about the same proportions as capture_holdout5.py (the same 40
kinds of case), with new questions, asked the way a user of each code base would ask them (a bug they hit, a
behaviour they rely on, a change they consider); each fact is an exact line (or, for Codex's JSON-serialised
results, an exact piece of one) of a tool output that the question needs, picked by what the question asks.

itsdangerous' test_timed.py and test_url_safe.py import freezegun, which the venv lacks, so its test runs name the
three other test modules (ID_TESTS).

It is written outside the repository (default /work/holdout/agents-6.jsonl.gz) so that it stays held out: it was
captured blind (no compressor, benchmark or eval was run on it while it was made, and how headroom compresses it
was not looked at). It is NOT YET MEASURED. Measure it with `benchmarks/agents_bench.py --data FILE`, never tune
to it. Once it has been looked at, it is no longer held out: a new held-out capture then needs new code bases and
questions (change SDISTS, COPIES and the scenarios).

Its first run (2026-12-03, Claude Code 2.1.197, Codex 0.169.1) captured 39 of the 40 scenarios; the grep-content-
paginated one asked Grep for a pattern that missed its fact line, so its pattern was widened, and cc_later_bash's
later question (normalize_file had one test) was changed to the tree walk's symlink tests; those two were run again
with --only and merged in. /work/holdout/agents-6.jsonl.gz holds 40 cases with 196 facts (Claude Code 25 cases,
138 facts; Codex 15 cases, 58 facts). Not measured.

Needs the npm registry and PyPI (for the CLI installs and the sdists).
"""
from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture_agents import PY, Capture, _src_line, direct, exec_js, exec_patch, main  # noqa: E402
from capture_holdout import nl, numbered  # noqa: E402
from capture_holdout3 import _check_facts, _newest_changes, _stat_lines  # noqa: E402

OUT = Path("/work/holdout/agents-6.jsonl.gz")
WORK = Path("/tmp/headroom-holdout6")
SDISTS = (("pathspec", "0.11.2", "0.12.1"), ("itsdangerous", "2.1.2", "2.2.0"))
COPIES = ("markdown_it", "pluggy")
PYTEST = f"{PY} -m pytest -p no:cacheprovider"
ID_PYTEST = f"PYTHONPATH=src {PYTEST}"  # itsdangerous' sdist keeps its package under src/
# test_timed.py and test_url_safe.py import freezegun, which the venv does not have: leave them out.
ID_TESTS = ("tests/test_itsdangerous/test_signer.py tests/test_itsdangerous/test_serializer.py "
            "tests/test_itsdangerous/test_encoding.py")

SCENARIOS: list[Callable[[Capture], None]] = []


def scenario(fn):
    @functools.wraps(fn)
    def checked(c: Capture) -> None:
        n = len(c.cases)
        try:
            fn(c)
        except Exception:
            for case in c.cases[n:]:  # main() writes every case with facts: a half-picked one must not be
                case.facts.clear()
            raise
        for case in c.cases[n:]:
            _check_facts(case)

    SCENARIOS.append(checked)
    return checked


def numbered_after(path: Path, anchor: str, needle: str) -> str:
    """`N<tab>text` of the first line containing `needle` at or after the first line containing `anchor`."""
    lines = path.read_text().splitlines()
    start = _src_line(path, anchor)
    for n in range(start, len(lines) + 1):
        if needle in lines[n - 1]:
            return f"{n}\t{lines[n - 1]}"
    raise LookupError(f"{needle!r} not after {anchor!r} in {path}")


def nl_after(path: Path, anchor: str, needle: str) -> str:
    """numbered_after's line as `nl -ba` shows it."""
    n, text = numbered_after(path, anchor, needle).split("\t", 1)
    return f"{int(n):6d}\t{text}"


# ---- Claude Code --------------------------------------------------------------------------------------

@scenario
def cc_read_full(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    path = repo / "src/itsdangerous/signer.py"
    case = c.claude("cc-read-full-itsdangerous-signer", "read-full", repo,
                    "We sign session cookies with itsdangerous.Signer and never pass key_derivation or "
                    "digest_method. Which ones do we get, and is there a separator we are not allowed to pick?",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, 'default_key_derivation: str = "django-concat"'),
             numbered(path, "    return hashlib.sha1(string)"),
             numbered(path, 'sep: str | bytes = b".",'),
             numbered(path, "if self.sep in _base64_alphabet:"),
             numbered(path, "\" digits, and '-_=' must not be used.\""))


@scenario
def cc_read_partial(c: Capture) -> None:
    repo = c.repos["pluggy"]
    path = repo / "pluggy/_execution.py"
    start = _src_line(path, "def _multicall(")
    case = c.claude("cc-read-partial-pluggy-multicall", "read-partial", repo,
                    "My firstresult hook keeps calling plugins after one returned something, or so I think. How "
                    "does pluggy's _multicall stop, and what comes back when every implementation returns None?",
                    [("Read", {"file_path": str(path), "offset": start, "limit": 75})])
    case.add(numbered(path, "def _multicall("),
             numbered(path, "if firstresult:  # halt further impl calls"),
             numbered(path, "result = results[0] if results else None"),
             numbered(path, 'f"hook call must provide argument {e.args[0]!r}"'))


@scenario
def cc_read_large(c: Capture) -> None:
    repo = c.repos["pathspec"]
    path = repo / "pathspec/util.py"
    anchor = "def check_match_file("
    n = _src_line(path, anchor)
    case = c.claude("cc-read-large-pathspec-util", "read-large", repo,
                    "If several of my patterns match one file, which one wins in pathspec's check_match_file, and "
                    "what index does it hand back? Look in pathspec/util.py.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path), "offset": n, "limit": 40})])
    case.add(numbered(path, anchor), numbered_after(path, anchor, "for index, pattern in patterns:"),
             numbered_after(path, anchor, "if pattern.include is not None and pattern.match_file(file) is not None:"),
             numbered_after(path, anchor, "out_include = pattern.include"),
             numbered_after(path, anchor, "out_index = index"))


@scenario
def cc_read_doc(c: Capture) -> None:
    repo = c.repos["pathspec"]
    path = repo / "CHANGES.rst"
    case = c.claude("cc-read-doc-pathspec-changes", "read-full-doc", repo,
                    "Our subclass overrides PathSpec._match_file. Did its signature change in a recent pathspec, and "
                    "what public API came with that release? Use CHANGES.rst.",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "0.12.0 (2023-12-09)"),
             numbered(path, "- Signature of protected method `pathspec.pathspec.PathSpec._match_file()`"),
             numbered(path, "- Added `pathspec.pathspec.PathSpec.check_*()` methods."),
             numbered(path, "- `Issue #84`_: PathSpec.match_file() returns None since 0.12.0."))


@scenario
def cc_read_repeat(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    path = repo / "src/itsdangerous/exc.py"
    case = c.claude("cc-read-repeat-itsdangerous-exc", "read-repeat", repo,
                    "If I catch BadSignature, which of itsdangerous' other exceptions do I catch with it? Re-read "
                    "exc.py to be sure.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path)})])
    for n, ln in enumerate(path.read_text().splitlines(), 1):
        if re.match(r"class \w+\((BadSignature|BadTimeSignature)\)", ln):
            case.add(f"{n}\t{ln}")


@scenario
def cc_grep_content(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    case = c.claude("cc-grep-content-itsdangerous", "grep-content", repo,
                    "Users report 'bad token' errors. What exact messages does itsdangerous give for a token with no "
                    "separator, a signature that doesn't match, and a missing timestamp?",
                    [("Grep", {"pattern": "raise Bad", "path": str(repo / "src/itsdangerous"),
                               "output_mode": "content", "-n": True})])
    case.add('raise BadSignature(f"No {self.sep!r} found in value")',
             'raise BadSignature(f"Signature {sig!r} does not match", payload=value)',
             'raise BadTimeSignature("timestamp missing", payload=result)')


@scenario
def cc_grep_context(c: Capture) -> None:
    repo = c.repos["pathspec"]
    case = c.claude("cc-grep-context-pathspec-edge-cases", "grep-context", repo,
                    "In a .gitignore handled by pathspec, what do a line with just '/' and a line '**/' match?",
                    [("Grep", {"pattern": "EDGE CASE", "path": str(repo / "pathspec/patterns/gitwildmatch.py"),
                               "output_mode": "content", "-n": True, "-C": 3})])
    case.add("elif pattern == '/':", "# not match any file.",
             "if len(pattern_segs) == 2 and pattern_segs[0] == '**' and not pattern_segs[1]:",
             "override_regex = f'^.+(?P<{_DIR_MARK}>/).*$'")


@scenario
def cc_grep_content_paginated(c: Capture) -> None:
    repo = c.repos["markdown_it"]
    case = c.claude("cc-grep-content-markdown-it-renderer", "grep-content-paginated", repo,
                    "My ```python blocks come out without a language class when my highlight function returns an "
                    "empty string. In markdown_it's renderer, how does fence pick the class, and what does it use "
                    "when highlight gives nothing back?",
                    [("Grep", {"pattern": "self|return|[Tt]oken|highlight|info|lang",
                               "path": str(repo / "markdown_it/renderer.py"), "output_mode": "content",
                               "-n": True})])
    case.add(") or escapeHtml(token.content)", 'if highlighted.startswith("<pre"):',
             'tmpToken.attrJoin("class", options.langPrefix + langName)')


@scenario
def cc_grep_files(c: Capture) -> None:
    repo = c.repos["markdown_it"]
    case = c.claude("cc-grep-files-markdown-it", "grep-files", repo,
                    "I'm changing isStrSpace in markdown_it's common utils. Which block rules call it?",
                    [("Grep", {"pattern": "isStrSpace", "path": str(repo / "markdown_it")})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.endswith(".py") and "/rules_block/" in ln)


@scenario
def cc_grep_count(c: Capture) -> None:
    repo = c.repos["pathspec"]
    case = c.claude("cc-grep-count-pathspec", "grep-count", repo,
                    "Where is pathspec tested most heavily? Count the test methods in each test module.",
                    [("Grep", {"pattern": "def test_", "path": str(repo / "tests"), "output_mode": "count"})])
    counts = [ln for ln in case.outputs()[-1].splitlines() if re.search(r":\d+$", ln)]
    case.facts.append(max(counts, key=lambda ln: int(ln.rsplit(":", 1)[1])))


@scenario
def cc_glob(c: Capture) -> None:
    repo = c.repos["markdown_it"]
    case = c.claude("cc-glob-markdown-it", "glob", repo,
                    "I want to write a custom block rule for markdown_it. Which block rules does it ship? List their "
                    "files.",
                    [("Glob", {"pattern": "**/*.py", "path": str(repo)})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("markdown_it/rules_block/"))


@scenario
def cc_bash_find(c: Capture) -> None:
    repo = c.repos["markdown_it"]
    case = c.claude("cc-bash-find-markdown-it", "bash-listing", repo,
                    "We vendor markdown_it. Besides .py modules, which files must we keep in the package?",
                    [("Bash", {"command": "find markdown_it -type f | sort", "description": "List markdown_it files"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("markdown_it/") and not ln.endswith(".py"))


@scenario
def cc_bash_log(c: Capture) -> None:
    repo = c.repos["pathspec"]
    case = c.claude("cc-bash-log-pathspec-gitignore", "bash-log", repo,
                    "Run pathspec's GitIgnoreSpec tests verbosely. Do the regression tests for issue 81 pass?",
                    [("Bash", {"command": f"{PYTEST} -v tests/test_04_gitignore.py",
                               "description": "Run GitIgnoreSpec tests verbosely"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("tests/test_04_gitignore.py::") and "issue_81" in ln)


@scenario
def cc_bash_git_stat(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    case = c.claude("cc-bash-git-log-stat-itsdangerous", "bash-git-log-stat", repo,
                    "Upgrading itsdangerous from 2.1.2 to 2.2.0: how much did each module of the package change?",
                    [("Bash", {"command": "git log --stat", "description": "Show commit history with stats"})])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"src/itsdangerous/\S+"))


@scenario
def cc_bash_git_log_p(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    case = c.claude("cc-bash-git-log-p-itsdangerous-encoding", "bash-git-log-p", repo,
                    "Did itsdangerous 2.2.0 change how base64 encoding works, or only the type hints in encoding.py? "
                    "Show the changed lines.",
                    [("Bash", {"command": "git log -p -- src/itsdangerous/encoding.py",
                               "description": "Show history of encoding.py"})])
    case.facts.extend(_newest_changes(case.outputs()[-1]))


@scenario
def cc_bash_persisted_git(c: Capture) -> None:
    repo = c.repos["pathspec"]
    # The history holds the first version of the changelog and both READMEs (about 45 KB), so Claude Code
    # persists it and shows a preview.
    case = c.claude("cc-bash-persisted-pathspec-git-log-p", "bash-persisted", repo,
                    "What's new in pathspec 0.12.1's release notes? Show me the diff of the changelog and the package "
                    "metadata.",
                    [("Bash", {"command": "git log -p -- CHANGES.rst PKG-INFO README-dist.rst",
                               "description": "Show history of the release notes"})])
    case.add("Full output saved to")
    case.facts.extend(f for f in _newest_changes(case.outputs()[-1]) if f not in case.facts)


@scenario
def cc_bash_persisted(c: Capture) -> None:
    repo = c.repos["pathspec"]
    case = c.claude("cc-bash-persisted-pathspec-tests", "bash-persisted", repo,
                    "Run pathspec's whole test suite verbosely, with the timing of every test. Where did the output "
                    "end up, and which test comes first?",
                    [("Bash", {"command": f"{PYTEST} -v -rA --durations=0 --durations-min=0 tests",
                               "description": "Run pathspec tests with timings"})])
    case.add("Full output saved to")
    case.add("PASSED", nth=0)


@scenario
def cc_bash_failing(c: Capture) -> None:
    repo = c.fresh("itsdangerous", "cc-bash-failing-itsdangerous")
    path = repo / "src/itsdangerous/signer.py"
    n = _src_line(path, "    def verify_signature(self, value: str | bytes, sig: str | bytes) -> bool:")
    case = c.claude("cc-bash-failing-itsdangerous", "bash-failing-tests", repo,
                    "We rotated our secret keys and want old signatures rejected. Make Signer.verify_signature only "
                    "try the newest key, then run the signer, serializer and encoding tests. What breaks?",
                    [("Read", {"file_path": str(path), "offset": n, "limit": 18}),
                     ("Edit", {"file_path": str(path),
                               "old_string": "        for secret_key in reversed(self.secret_keys):\n",
                               "new_string": "        for secret_key in self.secret_keys[-1:]:\n"}),
                     ("Bash", {"command": f"{ID_PYTEST} -q {ID_TESTS}", "description": "Run itsdangerous tests"})])
    for ln in case.outputs()[-1].splitlines():
        if (re.match(r"[.FsxE]*F[.FsxE]* +\[ *\d+%\]$", ln) or re.match(r"_+ \S*test\w+.* _+$", ln)
                or ln.startswith("FAILED ")):
            case.facts.append(ln)
    case.add("Exit code 1")


@scenario
def cc_bash_failing_big(c: Capture) -> None:
    repo = c.fresh("pathspec", "cc-bash-failing-big-pathspec")
    path = repo / "pathspec/patterns/gitwildmatch.py"
    old = "\t\t\t\tif pattern_segs[0] != '**':\n\t\t\t\t\tpattern_segs.insert(0, '**')\n"
    n = _src_line(path, "elif len(pattern_segs) == 1 or (len(pattern_segs) == 2 and not pattern_segs[1]):")
    case = c.claude("cc-bash-failing-big-pathspec", "bash-failing-tests", repo,
                    "What if a bare name like 'build' in a gitignore only matched at the root? Stop gitwildmatch "
                    "from prepending '**' to single-segment patterns and run pathspec's tests: which fail?",
                    [("Read", {"file_path": str(path), "offset": n, "limit": 10}),
                     ("Edit", {"file_path": str(path), "old_string": old, "new_string": "\t\t\t\tpass\n"}),
                     ("Bash", {"command": f"{PYTEST} tests", "description": "Run pathspec tests"})])
    for ln in case.outputs()[-1].splitlines():
        if (re.match(r"tests/\S+\.py [.FsxE]*F", ln) or re.match(r"_+ \S*test\w+.* _+$", ln)
                or ln.startswith("FAILED ")):
            case.facts.append(ln)
    case.add("Exit code 1")


@scenario
def cc_edit(c: Capture) -> None:
    repo = c.fresh("markdown_it", "cc-edit-markdown-it")
    path = repo / "markdown_it/presets/commonmark.py"
    n = _src_line(path, '"maxNesting": 20,')
    case = c.claude("cc-edit-markdown-it", "edit", repo,
                    "Deeply nested blockquotes get cut off with the commonmark preset. Raise its maxNesting from 20 "
                    "to 50.",
                    [("Read", {"file_path": str(path), "offset": n - 4, "limit": 8}),
                     ("Edit", {"file_path": str(path), "old_string": '"maxNesting": 20,',
                               "new_string": '"maxNesting": 50,'})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_write(c: Capture) -> None:
    repo = c.fresh("pathspec", "cc-write-pathspec")
    case = c.claude("cc-write-pathspec", "write", repo,
                    "Add tests/test_05_check_file.py: check_file should say a negated file is excluded and report "
                    "the index of the pattern that decided it.",
                    [("Write", {"file_path": str(repo / "tests/test_05_check_file.py"),
                                "content": "import pathspec\n\n\n"
                                           "def test_check_file_reports_deciding_pattern():\n"
                                           "    spec = pathspec.PathSpec.from_lines('gitwildmatch', "
                                           "['*.py', '!setup.py'])\n"
                                           "    result = spec.check_file('setup.py')\n"
                                           "    assert result.include is False\n"
                                           "    assert result.index == 1\n"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_later_read(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    path = repo / "src/itsdangerous/url_safe.py"
    case = c.claude("cc-later-read-itsdangerous-url-safe", "read-full-later", repo,
                    "Why are URLSafeSerializer tokens so much shorter than plain Serializer ones? Read "
                    "src/itsdangerous/url_safe.py.",
                    [("Read", {"file_path": str(path)})],
                    later="When exactly does it keep the zlib-compressed form, and how does the token say it is "
                          "compressed? Quote those lines.")
    case.add(numbered(path, "        if len(compressed) < (len(json) - 1):"),
             numbered(path, "            is_compressed = True"),
             numbered(path, '            base64d = b"." + base64d'))


@scenario
def cc_later_grep(c: Capture) -> None:
    repo = c.repos["pluggy"]
    case = c.claude("cc-later-grep-pluggy-manager", "grep-content-later", repo,
                    "Give me an overview of the methods on pluggy's PluginManager.",
                    [("Grep", {"pattern": "^    def ", "path": str(repo / "pluggy/_manager.py"),
                               "output_mode": "content", "-n": True})],
                    later="Which of those keeps a plugin name from being registered at all? Give its line.")
    case.add("def set_blocked(self, name: str) -> None:")


@scenario
def cc_later_bash(c: Capture) -> None:
    repo = c.repos["pathspec"]
    case = c.claude("cc-later-bash-pathspec-util", "bash-log-later", repo,
                    "Run pathspec's util tests verbosely. Anything failing?",
                    [("Bash", {"command": f"{PYTEST} -v tests/test_01_util.py",
                               "description": "Run util tests verbosely"})],
                    later="Which of those check how symlinks are handled while walking a directory tree, and "
                          "what did each report?")
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "IterTreeTest::test_02_link" in ln)


@scenario
def cc_later_edit(c: Capture) -> None:
    repo = c.fresh("markdown_it", "cc-later-edit-markdown-it")
    path = repo / "markdown_it/ruler.py"
    anchor = "    def disable("
    case = c.claude("cc-later-edit-markdown-it-ruler", "read-full-later", repo,
                    "Read markdown_it/ruler.py: how does a Ruler decide the order its rules run in?",
                    [("Read", {"file_path": str(path)})],
                    later="I'd like Ruler.disable to skip names it doesn't know instead of raising KeyError. Which "
                          "lines of disable would change?")
    case.add(numbered(path, anchor),
             numbered_after(path, anchor, "if (idx < 0) and not ignoreInvalid:"),
             numbered_after(path, anchor, 'raise KeyError(f"Rules manager: invalid rule name {name}")'))


# ---- Codex --------------------------------------------------------------------------------------------

DIR_PATTERN_PATCH = """*** Begin Patch
*** Update File: pathspec/patterns/gitwildmatch.py
@@
 \t\t\t\t# include all descendants.
-\t\t\t\tpattern_segs[-1] = '**'
+\t\t\t\tpattern_segs[-1] = '*'
*** End Patch
"""


@scenario
def cx_exec_nl(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    path = repo / "src/itsdangerous/timed.py"
    case = c.codex("cx-exec-nl-itsdangerous-timed", "codex-exec-nl", repo,
                   "Our password-reset links use TimestampSigner with max_age=3600. When does unsign call a link "
                   "expired, and does a timestamp from the future count too? Show the lines of timed.py.",
                   [exec_js("nl -ba src/itsdangerous/timed.py | sed -n 90,160p")])
    case.add(nl(path, "            if age > max_age:"), nl(path, 'f"Signature age {age} > {max_age} seconds",'),
             nl(path, "            if age < 0:"), nl(path, 'f"Signature age {age} < 0 seconds",'))


@scenario
def cx_exec_rg(c: Capture) -> None:
    repo = c.repos["pathspec"]
    case = c.codex("cx-exec-rg-pathspec", "codex-exec-rg", repo,
                   "Which pathspec functions reject an argument that isn't iterable?",
                   [exec_js("rg -n 'is not an iterable' pathspec")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "is not an iterable" in ln and ":" in ln)


@scenario
def cx_exec_rg_files(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    case = c.codex("cx-exec-rg-files-itsdangerous", "codex-exec-rg-files", repo,
                   "Which itsdangerous modules import from its exc module?",
                   [exec_js("rg -l --glob '*.py' '^from \\.exc import' src/itsdangerous")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cx_exec_failing(c: Capture) -> None:
    repo = c.fresh("pathspec", "cx-exec-failing-pathspec")
    case = c.codex("cx-exec-failing-pathspec", "codex-exec-failing-tests", repo,
                   "Try making a trailing-slash pattern like 'logs/' match only the directory's direct children, "
                   "then run pathspec's tests and list the failures.",
                   [exec_patch(DIR_PATTERN_PATCH), exec_js(f"{PYTEST} -q tests", whole=True)])
    text = case.outputs()[-1]
    case.facts.extend(m.group(0) for m in re.finditer(r"FAILED [^\\\n]+", text))
    case.add_exact('"exit_code":1')


@scenario
def cx_exec_truncated(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    case = c.codex("cx-exec-truncated-itsdangerous-log", "codex-exec-truncated", repo,
                   "Print itsdangerous' entire git log with patches. Which release is the newest commit, and what's "
                   "the first file in its diff?",
                   [exec_js("git log -p", whole=True)])
    case.add("itsdangerous 2.2.0", nth=0)
    case.add("diff --git", nth=0)


HISTORIC_PATCH = """*** Begin Patch
*** Update File: pluggy/_decorators.py
@@
             if historic and firstresult:
-                raise ValueError("cannot have a historic firstresult hook")
+                raise ValueError(f"cannot have a historic firstresult hook: {func.__name__}")
*** End Patch
"""


@scenario
def cx_exec_apply_patch(c: Capture) -> None:
    repo = c.fresh("pluggy", "cx-exec-apply-patch-pluggy")
    case = c.codex("cx-exec-apply-patch-pluggy", "codex-exec-apply-patch", repo,
                   "Make pluggy's 'historic firstresult' error name the offending hook function, then show me the "
                   "diff.",
                   [exec_patch(HISTORIC_PATCH), exec_js("git diff")])
    case.add('+                raise ValueError(f"cannot have a historic firstresult hook: {func.__name__}")',
             '-                raise ValueError("cannot have a historic firstresult hook")', "@@ ")


VERSION_PATCH = """*** Begin Patch
*** Update File: pathspec/_meta.py
@@
-__version__ = "0.12.1"
+__version__ = "0.12.2.dev0"
*** End Patch
"""


@scenario
def cx_direct_apply_patch(c: Capture) -> None:
    repo = c.fresh("pathspec", "cx-direct-apply-patch-pathspec")
    case = c.codex("cx-direct-apply-patch-pathspec", "codex-cmd-apply-patch", repo,
                   "Open the next pathspec development cycle: bump __version__ to 0.12.2.dev0.",
                   [("custom", "apply_patch", VERSION_PATCH)])
    case.add_exact(case.outputs()[-1])


@scenario
def cx_exec_pytest_pass(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    case = c.codex("cx-exec-pytest-itsdangerous-signer", "codex-exec-log", repo,
                   "Run itsdangerous' signer tests verbosely. Do all key derivation variants pass?",
                   [exec_js(f"{ID_PYTEST} -v tests/test_itsdangerous/test_signer.py", whole=True)])
    for m in re.finditer(r"tests/test_itsdangerous/test_signer\.py::TestSigner::test_key_derivation\[\w+\] PASSED",
                         case.outputs()[-1]):
        case.add(m.group(0))


@scenario
def cx_exec_git_stat(c: Capture) -> None:
    repo = c.repos["pathspec"]
    case = c.codex("cx-exec-git-stat-pathspec", "codex-exec-git-log-stat", repo,
                   "Which files did pathspec 0.12.1 touch the most, compared with 0.11.2?",
                   [exec_js("git log --stat")])
    case.facts.extend(_stat_lines(case.outputs()[-1])[:3])


@scenario
def cx_exec_later(c: Capture) -> None:
    repo = c.repos["pluggy"]
    path = repo / "pluggy/_decorators.py"
    case = c.codex("cx-exec-later-pluggy-decorators", "codex-exec-nl-later", repo,
                   "What options can I give pluggy's HookspecMarker and HookimplMarker?",
                   [exec_js("nl -ba pluggy/_decorators.py")],
                   later="Can a hookspec be historic and firstresult at once? Where is that checked?")
    case.add(nl(path, "            if historic and firstresult:"),
             nl(path, 'raise ValueError("cannot have a historic firstresult hook")'))


@scenario
def cx_direct_nl(c: Capture) -> None:
    repo = c.repos["markdown_it"]
    path = repo / "markdown_it/main.py"
    start = _src_line(path, "    def enable(")
    case = c.codex("cx-direct-nl-markdown-it-enable", "codex-cmd-nl", repo,
                   "md.enable('tables') raises ValueError for me. What does MarkdownIt.enable do with names it "
                   "doesn't know, and how can I make it ignore them?",
                   [direct(f"nl -ba markdown_it/main.py | sed -n {start},{start + 55}p")])
    case.add(nl(path, "    def enable("), nl(path, "self, names: str | Iterable[str], ignoreInvalid: bool = False"),
             nl(path, "missed = [name for name in names if name not in result]"),
             nl(path, 'raise ValueError(f"MarkdownIt. Failed to enable unknown rule(s): {missed}")'))


@scenario
def cx_direct_rg(c: Capture) -> None:
    repo = c.repos["pluggy"]
    case = c.codex("cx-direct-rg-pluggy", "codex-cmd-rg", repo,
                   "Where does pluggy's PluginManager set the function that runs hook calls, and where does tracing "
                   "swap it?",
                   [direct("rg -n _inner_hookexec pluggy/_manager.py")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "self._inner_hookexec = " in ln)


@scenario
def cx_direct_failing(c: Capture) -> None:
    repo = c.fresh("pathspec", "cx-direct-failing-pathspec")
    case = c.codex("cx-direct-failing-pathspec", "codex-cmd-failing-tests", repo,
                   "Change gitwildmatch so 'dir/' expands to 'dir/*' instead of 'dir/**', and run the tests: what "
                   "fails?",
                   [exec_patch(DIR_PATTERN_PATCH), direct(f"{PYTEST} -q tests")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("FAILED "))
    case.add("Process exited with code 1")


@scenario
def cx_direct_truncated(c: Capture) -> None:
    repo = c.repos["pathspec"]
    case = c.codex("cx-direct-truncated-pathspec-util", "codex-cmd-truncated", repo,
                   "cat pathspec/util.py: what does it import first, and which class is defined last?",
                   [direct("cat pathspec/util.py")])
    out = case.outputs()[-1]
    imports = [ln for ln in out.splitlines() if re.match(r"(import|from) \w", ln)]
    if not imports:
        raise LookupError(f"{case.id}: no import statement in the output")
    case.facts.append(imports[0])
    classes = [ln for ln in out.splitlines() if re.match(r"class \w+", ln)]
    case.facts.append(classes[-1])


@scenario
def cx_direct_later(c: Capture) -> None:
    repo = c.repos["itsdangerous"]
    path = repo / "src/itsdangerous/serializer.py"
    case = c.codex("cx-direct-later-itsdangerous-serializer", "codex-cmd-nl-later", repo,
                   "Walk me through itsdangerous' Serializer class: show me the start of src/itsdangerous/serializer.py.",
                   [direct("nl -ba src/itsdangerous/serializer.py | sed -n 1,130p")],
                   later="Which module does it use to serialize by default, which signer class, and which fallback "
                         "signers?")
    case.add(nl(path, "    default_serializer: _PDataSerializer[t.Any] = json"),
             nl(path, "    default_signer: type[Signer] = Signer"),
             nl(path, "    default_fallback_signers: list["))


if __name__ == "__main__":
    raise SystemExit(main(doc=__doc__, scenarios=SCENARIOS, out=OUT, work=WORK, sdists_of=SDISTS, copies=COPIES))
