"""grep/search results: markers over matches that are definitions name what they define.

On a real search: `grep -rn "def " email/` over the standard library's email package, run here."""
from __future__ import annotations

import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

from headroom.core.compressors import Context
from headroom.core.compressors.search import compress_search
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines

SOURCE = Path(sysconfig.get_paths()["stdlib"]) / "email"


def test_markers_over_definition_matches_name_the_definitions():
    out = subprocess.run(["grep", "-rn", r"^\s*def ", str(SOURCE)], capture_output=True, text=True, check=True).stdout
    out = out.rstrip("\n")
    r = compress_search(out, Context(query="Where does the email package fold long header lines?"))
    named = [m for m in find_markers(r.text) if "defining " in m.summary]
    assert named
    for m in named:
        listed = []
        for item in m.summary.split("defining ", 1)[1].split(", "):
            name = item.split(" and ")[0].rstrip(")").strip()
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                break
            listed.append(name)
            if " and " in item:
                break
        assert listed
        for name in listed:
            assert re.search(rf"def {re.escape(name)}\(", r.drops[m.key]), name
    assert expand_lines(r.text, dict(r.drops)) == out
    check_line_markers(out, r.text, dict(r.drops))


def test_a_search_for_definitions_names_every_one_it_folds():
    """`grep -n "^    def "` of a module is an index of its methods: each marker names every method it folds
    (a name left out is one the model cannot know is there), within a share of what it stands for."""
    src = Path(sysconfig.get_paths()["stdlib"]) / "argparse.py"
    out = subprocess.run(["grep", "-n", r"^    def ", str(src)], capture_output=True, text=True, check=True).stdout
    out = out.rstrip("\n")
    r = compress_search(f"{src}:" + out.replace("\n", f"\n{src}:"), Context(query="Which methods print help?"))
    markers = [m for m in find_markers(r.text) if "defining " in m.summary]
    assert markers and sum(r.drops[m.key].count("\n") + 1 for m in markers) >= 40
    complete = 0
    for m in markers:
        names = list(dict.fromkeys(re.findall(r"def (\w+)\(", r.drops[m.key])))  # each once
        listed = m.summary.split("defining ", 1)[1]
        more = re.match(r"(.*?) and (\d+) more", listed)
        if more is None:
            complete += 1
            assert all(re.search(rf"\b{re.escape(name)}\b", listed) for name in names)
        else:  # a run too long to name whole says how many more it holds, the first ones named
            shown = more.group(1).split(", ")
            assert shown == names[:len(shown)] and int(more.group(2)) == len(names) - len(shown)
        assert len(listed) <= max(200, 0.3 * len(r.drops[m.key])) + 40  # the list, and the counts after it
    assert complete >= 1


@pytest.mark.parametrize("case_id", [
    # Claude Code's Grep over click's core.py (agents corpus): a folded run holds `# type: ignore[arg-type]`
    # and `parse_args(ctx, args)`; its marker may say 1 mention 'args', never 2 (a stem match is no mention).
    "cc-grep-content-click-core",
    # ... over werkzeug's structures.py (agents-5): 'raise' is mentioned by "``TypeError`` is raised" too.
    "cc-grep-content-werkzeug-structures",
])
def test_a_grep_marker_counts_the_matches_a_reader_counts(case_id):
    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases
    from headroom.evals.honesty import check_markers

    (case,) = [c for c in agent_cases() if c.id == case_id]
    outcome = compress_body(case.provider, case.body, path=case.path)
    pairs = [(a.text, b.text) for a, b in zip(find_units(case.provider, case.body),
                                                find_units(case.provider, outcome.body)) if a.text != b.text]
    assert pairs
    for original, compressed in pairs:
        violations, checked, _ = check_markers(original, compressed, outcome.drops)
        assert checked and not violations, violations


def test_a_definition_the_question_names_keeps_the_matches_of_its_body():
    """`grep -n "self|return|raise|def "` of a module, and a question about one method by its qualified name:
    the matches inside that method (its lines by the module's own syntax tree) are what the question is
    about, and all of them stay, while the rest of the file still folds."""
    import ast

    src = Path(sysconfig.get_paths()["stdlib"]) / "argparse.py"
    out = subprocess.run(["grep", "-HnE", "self|return|raise|def ", str(src)], capture_output=True, text=True,
                         check=True).stdout.rstrip("\n")
    tree = ast.parse(src.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ArgumentParser")
    fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "_get_option_tuples")
    inside = [ln for ln in out.split("\n") if fn.lineno <= int(ln.split(":", 2)[1]) <= fn.end_lineno]
    assert len(inside) >= 8
    r = compress_search(out, Context(query="What does ArgumentParser._get_option_tuples return for a prefix, and "
                                           "when does it call error? Give the lines."))
    kept = set(r.text.split("\n"))
    assert [ln for ln in inside if ln not in kept] == []
    assert find_markers(r.text) and len(r.text) < 0.5 * len(out)
    assert expand_lines(r.text, dict(r.drops)) == out
    check_line_markers(out, r.text, dict(r.drops))


def test_a_named_function_of_a_brace_language_ends_at_its_closing_brace():
    """grep of werkzeug's debugger.js (shipped with werkzeug) for "openShell|const |return|}": the question
    names openShell, whose matches up to its closing `}` stay; the next function's header is not a match,
    and its body's matches (deeper than column 0 too) are not openShell's."""
    import werkzeug

    src = Path(werkzeug.__file__).parent / "debug" / "shared" / "debugger.js"
    lines = src.read_text().split("\n")
    start = next(k for k, ln in enumerate(lines, 1) if ln.startswith("function openShell("))
    end = next(k for k, ln in enumerate(lines, 1) if k > start and ln == "}")
    out = subprocess.run(["grep", "-HnE", "openShell|const |return|}", str(src)], capture_output=True, text=True,
                         check=True).stdout.rstrip("\n")
    numbered = [(int(ln.split(":", 2)[1]), ln) for ln in out.split("\n")]
    inside = [ln for k, ln in numbered if start <= k <= end]
    after = next(ln for k, ln in numbered if k > end and ln.split(":", 2)[2][:1].isspace())  # a body's line
    assert len(inside) >= 10
    r = compress_search(out, Context(query="Where does openShell build the console and what does it return?"))
    kept = set(r.text.split("\n"))
    assert [ln for ln in inside if ln not in kept] == [] and after not in kept
    assert expand_lines(r.text, dict(r.drops)) == out


def test_a_question_for_an_overview_of_the_methods_keeps_every_definition_of_a_definition_search():
    src = Path(sysconfig.get_paths()["stdlib"]) / "queue.py"
    out = subprocess.run(["grep", "-HnE", r"^\s*def ", str(src)], capture_output=True, text=True,
                         check=True).stdout.rstrip("\n")
    assert 20 <= out.count("\n") + 1 <= 40
    r = compress_search(out, Context(query="Give me an overview of the methods the standard library's queues have."))
    assert r.text == out
    r = compress_search(out, Context(query="Where does a queue wait for a free slot?"))  # not an overview
    assert find_markers(r.text)


def test_a_definition_the_question_names_in_its_own_words_keeps_the_matches_of_its_body():
    """A question that says what a function does in the words of its name ("check a value against the
    choices" names `_check_value`) is about that function: its matches stay, as for a name written out."""
    import ast

    src = Path(sysconfig.get_paths()["stdlib"]) / "argparse.py"
    out = subprocess.run(["grep", "-HnE", "self|return|raise|def |value|choices", str(src)], capture_output=True,
                         text=True, check=True).stdout.rstrip("\n")
    tree = ast.parse(src.read_text())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_check_value")
    inside = [ln for ln in out.split("\n") if fn.lineno <= int(ln.split(":", 2)[1]) <= fn.end_lineno]
    assert len(inside) >= 4
    r = compress_search(out, Context(query="How does the parser check a value against the choices an action "
                                           "allows? Give the lines."))
    kept = set(r.text.split("\n"))
    assert [ln for ln in inside if ln not in kept] == []
    assert len(r.text) < 0.2 * len(out)
    assert expand_lines(r.text, dict(r.drops)) == out
    check_line_markers(out, r.text, dict(r.drops))


def test_a_definition_named_in_words_keeps_its_body_in_claude_codes_paginated_grep():
    # Claude Code's Grep of pyflakes' checker.py for `self|name|binding|yield|return` (agents-9), asked how a
    # function scope decides which assignments are unused: FunctionScope.unused_assignments' matches.
    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-grep-content-pyflakes-unused-assignments")
    (before,) = [u.text for u in find_units(case.provider, case.body) if "def unused_assignments" in u.text]
    lines = before.split("\n")
    start = next(i for i, ln in enumerate(lines) if "def unused_assignments" in ln)
    body = [lines[start]]
    for ln in lines[start + 1:]:
        if not re.match(r"^\d+:( {8,}|$)", ln):
            break
        body.append(ln)
    assert len(body) >= 6
    outcome = compress_body(case.provider, case.body, path=case.path)
    (after,) = [u.text for u in find_units(case.provider, outcome.body) if "def unused_assignments" in u.text]
    assert "\n".join(body) in after and len(after) < 0.5 * len(before)


STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_a_question_for_the_files_a_listing_holds_keeps_every_path():
    """'Which files does it ship?' over a real `find`: the listing is the answer; asked for one file, it folds."""
    from headroom.core.compressors import compress_text
    from headroom.core.compressors.search import LISTED_ALL_MAX

    out = subprocess.run("find . -name __pycache__ -prune -o -type f -print | sort", shell=True, cwd=STDLIB / "idlelib",
                         capture_output=True, text=True, check=True).stdout.rstrip("\n")
    paths = out.split("\n")
    assert 60 <= len(paths) <= LISTED_ALL_MAX
    r = compress_text(out, Context(query="Packaging idlelib for our distro: which files does it ship?"))
    assert r.text == out
    one = compress_text(out, Context(query="Which file configures the key bindings?"))
    assert sum(p in set(one.text.split("\n")) for p in paths) < 0.5 * len(paths)
    assert expand_lines(one.text, dict(one.drops)) == out


def test_a_question_for_the_files_a_listing_holds_but_one_kind_keeps_the_others():
    # Claude Code's Bash `find` of mistune's sdist (agents-10), asked which files it carries besides the Python
    # modules: two kinds are common there (.py and the .txt test and benchmark cases), so no type is rare.
    from headroom.core.compressors.search import LANGUAGE_TYPES
    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-bash-find-mistune")
    (before,) = [u.text for u in find_units(case.provider, case.body) if "./MANIFEST.in" in u.text]
    paths = before.split("\n")
    python = [p for p in paths if p.endswith(LANGUAGE_TYPES["python"])]
    others = [p for p in paths if p not in python]
    assert len(python) >= 30 and len(others) >= 30
    outcome = compress_body(case.provider, case.body, path=case.path)
    (after,) = [u.text for u in find_units(case.provider, outcome.body) if "./MANIFEST.in" in u.text]
    assert [p for p in others if p not in set(after.split("\n"))] == []  # the .py ones may fold (here, too few)


def test_a_question_for_the_messages_a_search_found_keeps_every_match():
    # Claude Code's Grep of semantic_version's base.py for `raise ValueError` (agents-10), asked which messages
    # parsing a version string can raise: every match is a message the question asks for, the one about a
    # pre-release identifier's leading zero too, though only the others say 'version string'.
    from headroom.core.compressors.search import QUERY_ALL_MAX
    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-grep-content-semantic-version-errors")
    (before,) = [u.text for u in find_units(case.provider, case.body) if "raise ValueError" in u.text]
    matches = [ln for ln in before.split("\n") if "raise ValueError" in ln]
    assert 10 <= len(matches) <= QUERY_ALL_MAX
    outcome = compress_body(case.provider, case.body, path=case.path)
    (after,) = [u.text for u in find_units(case.provider, outcome.body) if "raise ValueError" in u.text]
    assert [ln for ln in matches if ln not in set(after.split("\n"))] == []


def test_the_definitions_a_named_one_calls_and_its_underscored_twin_keep_their_matches():
    """`proc.wait` names Popen.wait; its work is done by `_wait` (one per platform), which the question never
    names: their bodies' matches stay with it, from a real grep of subprocess.py."""
    import ast

    src = STDLIB / "subprocess.py"
    out = subprocess.run(["grep", "-HnE", "self|return|raise|def ", str(src)], capture_output=True, text=True,
                         check=True).stdout.rstrip("\n")
    popen = next(n for n in ast.parse(src.read_text()).body if isinstance(n, ast.ClassDef) and n.name == "Popen")
    fns = [n for n in ast.walk(popen) if isinstance(n, ast.FunctionDef) and n.name in ("wait", "_wait")]
    assert len(fns) == 3
    inside = [ln for ln in out.split("\n")
              if any(f.lineno <= int(ln.split(":", 2)[1]) <= f.end_lineno for f in fns)]
    r = compress_search(out, Context(query="Why does proc.wait(timeout=5) give up while the child is still running?"))
    kept = set(r.text.split("\n"))
    assert [ln for ln in inside if ln not in kept] == []
    assert len(r.text) < 0.2 * len(out)
    check_line_markers(out, r.text, dict(r.drops))


def test_an_implementation_holding_the_named_attribute_and_what_it_calls_keep_their_matches():
    # Claude Code's Grep of psycopg's _connection_base.py (agents-10), asked when setting conn.autocommit is
    # refused: the setter calls `_set_autocommit`, whose work `_set_autocommit_gen` does through
    # `_check_intrans_gen`, where the refusal and its messages are.
    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-grep-content-psycopg-intrans")
    outcome = compress_body(case.provider, case.body, path=case.path)
    (after,) = [u.text for u in find_units(case.provider, outcome.body) if "autocommit" in u.text]
    for needed in ('yield from self._check_intrans_gen("autocommit")', "def _check_intrans_gen(",
                   "if self._num_transactions:", '"connection in transaction status "'):
        assert needed in after
