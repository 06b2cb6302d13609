"""Capture a seventh held-out agent corpus (agents-7): capture_agents.py's machinery, new code bases, new questions.

    .venv/bin/python scripts/capture_holdout7.py [--work DIR] [--only ID_PREFIX] [--out FILE]

agents-6 was measured held out and then looked at, so like the five before it it no longer tells how the compressor
does on requests it has never seen. This one is made the same way (the real Claude Code and Codex CLIs, driven by the
fake upstream to call their own built-in tools, the bodies they then send) on code bases no earlier capture uses:
PyPI sdists of two successive releases of xmltodict (0.13.0, 0.14.2) and six (1.16.0, 1.17.0) made into git
repositories, and copies of the venv's sortedcontainers and blinker. Its scenarios cover the same tool-output
formats in about the same proportions as capture_holdout6.py (the same 40 kinds of case), with new questions, asked
the way a user of each code base would ask them (an error they hit, a default they rely on, a change they weigh, a
release they upgrade to); each fact is an exact line (or, for Codex's JSON-serialised results, an exact piece of one)
of a tool output that the question needs, picked by what the question asks.

tomli was tried first, but its sdists ship no tests, so six took its place. Both sdists' tests run with the venv's
pytest and no plugins; sortedcontainers and blinker as installed carry no tests, so their scenarios only read,
search, edit and diff.

It is written outside the repository (default /work/holdout/agents-7.jsonl.gz) so that it stays held out: it was
captured blind (no compressor, benchmark or eval was run on it while it was made, and how headroom compresses it
was not looked at). It is NOT YET MEASURED. Measure it with `benchmarks/agents_bench.py --data FILE`, never tune
to it. Once it has been looked at, it is no longer held out: a new held-out capture then needs new code bases and
questions (change SDISTS, COPIES and the scenarios).

Its first run (2026-12-03, the CLIs in .cache, as capture_holdout6.py's) captured 39 of the 40 scenarios:
cc_bash_failing_big first made six.ensure_binary (then ensure_str) pass non-text through, but six's EnsureTests
class lacks pytest's Test prefix, so no test ran and none failed; it was changed to drop add_metaclass' __qualname__
copy, run again with --only and merged in. The changelog ruler line ('+------') was then dropped from
cc_bash_persisted_git's facts (by the filter below, and from the written case). /work/holdout/agents-7.jsonl.gz holds
40 cases with 254 facts (Claude Code 25 cases, 159 facts; Codex 15 cases, 95 facts). Not measured.

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

OUT = Path("/work/holdout/agents-7.jsonl.gz")
WORK = Path("/tmp/headroom-holdout7")
SDISTS = (("xmltodict", "0.13.0", "0.14.2"), ("six", "1.16.0", "1.17.0"))
COPIES = ("sortedcontainers", "blinker")
PYTEST = f"{PY} -m pytest -p no:cacheprovider"

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
    repo = c.repos["blinker"]
    path = repo / "blinker/_utilities.py"
    case = c.claude("cc-read-full-blinker-utilities", "read-full", repo,
                    "I connect a bound method as a blinker receiver and connect it again later; blinker treats the "
                    "two as the same receiver. How does it identify receivers and senders, and how does it hold a "
                    "weak reference to a method?",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "def make_id(obj: object) -> c.Hashable:"),
             numbered(path, "return id(obj.__func__), id(obj.__self__)"),
             numbered(path, "if isinstance(obj, (str, int)):"),
             numbered(path, "return WeakMethod(obj, callback)"))


@scenario
def cc_read_partial(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    path = repo / "sortedcontainers/sortedlist.py"
    anchor = "    def _expand(self, pos):"
    start = _src_line(path, anchor)
    case = c.claude("cc-read-partial-sortedcontainers-expand", "read-partial", repo,
                    "We see an occasional slow add() on a big SortedList. At what size does it split one of its "
                    "sublists, and what happens to the positional index then?",
                    [("Read", {"file_path": str(path), "offset": start, "limit": 35})])
    case.add(numbered(path, anchor),
             numbered_after(path, anchor, "if len(_lists[pos]) > (_load << 1):"),
             numbered_after(path, anchor, "half = _lists_pos[_load:]"),
             numbered_after(path, anchor, "del _index[:]"))


@scenario
def cc_read_large(c: Capture) -> None:
    repo = c.repos["six"]
    path = repo / "six.py"
    anchor = "def ensure_str("
    n = _src_line(path, anchor)
    case = c.claude("cc-read-large-six-ensure-str", "read-large", repo,
                    "On Python 3, what does six.ensure_str do with bytes, and with an int? Read six.py and find it.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path), "offset": n, "limit": 25})])
    case.add(numbered(path, anchor), numbered_after(path, anchor, "if type(s) is str:"),
             numbered_after(path, anchor, "elif PY3 and isinstance(s, binary_type):"),
             numbered_after(path, anchor, "return s.decode(encoding, errors)"),
             numbered_after(path, anchor, "raise TypeError(\"not expecting type '%s'\" % type(s))"))


@scenario
def cc_read_doc(c: Capture) -> None:
    repo = c.repos["six"]
    path = repo / "CHANGES"
    case = c.claude("cc-read-doc-six-changes", "read-full-doc", repo,
                    "We're preparing for Python 3.14 and still import six.moves.urllib.request. What did six 1.17.0 "
                    "change there, and what else is in that release? Check CHANGES.",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "1.17.0"),
             numbered(path, "- Pull request #388: Remove `URLopener` and `FancyURLopener` classes from"),
             numbered(path, "  `urllib.request` when running on Python 3.14 or greater."),
             numbered(path, "- Pull request #365, issue #283: `six.moves.UserDict` now points to"))


@scenario
def cc_read_repeat(c: Capture) -> None:
    repo = c.repos["blinker"]
    path = repo / "blinker/__init__.py"
    case = c.claude("cc-read-repeat-blinker-init", "read-repeat", repo,
                    "What can I import directly from the blinker package? Read its __init__ again, I want the exact "
                    "list.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path)})])
    for n, ln in enumerate(path.read_text().splitlines(), 1):
        if ln.startswith("from .base import "):
            case.add(f"{n}\t{ln}")


@scenario
def cc_grep_content(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    case = c.claude("cc-grep-content-sortedcontainers", "grep-content", repo,
                    "Porting code from list to SortedList: append, insert, extend, reverse and item assignment blow "
                    "up. What does SortedList tell me to use instead of each?",
                    [("Grep", {"pattern": "raise NotImplementedError|message = 'use",
                               "path": str(repo / "sortedcontainers/sortedlist.py"), "output_mode": "content",
                               "-n": True})])
    case.add("message = 'use ``del sl[index]`` and ``sl.add(value)`` instead'",
             "raise NotImplementedError('use ``reversed(sl)`` instead')",
             "raise NotImplementedError('use ``sl.add(value)`` instead')",
             "raise NotImplementedError('use ``sl.update(values)`` instead')")


@scenario
def cc_grep_context(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    case = c.claude("cc-grep-context-xmltodict-entities", "grep-context", repo,
                    "Security review: is xmltodict.parse safe from entity-expansion attacks by default, and what "
                    "exactly does it do to the expat parser?",
                    [("Grep", {"pattern": "disable_entities|Handler = lambda", "path": str(repo / "xmltodict.py"),
                               "output_mode": "content", "-n": True, "-C": 2})])
    case.add("disable_entities=True, process_comments=False, **kwargs):", "if disable_entities:",
             "parser.DefaultHandler = lambda x: None", "parser.ExternalEntityRefHandler = lambda *x: 1")


@scenario
def cc_grep_content_paginated(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    case = c.claude("cc-grep-content-sortedcontainers-remove", "grep-content-paginated", repo,
                    "sl.remove(x) raises ValueError on a value I'm sure is there (it's a float close to one in the "
                    "list). How does SortedList.remove look the value up, and when does it raise?",
                    [("Grep", {"pattern": "self|return|raise|_maxes|pos",
                               "path": str(repo / "sortedcontainers/sortedlist.py"), "output_mode": "content",
                               "-n": True})])
    # The same statements open __contains__ and discard, earlier in the file: the facts are remove's own
    # (case.add would take each text's first line; found after measuring, and corrected in the corpus).
    out = case.outputs()[-1].splitlines()
    start = next(k for k, ln in enumerate(out) if "def remove(self, value)" in ln)
    for want in ("if not _maxes:", "pos = bisect_left(_maxes, value)", "idx = bisect_left(_lists[pos], value)",
                 "if _lists[pos][idx] == value:"):
        case.facts.append(next(ln for ln in out[start:] if want in ln))


@scenario
def cc_grep_files(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    case = c.claude("cc-grep-files-sortedcontainers", "grep-files", repo,
                    "If we subclass SortedKeyList, which sortedcontainers modules mention it?",
                    [("Grep", {"pattern": "SortedKeyList", "path": str(repo / "sortedcontainers")})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cc_grep_count(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    case = c.claude("cc-grep-count-xmltodict", "grep-count", repo,
                    "Is xmltodict's parse or unparse side better covered by tests? Count test functions per file.",
                    [("Grep", {"pattern": "def test_", "path": str(repo / "tests"), "output_mode": "count"})])
    counts = [ln for ln in case.outputs()[-1].splitlines() if re.search(r"\.py:\d+$", ln)]
    case.facts.extend(counts)


@scenario
def cc_glob(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    case = c.claude("cc-glob-xmltodict-pyc", "glob", repo,
                    "The xmltodict sdist seems to ship compiled bytecode. Which .pyc files are in it?",
                    [("Glob", {"pattern": "**/*.pyc", "path": str(repo)})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".pyc"))


@scenario
def cc_bash_find(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    case = c.claude("cc-bash-find-xmltodict", "bash-listing", repo,
                    "Packaging xmltodict for our distro: besides Python sources and bytecode, which files does the "
                    "sdist contain?",
                    [("Bash", {"command": "find . -path ./.git -prune -o -type f -print | sort",
                               "description": "List files in the sdist"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("./") and not ln.endswith((".py", ".pyc")))


@scenario
def cc_bash_log(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    case = c.claude("cc-bash-log-xmltodict-parse", "bash-log", repo,
                    "Run xmltodict's parsing tests verbosely. Do the entity-handling (XML bomb, external DTD) tests "
                    "pass on our Python?",
                    [("Bash", {"command": f"{PYTEST} -v tests/test_xmltodict.py",
                               "description": "Run parse tests verbosely"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("tests/test_xmltodict.py::") and "disable_entities" in ln)


@scenario
def cc_bash_git_stat(c: Capture) -> None:
    repo = c.repos["six"]
    case = c.claude("cc-bash-git-log-stat-six", "bash-git-log-stat", repo,
                    "Between six 1.16.0 and 1.17.0, how many lines changed in six.py and in its tests?",
                    [("Bash", {"command": "git log --stat", "description": "Show commit history with stats"})])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"(?:six|test_six)\.py"))


@scenario
def cc_bash_git_log_p(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    case = c.claude("cc-bash-git-log-p-xmltodict", "bash-git-log-p", repo,
                    "xmltodict 0.14 dropped Python 2. Besides the compatibility shims, did any parsing behaviour "
                    "change in xmltodict.py? Show me the diff.",
                    [("Bash", {"command": "git log -p -- xmltodict.py", "description": "Show history of xmltodict.py"})])
    case.facts.extend(_newest_changes(case.outputs()[-1]))


@scenario
def cc_bash_persisted_git(c: Capture) -> None:
    repo = c.repos["six"]
    # The history holds both versions of the changelog and the whole documentation (about 60 KB), so Claude Code
    # persists it and shows a preview.
    case = c.claude("cc-bash-persisted-six-git-log-p", "bash-persisted", repo,
                    "Show me what changed in six's changelog and docs in the latest release, as a diff.",
                    [("Bash", {"command": "git log -p -- CHANGES documentation/index.rst",
                               "description": "Show history of the changelog and docs"})])
    case.add("Full output saved to")
    out = case.outputs()[-1]
    changes = out.split("diff --git a/documentation", 1)[0]
    case.facts.extend(f for f in _newest_changes(changes) if f not in case.facts and f.strip("+-"))  # no rulers


@scenario
def cc_bash_persisted(c: Capture) -> None:
    repo = c.repos["six"]
    case = c.claude("cc-bash-persisted-six-tests", "bash-persisted", repo,
                    "Run six's full test suite verbosely with per-test timings. Where was the output saved, and what "
                    "was the first test that passed?",
                    [("Bash", {"command": f"{PYTEST} -v -rA --durations=0 --durations-min=0 test_six.py",
                               "description": "Run six tests with timings"})])
    case.add("Full output saved to")
    case.add("PASSED", nth=0)


@scenario
def cc_bash_failing(c: Capture) -> None:
    repo = c.fresh("xmltodict", "cc-bash-failing-xmltodict")
    path = repo / "xmltodict.py"
    n = _src_line(path, "        elif isinstance(v, bool):")
    case = c.claude("cc-bash-failing-xmltodict", "bash-failing-tests", repo,
                    "Our consumer expects Python-style True/False in XML. Make unparse write booleans with str() "
                    "and run the unparse tests: what breaks?",
                    [("Read", {"file_path": str(path), "offset": n - 4, "limit": 12}),
                     ("Edit", {"file_path": str(path),
                               "old_string": "            v = 'true' if v else 'false'\n",
                               "new_string": "            v = str(v)\n"}),
                     ("Bash", {"command": f"{PYTEST} -q tests/test_dicttoxml.py",
                               "description": "Run unparse tests"})])
    for ln in case.outputs()[-1].splitlines():
        if (re.match(r"[.FsxE]*F[.FsxE]* +\[ *\d+%\]$", ln) or re.match(r"_+ \S*test\w+.* _+$", ln)
                or ln.startswith("FAILED ")):
            case.facts.append(ln)
    case.add("Exit code 1")


@scenario
def cc_bash_failing_big(c: Capture) -> None:
    repo = c.fresh("six", "cc-bash-failing-big-six")
    path = repo / "six.py"
    # six's EnsureTests class lacks pytest's Test prefix, so an ensure_* change fails no test: change add_metaclass
    old = ("        if hasattr(cls, '__qualname__'):\n"
           "            orig_vars['__qualname__'] = cls.__qualname__\n")
    n = _src_line(path, "def add_metaclass(")
    case = c.claude("cc-bash-failing-big-six", "bash-failing-tests", repo,
                    "On Python 3 only, is add_metaclass's copying of __qualname__ still needed? Drop it and run "
                    "six's whole test suite: which tests fail?",
                    [("Read", {"file_path": str(path), "offset": n, "limit": 16}),
                     ("Edit", {"file_path": str(path), "old_string": old,
                               "new_string": "        # __qualname__ is no longer copied\n"}),
                     ("Bash", {"command": f"{PYTEST} test_six.py", "description": "Run six tests"})])
    for ln in case.outputs()[-1].splitlines():
        if (re.match(r"test_six\.py [.FsxE]*F", ln) or re.match(r"_+ \S*test\w+.* _+$", ln)
                or ln.startswith("FAILED ")):
            case.facts.append(ln)
    case.add("Exit code 1")


@scenario
def cc_edit(c: Capture) -> None:
    repo = c.fresh("sortedcontainers", "cc-edit-sortedcontainers")
    path = repo / "sortedcontainers/sortedlist.py"
    n = _src_line(path, "    DEFAULT_LOAD_FACTOR = 1000")
    case = c.claude("cc-edit-sortedcontainers", "edit", repo,
                    "Our sorted lists rarely exceed a few thousand items; halve SortedList's DEFAULT_LOAD_FACTOR to "
                    "500.",
                    [("Read", {"file_path": str(path), "offset": n - 3, "limit": 8}),
                     ("Edit", {"file_path": str(path), "old_string": "    DEFAULT_LOAD_FACTOR = 1000",
                               "new_string": "    DEFAULT_LOAD_FACTOR = 500"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_write(c: Capture) -> None:
    repo = c.fresh("xmltodict", "cc-write-xmltodict")
    case = c.claude("cc-write-xmltodict", "write", repo,
                    "Add tests/test_force_list_single.py: with force_list=('item',), a single <item> must still "
                    "come back as a one-element list.",
                    [("Write", {"file_path": str(repo / "tests/test_force_list_single.py"),
                                "content": "import xmltodict\n\n\n"
                                           "def test_single_item_is_a_list():\n"
                                           "    doc = xmltodict.parse('<items><item>a</item></items>', "
                                           "force_list=('item',))\n"
                                           "    assert doc == {'items': {'item': ['a']}}\n"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_later_read(c: Capture) -> None:
    repo = c.repos["blinker"]
    path = repo / "blinker/base.py"
    case = c.claude("cc-later-read-blinker-base", "read-full-later", repo,
                    "Explain how blinker's Signal.connect stores receivers. Read blinker/base.py.",
                    [("Read", {"file_path": str(path)})],
                    later="I connected an async def receiver and send() blew up. What does send do with coroutine "
                          "receivers? Quote the lines.")
    anchor = "    def send("
    case.add(numbered_after(path, anchor, "if iscoroutinefunction(receiver):"),
             numbered_after(path, anchor, 'raise RuntimeError("Cannot send to a coroutine function.")'),
             numbered_after(path, anchor, "result = _async_wrapper(receiver)(sender, **kwargs)"))


@scenario
def cc_later_grep(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    case = c.claude("cc-later-grep-sortedcontainers-sorteddict", "grep-content-later", repo,
                    "List the methods SortedDict defines itself.",
                    [("Grep", {"pattern": "^    def ", "path": str(repo / "sortedcontainers/sorteddict.py"),
                               "output_mode": "content", "-n": True})],
                    later="Which one gives me the key and value at a given position, like the smallest item? Line?")
    case.add("def peekitem(self, index=-1):")


@scenario
def cc_later_bash(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    case = c.claude("cc-later-bash-xmltodict-unparse", "bash-log-later", repo,
                    "Run xmltodict's unparse tests verbosely; is everything green?",
                    [("Bash", {"command": f"{PYTEST} -v tests/test_dicttoxml.py",
                               "description": "Run unparse tests verbosely"})],
                    later="Which of them cover pretty-printing, and what did each report?")
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "::test_pretty_print" in ln)


@scenario
def cc_later_edit(c: Capture) -> None:
    repo = c.fresh("sortedcontainers", "cc-later-edit-sortedcontainers")
    path = repo / "sortedcontainers/sortedset.py"
    anchor = "    def remove(self, value):"
    case = c.claude("cc-later-edit-sortedcontainers-sortedset", "read-full-later", repo,
                    "Read sortedcontainers/sortedset.py: how does a SortedSet keep its set and its sorted list in "
                    "step?",
                    [("Read", {"file_path": str(path)})],
                    later="I'd like SortedSet.remove to ignore missing values the way discard does, instead of "
                          "raising KeyError. Which lines of remove are involved?")
    case.add(numbered(path, anchor),
             numbered_after(path, anchor, "self._set.remove(value)"),
             numbered_after(path, anchor, "self._list.remove(value)"))


# ---- Codex --------------------------------------------------------------------------------------------

ATTR_PREFIX_PATCH = """*** Begin Patch
*** Update File: xmltodict.py
@@
                  xml_attribs=True,
-                 attr_prefix='@',
+                 attr_prefix='-',
                  cdata_key='#text',
*** End Patch
"""


@scenario
def cx_exec_nl(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    path = repo / "sortedcontainers/sortedlist.py"
    anchor = "    def pop(self, index=-1):"
    start = _src_line(path, anchor)
    case = c.codex("cx-exec-nl-sortedcontainers-pop", "codex-exec-nl", repo,
                   "Our worker pops the largest job off a SortedList. What happens when the list is empty, and how "
                   "are negative indexes handled? Show me SortedList.pop.",
                   [exec_js(f"nl -ba sortedcontainers/sortedlist.py | sed -n {start},{start + 60}p")])
    case.add(nl(path, anchor), nl_after(path, anchor, "if not self._len:"),
             nl_after(path, anchor, "raise IndexError('pop index out of range')"))


@scenario
def cx_exec_rg(c: Capture) -> None:
    repo = c.repos["six"]
    case = c.codex("cx-exec-rg-six", "codex-exec-rg", repo,
                   "Which six helpers raise TypeError when handed the wrong kind of value?",
                   [exec_js("rg -n 'raise TypeError' six.py")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "raise TypeError" in ln and ":" in ln)


@scenario
def cx_exec_rg_files(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    case = c.codex("cx-exec-rg-files-sortedcontainers", "codex-exec-rg-files", repo,
                   "Which sortedcontainers modules build on the sortedlist module?",
                   [exec_js("rg -l 'from .sortedlist import' sortedcontainers")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cx_exec_failing(c: Capture) -> None:
    repo = c.fresh("xmltodict", "cx-exec-failing-xmltodict")
    case = c.codex("cx-exec-failing-xmltodict", "codex-exec-failing-tests", repo,
                   "Our JSON side can't have '@' in keys. Try making '-' xmltodict's default attribute prefix when "
                   "parsing, run the test suite, and tell me which tests depend on '@'.",
                   [exec_patch(ATTR_PREFIX_PATCH), exec_js(f"{PYTEST} -q tests", whole=True)])
    text = case.outputs()[-1]
    case.facts.extend(m.group(0) for m in re.finditer(r"FAILED [^\\\n]+", text))
    case.add_exact('"exit_code":1')


@scenario
def cx_exec_truncated(c: Capture) -> None:
    repo = c.repos["six"]
    case = c.codex("cx-exec-truncated-six-log", "codex-exec-truncated", repo,
                   "Dump six's whole git history with patches. What's the newest release in it, and which file does "
                   "its diff start with?",
                   [exec_js("git log -p", whole=True)])
    case.add("six 1.17.0", nth=0)
    case.add("diff --git", nth=0)


ASYNC_PATCH = """*** Begin Patch
*** Update File: blinker/base.py
@@
                 if _async_wrapper is None:
-                    raise RuntimeError("Cannot send to a coroutine function.")
+                    raise RuntimeError(f"Cannot send to a coroutine function: {receiver!r}")
*** End Patch
"""


@scenario
def cx_exec_apply_patch(c: Capture) -> None:
    repo = c.fresh("blinker", "cx-exec-apply-patch-blinker")
    case = c.codex("cx-exec-apply-patch-blinker", "codex-exec-apply-patch", repo,
                   "When send() hits an async receiver, have the RuntimeError say which receiver it was. Show the "
                   "diff afterwards.",
                   [exec_patch(ASYNC_PATCH), exec_js("git diff")])
    case.add('+                    raise RuntimeError(f"Cannot send to a coroutine function: {receiver!r}")',
             '-                    raise RuntimeError("Cannot send to a coroutine function.")', "@@ ")


VERSION_PATCH = """*** Begin Patch
*** Update File: six.py
@@
-__version__ = "1.17.0"
+__version__ = "1.17.1.dev0"
*** End Patch
"""


@scenario
def cx_direct_apply_patch(c: Capture) -> None:
    repo = c.fresh("six", "cx-direct-apply-patch-six")
    case = c.codex("cx-direct-apply-patch-six", "codex-cmd-apply-patch", repo,
                   "Start six's next dev cycle: set __version__ to 1.17.1.dev0.",
                   [("custom", "apply_patch", VERSION_PATCH)])
    case.add_exact(case.outputs()[-1])


@scenario
def cx_exec_pytest_pass(c: Capture) -> None:
    repo = c.repos["six"]
    case = c.codex("cx-exec-pytest-six-urllib-request", "codex-exec-log", repo,
                   "Run six's tests for the urllib.request moves verbosely. Does every moved name resolve here?",
                   [exec_js(f"{PYTEST} -v -k urllib_request test_six.py", whole=True)])
    for m in re.finditer(r"test_six\.py::test_move_items_urllib_request\[\w+\] PASSED", case.outputs()[-1]):
        case.add(m.group(0))


@scenario
def cx_exec_git_stat(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    case = c.codex("cx-exec-git-stat-xmltodict", "codex-exec-git-log-stat", repo,
                   "Going from xmltodict 0.13.0 to 0.14.2, which files changed the most?",
                   [exec_js("git log --stat")])
    case.facts.extend(_stat_lines(case.outputs()[-1])[:3])


@scenario
def cx_exec_later(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    path = repo / "sortedcontainers/__init__.py"
    case = c.codex("cx-exec-later-sortedcontainers-init", "codex-exec-nl-later", repo,
                   "What does the sortedcontainers package export at top level?",
                   [exec_js("nl -ba sortedcontainers/__init__.py")],
                   later="And which version of sortedcontainers is this? Give the line.")
    case.add(nl(path, "__version__ = '2.4.0'"))


@scenario
def cx_direct_nl(c: Capture) -> None:
    repo = c.repos["xmltodict"]
    path = repo / "xmltodict.py"
    anchor = "    def _should_force_list(self, key, value):"
    start = _src_line(path, anchor)
    case = c.codex("cx-direct-nl-xmltodict-force-list", "codex-cmd-nl", repo,
                   "force_list=True turns every element into a list for us, which is too much. What are the other "
                   "forms force_list accepts, and what does a callable receive?",
                   [direct(f"nl -ba xmltodict.py | sed -n {start},{start + 12}p")])
    case.add(nl(path, anchor), nl_after(path, anchor, "if isinstance(self.force_list, bool):"),
             nl_after(path, anchor, "return key in self.force_list"),
             nl_after(path, anchor, "return self.force_list(self.path[:-1], key, value)"))


@scenario
def cx_direct_rg(c: Capture) -> None:
    repo = c.repos["blinker"]
    case = c.codex("cx-direct-rg-blinker", "codex-cmd-rg", repo,
                   "Where does blinker start tracking a sender weakly, and where does it forget it again?",
                   [direct("rg -n _weak_senders blinker/base.py")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if "self._weak_senders[sender_id] = " in ln or "self._weak_senders.pop(" in ln)


@scenario
def cx_direct_failing(c: Capture) -> None:
    repo = c.fresh("xmltodict", "cx-direct-failing-xmltodict")
    case = c.codex("cx-direct-failing-xmltodict", "codex-cmd-failing-tests", repo,
                   "Switch parse's default attr_prefix from '@' to '-' and run the tests: which ones fail?",
                   [exec_patch(ATTR_PREFIX_PATCH), direct(f"{PYTEST} -q tests")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("FAILED "))
    case.add("Process exited with code 1")


@scenario
def cx_direct_truncated(c: Capture) -> None:
    repo = c.repos["six"]
    case = c.codex("cx-direct-truncated-six", "codex-cmd-truncated", repo,
                   "cat six.py: what's the first module it imports, and what is the last class it defines at top "
                   "level?",
                   [direct("cat six.py")])
    out = case.outputs()[-1]
    imports = [ln for ln in out.splitlines() if re.match(r"(import|from) \w", ln)]
    if not imports:
        raise LookupError(f"{case.id}: no import statement in the output")
    case.facts.append(imports[0])
    classes = [ln for ln in out.splitlines() if re.match(r"class \w+", ln)]
    case.facts.append(classes[-1])


@scenario
def cx_direct_later(c: Capture) -> None:
    repo = c.repos["sortedcontainers"]
    path = repo / "sortedcontainers/sorteddict.py"
    case = c.codex("cx-direct-later-sortedcontainers-sorteddict", "codex-cmd-nl-later", repo,
                   "Show me how SortedDict's constructor is written (sortedcontainers/sorteddict.py, the class "
                   "up to the end of __init__).",
                   [direct("nl -ba sortedcontainers/sorteddict.py | sed -n 80,200p")],
                   later="Where does the optional key function end up, and what structure keeps the keys sorted?")
    case.add(nl(path, "            _key = self._key = args[0]"),
             nl(path, "        self._list = SortedList(key=_key)"))


if __name__ == "__main__":
    raise SystemExit(main(doc=__doc__, scenarios=SCENARIOS, out=OUT, work=WORK, sdists_of=SDISTS, copies=COPIES))
