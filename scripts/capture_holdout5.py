"""Capture a fifth held-out agent corpus (agents-5): capture_agents.py's machinery, new code bases, new questions.

    .venv/bin/python scripts/capture_holdout5.py [--work DIR] [--only ID_PREFIX] [--out FILE]

agents-4 was measured held out and then looked at while fixing the compressor, so like the three before it it no
longer tells how the compressor does on requests it has never seen. This one is made the same way (the real Claude
Code and Codex CLIs, driven by the fake upstream to call their own built-in tools, the bodies they then send) on
code bases no earlier capture uses: PyPI sdists of two successive releases of cachetools (5.3.3, 5.4.0) and wcwidth
(0.2.12, 0.2.13) made into git repositories, and copies of the venv's werkzeug and hpack. Its scenarios cover the
same tool-output formats in about the same proportions as capture_holdout4.py (the same 40 kinds of case), with
new questions, asked the way a user of each code base would ask them; each fact is an exact line (or, for Codex's
JSON-serialised results, an exact piece of one) of a tool output that the question needs, picked by what the
question asks.

It is written outside the repository (default /work/holdout/agents-5.jsonl.gz) so that it stays held out: it was
captured blind (no compressor, benchmark or eval was run on it while it was made, and how headroom compresses it
was not looked at). It is NOT YET MEASURED. Measure it with `benchmarks/agents_bench.py --data FILE`, never tune
to it. Once it has been looked at, it is no longer held out: a new held-out capture then needs new code bases and
questions (change SDISTS, COPIES and the scenarios).

Its first run (2026-12-03, Claude Code 2.1.197, Codex 0.169.1) wrote 40 cases with 172 facts (Claude Code 25 cases,
132 facts; Codex 15 cases, 40 facts) to /work/holdout/agents-5.jsonl.gz; every scenario captured. Not measured.

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

OUT = Path("/work/holdout/agents-5.jsonl.gz")
WORK = Path("/tmp/headroom-holdout5")
SDISTS = (("cachetools", "5.3.3", "5.4.0"), ("wcwidth", "0.2.12", "0.2.13"))
COPIES = ("werkzeug", "hpack")
PYTEST = f"{PY} -m pytest -p no:cacheprovider"
CT_PYTEST = f"PYTHONPATH=src {PYTEST}"  # cachetools' sdist keeps its package under src/
WC_PYTEST = f"{PYTEST} -o addopts="  # wcwidth's tox.ini addopts ask for pytest-cov (--cov-append), not in the venv

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
    repo = c.repos["werkzeug"]
    path = repo / "werkzeug/security.py"
    case = c.claude("cc-read-full-werkzeug-security", "read-full", repo,
                    "I'm storing password hashes made by werkzeug. What scrypt parameters and how many pbkdf2 "
                    "iterations does it use when the method string gives none? Point me at the lines.",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "DEFAULT_PBKDF2_ITERATIONS = 1_000_000"), numbered(path, "            n = 2**15"),
             numbered(path, "            r = 8"), numbered(path, "            p = 1"),
             numbered(path, '            hash_name = "sha256"'))


@scenario
def cc_read_partial(c: Capture) -> None:
    repo = c.repos["hpack"]
    path = repo / "hpack/hpack.py"
    start = _src_line(path, "def decode_integer(")
    case = c.claude("cc-read-partial-hpack-decode-integer", "read-partial", repo,
                    "A peer sent us a header block with an endless run of continuation bytes in an integer. What "
                    "stops hpack's decode_integer from looping forever, and what does it raise?",
                    [("Read", {"file_path": str(path), "offset": start, "limit": 45})])
    case.add(numbered(path, "def decode_integer("),
             numbered(path, "if index > VARINT_MAX_LENGTH:"),
             numbered(path, 'msg = f"Variable integer representation is too long: {data!r}"'),
             numbered(path, 'msg = f"Unable to decode HPACK integer representation from {data!r}"'))


@scenario
def cc_read_large(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    path = repo / "werkzeug/http.py"
    anchor = "def dump_cookie("
    n = _src_line(path, anchor)
    case = c.claude("cc-read-large-werkzeug-dump-cookie", "read-large", repo,
                    "Setting samesite='lax' on a werkzeug cookie: does dump_cookie accept the lowercase spelling, "
                    "and what does partitioned=True force? Look it up in werkzeug/http.py.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path), "offset": n, "limit": 130})])
    case.add(numbered(path, anchor), numbered_after(path, anchor, "samesite = samesite.title()"),
             numbered_after(path, anchor, 'if samesite not in {"Strict", "Lax", "None"}:'),
             numbered_after(path, anchor, "raise ValueError(\"SameSite must be 'Strict', 'Lax', or 'None'.\")"),
             numbered_after(path, anchor, "    if partitioned:"),
             numbered_after(path, anchor, "        secure = True"))


@scenario
def cc_read_doc(c: Capture) -> None:
    repo = c.repos["cachetools"]
    path = repo / "CHANGELOG.rst"
    case = c.claude("cc-read-doc-cachetools-changelog", "read-full-doc", repo,
                    "We still use MRUCache. According to cachetools' CHANGELOG, in which release was it deprecated, "
                    "and what else did that release add?",
                    [("Read", {"file_path": str(path)})])
    case.add(numbered(path, "v5.4.0 ("), numbered(path, "- Deprecate ``MRUCache`` class."),
             numbered(path, "- Deprecate ``@func.mru_cache`` decorator."),
             numbered(path, "- Add the ``keys.typedmethodkey`` decorator."))


@scenario
def cc_read_repeat(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    path = repo / "werkzeug/routing/converters.py"
    case = c.claude("cc-read-repeat-werkzeug-converters", "read-repeat", repo,
                    "Which URL converter classes does werkzeug define on top of NumberConverter? Check the file "
                    "once more before you answer.",
                    [("Read", {"file_path": str(path)}), ("Read", {"file_path": str(path)})])
    for n, ln in enumerate(path.read_text().splitlines(), 1):
        if re.match(r"class \w+\(NumberConverter\)", ln):
            case.add(f"{n}\t{ln}")


@scenario
def cc_grep_content(c: Capture) -> None:
    repo = c.repos["hpack"]
    case = c.claude("cc-grep-content-hpack", "grep-content", repo,
                    "Which errors can hpack's Decoder raise about the header table size, and with what messages?",
                    [("Grep", {"pattern": "msg = ", "path": str(repo / "hpack"), "output_mode": "content",
                               "-n": True})])
    case.add('msg = "Encoder did not shrink table size to within the max"',
             'msg = "Encoder exceeded max allowable table size"',
             'msg = "Table size update not at the start of the block"')


@scenario
def cc_grep_context(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    case = c.claude("cc-grep-context-werkzeug-proxy-fix", "grep-context", repo,
                    "With ProxyFix(app, x_for=2), which X-Forwarded-For entry ends up in REMOTE_ADDR, and what "
                    "happens if the header has fewer entries?",
                    [("Grep", {"pattern": "trusted", "path": str(repo / "werkzeug/middleware/proxy_fix.py"),
                               "output_mode": "content", "-n": True, "-C": 2})])
    case.add("if len(values) >= trusted:", "return values[-trusted]", "if not (trusted and value):")


@scenario
def cc_grep_content_paginated(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    case = c.claude("cc-grep-content-werkzeug-structures", "grep-content-paginated", repo,
                    "request.args.get('page', type=int) gives me None for page=abc: where does werkzeug's "
                    "TypeConversionDict.get fall back to the default, and what does MultiDict.__getitem__ raise for "
                    "a missing key? Give the lines.",
                    [("Grep", {"pattern": "self|return|raise|def ",
                               "path": str(repo / "werkzeug/datastructures/structures.py"), "output_mode": "content",
                               "-n": True})])
    case.add("rv = self[key]", "return type(rv)", "return lst[0]  # type: ignore[index,no-any-return]")
    case.add("raise exceptions.BadRequestKeyError(key)", nth=0)


@scenario
def cc_grep_files(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    case = c.claude("cc-grep-files-werkzeug", "grep-files", repo,
                    "Which werkzeug modules outside the datastructures package import from werkzeug's "
                    "datastructures?",
                    [("Grep", {"pattern": "from \\.+datastructures import", "path": str(repo / "werkzeug")})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.endswith(".py") and "/datastructures/" not in ln)


@scenario
def cc_grep_count(c: Capture) -> None:
    repo = c.repos["wcwidth"]
    case = c.claude("cc-grep-count-wcwidth", "grep-count", repo,
                    "How many test functions does each of wcwidth's test modules have? Which has the most?",
                    [("Grep", {"pattern": "^def test", "path": str(repo / "tests"), "output_mode": "count"})])
    counts = [ln for ln in case.outputs()[-1].splitlines() if re.search(r":\d+$", ln)]
    case.facts.append(max(counts, key=lambda ln: int(ln.rsplit(":", 1)[1])))


@scenario
def cc_glob(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    case = c.claude("cc-glob-werkzeug", "glob", repo,
                    "What's in werkzeug's middleware package? I need the module paths.",
                    [("Glob", {"pattern": "**/*.py", "path": str(repo)})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("werkzeug/middleware/"))


@scenario
def cc_bash_find(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    case = c.claude("cc-bash-find-werkzeug", "bash-listing", repo,
                    "Which static assets does werkzeug's interactive debugger ship (anything that is not Python)?",
                    [("Bash", {"command": "find werkzeug -type f | sort", "description": "List werkzeug files"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("werkzeug/") and not ln.endswith((".py", ".pyi", ".typed")))


@scenario
def cc_bash_log(c: Capture) -> None:
    repo = c.repos["cachetools"]
    case = c.claude("cc-bash-log-cachetools-ttl", "bash-log", repo,
                    "Run the TTLCache tests of cachetools verbosely. Did the tuple-key and expire tests pass?",
                    [("Bash", {"command": f"{CT_PYTEST} -v tests/test_ttl.py",
                               "description": "Run TTLCache tests verbosely"})])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if ln.startswith("tests/test_ttl.py::") and ("tuple_key" in ln or "expire" in ln))


@scenario
def cc_bash_git_stat(c: Capture) -> None:
    repo = c.repos["wcwidth"]
    case = c.claude("cc-bash-git-log-stat-wcwidth", "bash-git-log-stat", repo,
                    "Between wcwidth 0.2.12 and 0.2.13, which of the package's own modules changed, and by how much?",
                    [("Bash", {"command": "git log --stat", "description": "Show commit history with stats"})])
    case.facts.extend(_stat_lines(case.outputs()[-1], r"wcwidth/\S+"))


@scenario
def cc_bash_git_log_p(c: Capture) -> None:
    repo = c.repos["cachetools"]
    case = c.claude("cc-bash-git-log-p-cachetools-keys", "bash-git-log-p", repo,
                    "What did cachetools 5.4.0 add to keys.py? Show me the diff lines.",
                    [("Bash", {"command": "git log -p -- src/cachetools/keys.py",
                               "description": "Show history of keys.py"})])
    case.facts.extend(_newest_changes(case.outputs()[-1]))


@scenario
def cc_bash_persisted_git(c: Capture) -> None:
    repo = c.repos["wcwidth"]
    # The history holds the whole first version of the table (about 130 KB), so Claude Code persists it and shows
    # a preview.
    case = c.claude("cc-bash-persisted-wcwidth-git-log-p", "bash-persisted", repo,
                    "Which wide-character ranges did wcwidth 0.2.13 change in table_wide.py? Show the diff.",
                    [("Bash", {"command": "git log -p -- wcwidth/table_wide.py",
                               "description": "Show history of table_wide.py"})])
    case.add("Full output saved to")
    case.facts.extend(f for f in _newest_changes(case.outputs()[-1]) if f not in case.facts)


@scenario
def cc_bash_persisted(c: Capture) -> None:
    repo = c.repos["cachetools"]
    case = c.claude("cc-bash-persisted-cachetools-tests", "bash-persisted", repo,
                    "Run all of cachetools' tests verbosely with the full report of every outcome. Where did the "
                    "output go, and what's the first test it lists?",
                    [("Bash", {"command": f"{CT_PYTEST} -v -rA tests", "description": "Run cachetools tests"})])
    case.add("Full output saved to")
    case.add("PASSED", nth=0)


@scenario
def cc_bash_failing(c: Capture) -> None:
    repo = c.fresh("cachetools", "cc-bash-failing-cachetools")
    path = repo / "src/cachetools/__init__.py"
    n = _src_line(path, "    def __setitem__(self, key, value):")
    case = c.claude("cc-bash-failing-cachetools", "bash-failing-tests", repo,
                    "I think Cache.__setitem__ should refuse a value whose size equals maxsize too. Change the > "
                    "to >= and run the tests: what breaks, and how?",
                    [("Read", {"file_path": str(path), "offset": n, "limit": 16}),
                     ("Edit", {"file_path": str(path), "old_string": "        if size > maxsize:\n",
                               "new_string": "        if size >= maxsize:\n"}),
                     ("Bash", {"command": f"{CT_PYTEST} -q tests", "description": "Run cachetools tests"})])
    # Claude Code cuts this output before pytest's summary: what names the failing tests is the progress lines
    # with an F and the failure report headers it does show.
    for ln in case.outputs()[-1].splitlines():
        if (re.match(r"[.FsxE]*F[.FsxE]* +\[ *\d+%\]$", ln) or re.match(r"_+ \S*test\w+.* _+$", ln)
                or ln.startswith("FAILED ")):
            case.facts.append(ln)
    case.add("ValueError: value too large", "Exit code 1")


@scenario
def cc_bash_failing_big(c: Capture) -> None:
    repo = c.fresh("wcwidth", "cc-bash-failing-big-wcwidth")
    path = repo / "wcwidth/wcwidth.py"
    line = "    return 1 + _bisearch(ucs, WIDE_EASTASIAN[_unicode_version])\n"
    n = _src_line(path, line.strip())
    case = c.claude("cc-bash-failing-big-wcwidth", "bash-failing-tests", repo,
                    "Try treating every printable character as one cell wide in wcwidth() (skip the East Asian "
                    "wide table), then run the tests. Which ones fail?",
                    [("Read", {"file_path": str(path), "offset": n - 8, "limit": 10}),
                     ("Edit", {"file_path": str(path), "old_string": line, "new_string": "    return 1\n"}),
                     ("Bash", {"command": f"{WC_PYTEST} tests", "description": "Run wcwidth tests"})])
    for ln in case.outputs()[-1].splitlines():
        if (re.match(r"tests/\S+\.py [.FsxE]*F", ln) or re.match(r"_+ \S*test\w+.* _+$", ln)
                or ln.startswith("FAILED ")):
            case.facts.append(ln)
    case.add("Exit code 1")


@scenario
def cc_edit(c: Capture) -> None:
    repo = c.fresh("hpack", "cc-edit-hpack")
    path = repo / "hpack/table.py"
    n = _src_line(path, "DEFAULT_SIZE = 4096")
    case = c.claude("cc-edit-hpack", "edit", repo,
                    "Raise hpack's default dynamic header table size from 4096 to 8192 bytes.",
                    [("Read", {"file_path": str(path), "offset": n - 4, "limit": 8}),
                     ("Edit", {"file_path": str(path), "old_string": "DEFAULT_SIZE = 4096",
                               "new_string": "DEFAULT_SIZE = 8192"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_write(c: Capture) -> None:
    repo = c.fresh("cachetools", "cc-write-cachetools")
    case = c.claude("cc-write-cachetools", "write", repo,
                    "Write tests/test_typedmethodkey.py checking that keys.typedmethodkey ignores self and tells "
                    "1 from 1.0.",
                    [("Write", {"file_path": str(repo / "tests/test_typedmethodkey.py"),
                                "content": "from cachetools import keys\n\n\n"
                                           "def test_typedmethodkey():\n"
                                           "    assert keys.typedmethodkey(object(), 1) == keys.typedkey(1)\n"
                                           "    assert keys.typedmethodkey(None, 1) != keys.typedmethodkey(None, 1.0)"
                                           "\n"})])
    case.add_exact(case.outputs()[-1].strip().splitlines()[0])


@scenario
def cc_later_read(c: Capture) -> None:
    repo = c.repos["wcwidth"]
    path = repo / "wcwidth/wcwidth.py"
    case = c.claude("cc-later-read-wcwidth", "read-full-later", repo,
                    "Why does wcwidth return -1 for some characters? Read wcwidth/wcwidth.py.",
                    [("Read", {"file_path": str(path)})],
                    later="And in wcswidth, what happens with a zero width joiner, and with U+FE0F after an emoji? "
                          "Quote those lines.")
    case.add(numbered(path, "        if char == u'\\u200D':"), numbered(path, "            idx += 2"),
             numbered(path, "        if char == u'\\uFE0F' and last_measured_char:"),
             numbered(path, "width += _bisearch(ord(last_measured_char), VS16_NARROW_TO_WIDE[\"9.0.0\"])"))


@scenario
def cc_later_grep(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    case = c.claude("cc-later-grep-werkzeug-exceptions", "grep-content-later", repo,
                    "List the HTTP exception classes werkzeug defines.",
                    [("Grep", {"pattern": "^class |    code = ", "path": str(repo / "werkzeug/exceptions.py"),
                               "output_mode": "content", "-n": True})],
                    later="Which class is raised for a 405, and on which line is it declared?")
    case.add("class MethodNotAllowed(HTTPException):", "code = 405")


@scenario
def cc_later_bash(c: Capture) -> None:
    repo = c.repos["wcwidth"]
    case = c.claude("cc-later-bash-wcwidth-emojis", "bash-log-later", repo,
                    "Run wcwidth's emoji tests verbosely. All green?",
                    [("Bash", {"command": f"{WC_PYTEST} -v tests/test_emojis.py",
                               "description": "Run emoji tests verbosely"})],
                    later="Which of them cover ZWJ sequences, and what did each of those report?")
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "zwj" in ln and "::" in ln)


@scenario
def cc_later_edit(c: Capture) -> None:
    repo = c.fresh("hpack", "cc-later-edit-hpack")
    path = repo / "hpack/table.py"
    case = c.claude("cc-later-edit-hpack", "read-full-later", repo,
                    "Read hpack/table.py: how is the size of one table entry computed?",
                    [("Read", {"file_path": str(path)})],
                    later="Now I want HeaderTable.add to keep the old entries when a single entry is bigger than "
                          "the table, instead of emptying it. Which lines of add would you change?")
    case.add(numbered(path, "    def add(self, name: bytes, value: bytes) -> None:"),
             *(numbered(path, "        if size > self._maxsize:", d) for d in range(3)))


# ---- Codex --------------------------------------------------------------------------------------------

TTL_CONTAINS_PATCH = """*** Begin Patch
*** Update File: src/cachetools/__init__.py
@@
         except KeyError:
             return False
         else:
-            return self.timer() < link.expires
+            return self.timer() <= link.expires
*** End Patch
"""


@scenario
def cx_exec_nl(c: Capture) -> None:
    repo = c.repos["hpack"]
    path = repo / "hpack/hpack.py"
    case = c.codex("cx-exec-nl-hpack-encoder", "codex-exec-nl", repo,
                   "How big a header list will hpack's Decoder accept by default, and which prefix bit counts does "
                   "encode_integer allow? Show the lines from hpack/hpack.py.",
                   [exec_js("nl -ba hpack/hpack.py | sed -n 25,130p")])
    case.add(nl(path, "DEFAULT_MAX_HEADER_LIST_SIZE = 2 ** 16"), nl(path, "if prefix_bits < 1 or prefix_bits > 8:"),
             nl(path, 'msg = f"Prefix bits must be between 1 and 8, got {prefix_bits}"'))


@scenario
def cx_exec_rg(c: Capture) -> None:
    repo = c.repos["cachetools"]
    case = c.codex("cx-exec-rg-cachetools", "codex-exec-rg", repo,
                   "Which cachetools classes raise KeyError with an 'is empty' message from popitem?",
                   [exec_js("rg -n 'is empty' src/cachetools")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if "is empty" in ln and ":" in ln)


@scenario
def cx_exec_rg_files(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    case = c.codex("cx-exec-rg-files-werkzeug", "codex-exec-rg-files", repo,
                   "Which werkzeug modules import threading, socket or subprocess at the top level?",
                   [exec_js("rg -l --glob '*.py' '^import (threading|socket|subprocess)' werkzeug")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.endswith(".py"))


@scenario
def cx_exec_failing(c: Capture) -> None:
    repo = c.fresh("cachetools", "cx-exec-failing-cachetools")
    case = c.codex("cx-exec-failing-cachetools", "codex-exec-failing-tests", repo,
                   "Let TTLCache count an item as still present at the exact moment it expires, then run the "
                   "test suite and tell me what fails.",
                   [exec_patch(TTL_CONTAINS_PATCH), exec_js(f"{CT_PYTEST} -q tests", whole=True)])
    text = case.outputs()[-1]
    case.facts.extend(m.group(0) for m in re.finditer(r"FAILED [^\\\n]+", text))
    case.add_exact('"exit_code":1')


@scenario
def cx_exec_truncated(c: Capture) -> None:
    repo = c.repos["wcwidth"]
    case = c.codex("cx-exec-truncated-wcwidth-log", "codex-exec-truncated", repo,
                   "Dump wcwidth's whole git history with patches. What's the newest commit's message, and which "
                   "file does its diff start with?",
                   [exec_js("git log -p", whole=True)])
    case.add("wcwidth 0.2.13", nth=0)
    case.add("diff --git", nth=0)


NUMBER_CONVERTER_PATCH = """*** Begin Patch
*** Update File: werkzeug/routing/converters.py
@@
-    regex = r"\\d+"
+    regex = r"\\d{1,18}"
*** End Patch
"""


@scenario
def cx_exec_apply_patch(c: Capture) -> None:
    repo = c.fresh("werkzeug", "cx-exec-apply-patch-werkzeug")
    case = c.codex("cx-exec-apply-patch-werkzeug", "codex-exec-apply-patch", repo,
                   "Cap werkzeug's int URL converter at 18 digits and show the resulting diff.",
                   [exec_patch(NUMBER_CONVERTER_PATCH), exec_js("git diff")])
    case.add('+    regex = r"\\d{1,18}"', '-    regex = r"\\d+"', "@@ ")


VERSION_PATCH = """*** Begin Patch
*** Update File: wcwidth/__init__.py
@@
-__version__ = '0.2.13'
+__version__ = '0.2.14.dev0'
*** End Patch
"""


@scenario
def cx_direct_apply_patch(c: Capture) -> None:
    repo = c.fresh("wcwidth", "cx-direct-apply-patch-wcwidth")
    case = c.codex("cx-direct-apply-patch-wcwidth", "codex-cmd-apply-patch", repo,
                   "Start the next wcwidth development version: set __version__ to 0.2.14.dev0.",
                   [("custom", "apply_patch", VERSION_PATCH)])
    case.add_exact(case.outputs()[-1])


@scenario
def cx_exec_pytest_pass(c: Capture) -> None:
    repo = c.repos["wcwidth"]
    case = c.codex("cx-exec-pytest-wcwidth-core", "codex-exec-log", repo,
                   "Run wcwidth's core tests verbosely. Did the Korean jamo tests pass?",
                   [exec_js(f"{WC_PYTEST} -v tests/test_core.py", whole=True)])
    for m in re.finditer(r"tests/test_core\.py::test_kr_\w+ PASSED", case.outputs()[-1]):
        case.add(m.group(0))


@scenario
def cx_exec_git_stat(c: Capture) -> None:
    repo = c.repos["cachetools"]
    case = c.codex("cx-exec-git-stat-cachetools", "codex-exec-git-log-stat", repo,
                   "What were the biggest changes from cachetools 5.3.3 to 5.4.0, by lines touched?",
                   [exec_js("git log --stat")])
    case.facts.extend(_stat_lines(case.outputs()[-1])[:3])


@scenario
def cx_exec_later(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    path = repo / "werkzeug/middleware/proxy_fix.py"
    case = c.codex("cx-exec-later-werkzeug-proxy-fix", "codex-exec-nl-later", repo,
                   "What does werkzeug's ProxyFix middleware rewrite in the WSGI environ?",
                   [exec_js("nl -ba werkzeug/middleware/proxy_fix.py")],
                   later="Where does it set wsgi.url_scheme, and from which header?")
    case.add(nl(path, 'environ["wsgi.url_scheme"] = x_proto'),
             nl(path, 'self.x_proto, environ_get("HTTP_X_FORWARDED_PROTO")'))


@scenario
def cx_direct_nl(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    path = repo / "werkzeug/security.py"
    start = _src_line(path, "def safe_join(")
    case = c.codex("cx-direct-nl-werkzeug-safe-join", "codex-cmd-nl", repo,
                   "Under which conditions does werkzeug's safe_join return None? Show me the code.",
                   [direct(f"nl -ba werkzeug/security.py | sed -n {start},{start + 80}p")])
    case.add(nl(path, "def safe_join("))
    for needle in ('or part == ".."', 'or part.startswith("../")', "            return None"):
        case.add(nl_after(path, "    for part in untrusted:", needle))


@scenario
def cx_direct_rg(c: Capture) -> None:
    repo = c.repos["hpack"]
    case = c.codex("cx-direct-rg-hpack", "codex-cmd-rg", repo,
                   "Where does hpack's Decoder keep its max_header_list_size?",
                   [direct("rg -n max_header_list_size hpack/hpack.py")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines()
                      if "self.max_header_list_size = max_header_list_size" in ln)


@scenario
def cx_direct_failing(c: Capture) -> None:
    repo = c.fresh("cachetools", "cx-direct-failing-cachetools")
    case = c.codex("cx-direct-failing-cachetools", "codex-cmd-failing-tests", repo,
                   "Make TTLCache membership include the expiry instant, then run the tests: which fail?",
                   [exec_patch(TTL_CONTAINS_PATCH), direct(f"{CT_PYTEST} -q tests")])
    case.facts.extend(ln for ln in case.outputs()[-1].splitlines() if ln.startswith("FAILED "))
    case.add("Process exited with code 1")


@scenario
def cx_direct_truncated(c: Capture) -> None:
    repo = c.repos["werkzeug"]
    case = c.codex("cx-direct-truncated-werkzeug-http", "codex-cmd-truncated", repo,
                   "cat werkzeug/http.py for me: what's its first import, and what's the last function in the file?",
                   [direct("cat werkzeug/http.py")])
    out = case.outputs()[-1]
    imports = [ln for ln in out.splitlines() if re.match(r"(import|from) \w", ln)]
    if not imports:
        raise LookupError(f"{case.id}: no import statement in the output")
    case.facts.append(imports[0])
    defs = [ln for ln in out.splitlines() if re.match(r"def \w+", ln)]
    case.facts.append(defs[-1])


@scenario
def cx_direct_later(c: Capture) -> None:
    repo = c.repos["cachetools"]
    path = repo / "src/cachetools/func.py"
    case = c.codex("cx-direct-later-cachetools-func", "codex-cmd-nl-later", repo,
                   "Which decorators does cachetools.func offer? Show me the top of src/cachetools/func.py.",
                   [direct("nl -ba src/cachetools/func.py | sed -n 1,130p")],
                   later="What default maxsize does lru_cache use when it's applied without arguments, and what "
                         "does mru_cache warn now?")
    case.add(nl(path, "return _cache(LRUCache(128), 128, typed)(maxsize)"),
             nl(path, 'warn("@mru_cache is deprecated", DeprecationWarning, stacklevel=2)'))


if __name__ == "__main__":
    raise SystemExit(main(doc=__doc__, scenarios=SCENARIOS, out=OUT, work=WORK, sdists_of=SDISTS, copies=COPIES))
