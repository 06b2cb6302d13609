"""Code: the outline stays, the functions the question is about keep their bodies, others fold."""
from __future__ import annotations

from pathlib import Path

from headroom.core.compressors import Context
from headroom.core.compressors.code import compress_code, looks_like_code
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines

PY = '''import os
from typing import Any


class Session:
    """A session.

    Keeps cookies and settings across requests, and pools connections,
    and has a long docstring that says so in many words,
    over several lines,
    more than a few.
    """

    def request(
        self,
        method: str,
        url: str,
        timeout: float | None = None,
    ) -> Any:
        """Send a request."""
        req = self.build(method, url)
        prep = self.prepare_request(req)
        for attempt in range(3):
            resp = self.send(prep, timeout=timeout)
            if resp.ok:
                return resp
        raise RuntimeError("gave up")

    def close(self):
        """Close every adapter."""
        for adapter in self.adapters.values():
            adapter.close()
            adapter.pool = None
            adapter.closed = True
            adapter.poolmanager.clear()
            logger.debug("closed adapter %r after %d requests", adapter, adapter.request_count)
        self.adapters.clear()
        self.hooks = {"response": []}
'''


def test_named_method_kept_whole_others_folded_with_their_name():
    r = compress_code(PY, Context(query="How does Session.request retry?"))
    assert "        prep = self.prepare_request(req)" in r.text
    assert "    def close(self):" in r.text and '        """Close every adapter."""' in r.text
    assert "adapter.pool = None" not in r.text  # a body long enough to pay for its marker is folded
    assert any("body of Session.close" in m.summary for m in find_markers(r.text))
    # The marker sits at the body's indentation, so the outline still reads as code.
    assert "\n        [headroom: " in r.text
    # The long class docstring keeps its first line.
    assert '    """A session.' in r.text and "more than a few." not in r.text
    assert expand_lines(r.text, dict(r.drops)) == PY
    check_line_markers(PY, r.text, dict(r.drops))


JS = "\n".join(
    ["import { x } from './x.js';", ""]
    + sum(([f"export function handler{i}(req, res) {{"]
           + [f"  const v{k} = req.body.items[{k}] * {i};  // step {k}" for k in range(8)]
           + ["  res.send(v0);", "}", ""] for i in range(6)), [])
)


def test_brace_languages_fold_by_indentation():
    assert looks_like_code(JS.split("\n"))
    r = compress_code(JS, Context(query="what does handler3 send?"))
    assert "export function handler0(req, res) {" in r.text
    assert "  const v7 = req.body.items[7] * 3;  // step 7" in r.text  # handler3 kept whole
    assert "  const v7 = req.body.items[7] * 0;  // step 7" not in r.text
    check_line_markers(JS, r.text, dict(r.drops))


def test_a_nested_function_the_question_names_stays_whole_and_its_enclosing_function_folds_the_rest():
    # Real code: the standard library's functools, where lru_cache returns a nested decorating_function.
    import functools
    import inspect

    src = inspect.getsource(functools)
    r = compress_code(src, Context(query="What does decorating_function inside lru_cache return?"))
    assert "    def decorating_function(user_function):" in r.text
    assert "        return update_wrapper(wrapper, user_function)" in r.text
    assert "def lru_cache(maxsize=128, typed=False):" in r.text
    # The rest of lru_cache's own body (its argument checks) is folded, and the marker says whose it is.
    assert "            'Expected first argument to be an integer, a callable, or None')" not in r.text
    assert any("part of the body of lru_cache" in m.summary for m in find_markers(r.text))
    assert expand_lines(r.text, dict(r.drops)) == src
    check_line_markers(src, r.text, dict(r.drops))


def test_a_long_comment_keeps_its_first_line_and_folds_the_rest():
    # Real code: h11's state machine opens with a long design note in comments (h11 is a mitmproxy dependency).
    import inspect

    import h11._state

    src = inspect.getsource(h11._state)
    r = compress_code(src, Context(query="Which connection states does h11 define?"))
    assert "class IDLE(Sentinel, metaclass=Sentinel):" in r.text
    assert src.split("\n")[0] in r.text  # the note's first line says what it is about
    comments = [m for m in find_markers(r.text) if ": comment" in m.summary]
    assert comments and all(all(ln.lstrip().startswith("#") for ln in r.drops[m.key].split("\n")) for m in comments)
    assert expand_lines(r.text, dict(r.drops)) == src
    check_line_markers(src, r.text, dict(r.drops))


def _real_sources() -> list[str]:
    import inspect

    import argparse
    import hypothesis.strategies._internal.core as hypothesis_core
    import urllib.parse

    return [inspect.getsource(m) for m in (argparse, hypothesis_core, urllib.parse)]


def test_every_top_level_definition_of_real_modules_is_found():
    # A docstring's words ("... :class:`Random` ...") never swallow the next real header.
    import re

    from headroom.core.compressors.code import _blocks

    for src in _real_sources():
        lines = src.split("\n")
        found = {b.header for b in _blocks(lines) if b.parent is None}
        for k, ln in enumerate(lines):
            if re.match(r"(?:async\s+)?(?:def|class)\s+\w+.*:\s*$", ln) and k + 1 < len(lines) and lines[k + 1].startswith(" "):
                assert k in found, ln


def test_every_definition_of_real_modules_is_found_long_signatures_too():
    # The parser's own reading is the truth: each def and class whose body starts on a later line is a block
    # at its line, however many lines its signature takes (rich's Console.__init__ has 34 keyword lines).
    import ast
    import inspect

    import rich.console

    from headroom.core.compressors.code import _blocks

    for src in [*_real_sources(), inspect.getsource(rich.console)]:
        lines = src.split("\n")
        found = {b.header for b in _blocks(lines)}
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = lines[node.body[0].lineno - 1]  # a body on lines of its own, deeper than the def
                if node.body[0].lineno > node.lineno and len(first) - len(first.lstrip()) > node.col_offset:
                    assert node.lineno - 1 in found, (node.name, node.lineno)


def test_a_large_outline_folds_runs_of_definitions_the_question_is_not_about_naming_each():
    import re

    src = _real_sources()[0]  # argparse: about 2 600 lines, 100+ definitions
    r = compress_code(src, Context(query="What does _get_action_name return?"))
    assert "def _get_action_name(argument):" in r.text
    body = src.split("def _get_action_name(argument):", 1)[1].split("\n\n\n", 1)[0]
    assert all(ln in r.text for ln in body.split("\n") if ln.strip())
    groups = [m for m in find_markers(r.text) if "definitions, signatures and bodies: " in m.summary]
    assert groups
    for m in groups:
        names = m.summary.split("signatures and bodies: ", 1)[1].split(",")
        shown = [n.strip().split(" and ")[0].rstrip(")") for n in names if n.strip() and "mention" not in n]
        for name in shown[:3]:
            assert re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b", r.drops[m.key], re.M), name
    assert len(r.text) < 0.25 * len(src)
    assert expand_lines(r.text, dict(r.drops)) == src
    check_line_markers(src, r.text, dict(r.drops))
    # A file whose outline is short keeps every signature: tabulate's first 15 top-level definitions (a file of this
    # repository, not the interpreter's stdlib, whose modules grow from one Python to the next).
    whole = (Path(__file__).resolve().parents[2] / "golden" / "inputs" / "tabulate_init.py").read_text()
    small = whole.split("\ndef _rst_escape_first_column(", 1)[0]
    signatures = [ln for ln in small.split("\n") if re.match(r"(?:def|class)\s", ln)]  # the top level
    assert len(signatures) == 15
    out = compress_code(small, Context(query="How does _pipe_line_with_colons work?")).text
    assert not any("definitions, signatures and bodies" in m.summary for m in find_markers(out))
    assert all(ln in out for ln in signatures)


def test_members_of_a_large_class_the_question_is_about_fold_in_runs_too():
    import re

    src = _real_sources()[0]  # argparse: ArgumentParser has dozens of methods
    r = compress_code(src, Context(query="What does ArgumentParser.parse_known_args return?"))
    assert "    def parse_known_args(self, args=None, namespace=None):" in r.text
    member_groups = [m for m in find_markers(r.text) if "signatures and bodies: ArgumentParser." in m.summary]
    assert member_groups
    for m in member_groups:
        first = m.summary.split("signatures and bodies: ", 1)[1].split(",")[0].split(".", 1)[1]
        assert re.search(rf"^    def {re.escape(first)}\(", r.drops[m.key], re.M)
    assert expand_lines(r.text, dict(r.drops)) == src


def test_a_question_about_the_definitions_as_a_whole_keeps_the_outline():
    src = _real_sources()[0]
    for question in ("Which methods does ArgumentParser define?", "List the classes of argparse.",
                     "What are all the functions in this module?"):
        r = compress_code(src, Context(query=question))
        assert not any("signatures and bodies" in m.summary for m in find_markers(r.text))
        assert "class ArgumentParser(_AttributeHolder, _ActionsContainer):" in r.text
        assert "    def parse_known_args(self, args=None, namespace=None):" in r.text


def _installed(module: str) -> str:
    import importlib

    return Path(importlib.import_module(module).__file__).read_text(encoding="utf-8")


def test_a_long_block_of_imports_in_a_large_outline_folds_past_its_first_statement_naming_the_modules():
    import re

    from headroom.core.compressors.code import _import_statements

    for module in ("rich.console", "hypothesis.strategies._internal.core"):
        src = _installed(module)
        lines = src.split("\n")
        statements = _import_statements(lines)
        first = statements[0]
        r = compress_code(src, Context(query="What does the module do when soft wrapping is on?"))
        folded = [m for m in find_markers(r.text) if " import statements, from " in m.summary]
        assert len(folded) == 1, module
        m = folded[0]
        assert "\n".join(lines[first[0]:first[1]]) in r.text  # the first statement says what follows
        dropped = r.drops[m.key]
        count = int(re.search(r"(\d+) import statements", m.summary).group(1))
        assert count == sum(1 for a, e, _ in statements if "\n".join(lines[a:e]) in dropped)
        for name in m.summary.split(", from ", 1)[1].split(", ")[:3]:
            assert re.search(rf"^(?:from {re.escape(name)} import|import {re.escape(name)}\b)", dropped, re.M), name
        assert expand_lines(r.text, dict(r.drops)) == src
        check_line_markers(src, r.text, dict(r.drops))
        # A question about the imports keeps them; one naming an imported identifier keeps its line.
        asked = compress_code(src, Context(query="What does this module import?"))
        assert not any(" import statements" in mk.summary for mk in find_markers(asked.text))
        name = next(n for n in re.findall(r"\b[A-Z][a-z]+[A-Z]\w+\b", dropped)
                    if sum(1 for ln in lines if n in ln) <= 10)  # a camelCase name few lines use
        line = next(ln for ln in dropped.split("\n") if re.search(rf"\b{name}\b", ln))
        named = compress_code(src, Context(query=f"Where does this module use {name}?"))
        assert line in named.text.split("\n"), (module, name)


def test_a_short_file_keeps_its_imports():
    # tabulate's first definitions: an outline short enough to read whole keeps every import.
    whole = (Path(__file__).resolve().parents[2] / "golden" / "inputs" / "tabulate_init.py").read_text()
    small = whole.split("\ndef _rst_escape_first_column(", 1)[0]
    out = compress_code(small, Context(query="How does _pipe_line_with_colons work?")).text
    assert not any(" import statements" in m.summary for m in find_markers(out))
    assert all(ln in out.split("\n") for ln in small.split("\n") if ln.startswith(("import ", "from ")))


def test_a_multi_line_value_folds_between_its_first_and_last_lines_naming_it():
    """locale.py's alias tables (hundreds of lines of a dict literal) are data the outline does not need:
    each keeps its first and last lines, the lines between fold behind "value of NAME". A question about a
    table keeps it whole. Checked against the module's own parse tree (ast), on whatever Python runs."""
    import ast
    import inspect
    import locale

    src = inspect.getsource(locale)
    lines = src.split("\n")
    values = [(n.lineno, n.end_lineno, ast.unparse(n.targets[0])) for n in ast.parse(src).body
              if isinstance(n, ast.Assign) and len(n.targets) == 1 and n.end_lineno - n.lineno >= 8]
    assert len(values) >= 2
    r = compress_code(src, Context(query="How does setlocale check its category argument?"))
    kept = r.text.split("\n")
    summaries = [m.summary for m in find_markers(r.text)]
    for first, last, name in values:
        assert lines[first - 1] in kept and lines[last - 1] in kept, name
        assert any(s.endswith(f"value of {name}") or f"value of {name}," in s for s in summaries), name
        assert not all(ln in kept for ln in lines[first:last - 1] if ln.strip()), name
    assert expand_lines(r.text, dict(r.drops)) == src
    check_line_markers(src, r.text, dict(r.drops))

    first, last, name = max(values, key=lambda v: v[1] - v[0])  # locale_alias
    asked = compress_code(src, Context(query=f"Which entries of {name} map to en_US?")).text
    assert all(ln in asked for ln in lines[first - 1:last])


def test_the_last_definition_of_a_large_outline_stays_in_it():
    """Where a file ends is where new code goes: in an outline too long to read whole, the runs of
    definitions that fold never take the file's last one (argparse's, hypothesis core's, urllib.parse's,
    found by ast)."""
    import ast

    for src in _real_sources():
        last = [n for n in ast.parse(src).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))][-1]
        r = compress_code(src, Context(query="What does the parse function return?"))
        assert any("definitions, signatures and bodies" in m.summary for m in find_markers(r.text))
        assert src.split("\n")[last.lineno - 1] in r.text.split("\n"), last.name
        assert expand_lines(r.text, dict(r.drops)) == src


def test_a_class_the_question_names_keeps_its_constructor_whole():
    """"We build argparse.ArgumentParser without prefix_chars or add_help: which values do we get?" is answered
    by the constructor's defaults and what it does with them (real argparse.py; the lines by its syntax tree),
    while the class's other methods still fold."""
    import ast
    import sysconfig

    src = Path(sysconfig.get_paths()["stdlib"]) / "argparse.py"
    text = src.read_text()
    cls = next(n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == "ArgumentParser")
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    lines = text.split("\n")
    body = [ln for ln in lines[init.lineno - 1:init.end_lineno] if ln.strip()]
    assert len(body) > 20
    r = compress_code(text, Context(query="We build argparse.ArgumentParser without passing prefix_chars or "
                                          "add_help. Which values do we get, and what does it register?"))
    kept = set(r.text.split("\n"))
    assert [ln for ln in body if ln not in kept] == []
    assert any("ArgumentParser.parse_args" in m.summary for m in find_markers(r.text))  # its other methods fold
    assert expand_lines(r.text, dict(r.drops)) == text
    check_line_markers(text, r.text, dict(r.drops))


def _headers(node, parents) -> list[tuple[int, int]]:
    """(first, last) lines of the statements' headers that hold `node` inside its function, by the syntax tree:
    an if/while's condition, a for's iterable, a with's items, an except clause, the try of a try body."""
    import ast

    out = []
    child, p = node, parents.get(node)
    while p is not None and not isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
        if isinstance(p, (ast.If, ast.While)):
            out.append((p.lineno, p.test.end_lineno))
        elif isinstance(p, ast.For):
            out.append((p.lineno, p.iter.end_lineno))
        elif isinstance(p, ast.With):
            out.append((p.lineno, p.items[-1].context_expr.end_lineno))
        elif isinstance(p, ast.ExceptHandler):
            out.append((p.lineno, p.type.end_lineno if p.type else p.lineno))
        elif isinstance(p, ast.Try) and child in p.body:
            out.append((p.lineno, p.lineno))
        child, p = p, parents.get(p)
    return out


def test_a_line_kept_in_a_folded_body_keeps_the_statements_that_hold_it():
    # subprocess.py, asked when TimeoutExpired is raised: each `raise TimeoutExpired` kept in a folded body
    # comes with the `if`, `while`, `with` and `try` lines it is under (the condition is the answer).
    import ast
    import sysconfig

    text = (Path(sysconfig.get_paths()["stdlib"]) / "subprocess.py").read_text()
    lines = text.split("\n")
    tree = ast.parse(text)
    parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    r = compress_code(text, Context(query="When does communicate raise TimeoutExpired? Quote the lines."))
    kept = set(r.text.split("\n"))
    raises = [n for n in ast.walk(tree) if isinstance(n, ast.Raise) and "TimeoutExpired" in lines[n.lineno - 1]]
    held = [n for n in raises if lines[n.lineno - 1] in kept]
    assert len(held) >= 3 and len(r.text) < 0.4 * len(text)
    headers = [(n.lineno, a, b) for n in held for a, b in _headers(n, parents)]
    assert len(headers) >= len(held)
    assert [(at, a, lines[k - 1]) for at, a, b in headers for k in range(a, b + 1) if lines[k - 1] not in kept] == []
    assert expand_lines(r.text, dict(r.drops)) == text
    check_line_markers(text, r.text, dict(r.drops))


def test_a_constant_the_question_writes_in_capitals_keeps_its_lines_not_the_lower_case_names_beside_it():
    # prometheus_client's exposition.py as Claude Code's Read showed it (agents-9), then asked which lines fall
    # back to the global REGISTRY: 33 lines say `registry`, 8 say `REGISTRY`; those 8 are what was asked.
    import re

    from headroom.core.pipeline import compress_body, find_units
    from headroom.evals.agents import agent_cases

    case = next(c for c in agent_cases() if c.id == "cc-later-edit-prometheus-exposition")
    (before,) = [u.text for u in find_units(case.provider, case.body) if "def generate_latest" in u.text]
    constant = [ln for ln in before.split("\n") if re.search(r"(?<!\w)REGISTRY(?!\w)", ln)]
    assert len(constant) >= 5 and sum("registry" in ln.lower() for ln in before.split("\n")) > 3 * len(constant)
    outcome = compress_body(case.provider, case.body, path=case.path)
    (after,) = [u.text for u in find_units(case.provider, outcome.body) if "def make_wsgi_app" in u.text]
    kept = set(after.split("\n"))
    assert [ln for ln in constant if ln not in kept] == [] and len(after) < 0.5 * len(before)
