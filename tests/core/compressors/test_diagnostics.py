"""Compiler and linter diagnostics, on real outputs: every error kept, warnings grouped by code, each
diagnostic kept or dropped whole, markers that count what they hold.

The samples in tests/golden/inputs/diag_* were made here by:
  gcc -fsyntax-only -Wall -Wextra -Wconversion -Wshadow -Wsign-conversion /usr/share/doc/zlib1g-dev/examples/gzlog.c
  rustc --edition 2018 --crate-type lib -W missing-docs -W unused-qualifications -W trivial-casts \
      bcrypt-5.0.0/src/_bcrypt/src/lib.rs            (the bcrypt 5.0.0 sdist from PyPI, its crates absent)
  tsc --allowJs --checkJs --noEmit --strict --target es2020 debug/src/*.js optionator/lib/*.js   (plain)
  tsc ... --pretty debug/src/*.js                                                                    (pretty)
  mypy --strict h11            (the h11 package copied as h11src)
  ruff check --select ALL --output-format concise itsdangerous   /   ruff check --select ALL h11/_util.py h11/_abnf.py
  eslint src   (@eslint/js recommended + no-var, prefer-const, eqeqeq on debug, optionator, levn, esquery)
  pyright h11src                                  (pyright from npm)
  pylint h11src   /   flake8 h11src                (pylint 4, flake8 7 from PyPI)
  javac -Xlint:all -d out /usr/share/doc/protobuf-compiler/examples/*.java   (without the protobuf jar)
  for f in $(grep -l "^// errorcheck$" $GOROOT/test/*.go | head -30); do go tool compile -o /dev/null $f; done
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.diagnostics import compress_diagnostics, looks_like_diagnostics, parse
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines, kept_lines_are_input_lines, line_span

INPUTS = Path(__file__).parents[2] / "golden" / "inputs"
SAMPLES = sorted(p.name for p in INPUTS.glob("diag_*.txt"))
# Every diagnostic of these is an error or the only one of its code, and they are few: all are kept.
ALL_KEPT = {"diag_javac_protobuf.txt", "diag_pyright_h11.txt"}


def _read(name: str) -> str:
    return (INPUTS / name).read_text()


@pytest.mark.parametrize("name", SAMPLES)
def test_detected_reversible_and_markers_exact(name):
    text = _read(name)
    assert detect(text) == "diagnostics"
    for q in ("", "what is wrong in _util.py?", "E0433 pyo3", "-Wconversion line 442"):
        r = compress_diagnostics(text, Context(query=q))
        assert r.drops or name in ALL_KEPT
        assert expand_lines(r.text, dict(r.drops)) == text
        kept_lines_are_input_lines(text, r.text)
        check_line_markers(text, r.text, dict(r.drops))


def _dropped_lines(text: str) -> set[int]:
    """0-based indexes of the input lines that the markers of `text` stand for."""
    out: set[int] = set()
    for mk in find_markers(text):
        a, b = line_span(mk.summary)
        out.update(range(a - 1, b))
    return out


@pytest.mark.parametrize("name", SAMPLES)
def test_every_diagnostic_is_kept_or_dropped_whole(name):
    text = _read(name)
    units, _ = parse(text)
    assert len(units) >= 3
    for q in ("", "what is wrong in _util.py?", "E0433 pyo3"):
        dropped = _dropped_lines(compress_diagnostics(text, Context(query=q)).text)
        for d in units:
            inside = set(range(d.start, d.end)) & dropped
            assert not inside or inside == set(range(d.start, d.end)), (name, d)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_error_is_kept_when_they_are_few(name):
    text = _read(name)
    units, _ = parse(text)
    errors = [d for d in units if d.severity == "error"]
    r = compress_diagnostics(text, Context())
    if len(errors) <= 40:
        lines = text.split("\n")
        for d in errors:
            assert lines[d.start] in r.text
    else:
        # Beyond that each kind of error keeps a sample and every marker counts the errors it holds.
        dropped = sum(int(m.group(1)) for mk in find_markers(r.text) for m in [re.search(r"(\d+) errors?", mk.summary)] if m)
        kept = sum(1 for d in errors if text.split("\n")[d.start] in r.text.split("\n"))
        assert kept + dropped >= len(errors)
        assert {d.code for d in errors} <= {d.code for d in errors if text.split("\n")[d.start] in r.text}


def test_gcc_groups_warnings_by_flag_and_names_them():
    text = _read("diag_gcc_gzlog.txt")
    r = compress_diagnostics(text, Context())
    summaries = " ".join(mk.summary for mk in find_markers(r.text))
    assert "-Wsign-conversion" in summaries and "-Wconversion" in summaries
    for flag in set(re.findall(r"\[(-W[\w-]+)\]", text)):
        assert f"[{flag}]" in r.text  # the first warning of every flag is kept
    assert "gzlog.c" in summaries


def test_gcc_marker_counts_are_true():
    text = _read("diag_gcc_gzlog.txt")
    r = compress_diagnostics(text, Context())
    for mk in find_markers(r.text):
        dropped = r.drops[mk.key].split("\n")
        m = re.search(r"(\d+) warnings?", mk.summary)
        headers = [ln for ln in dropped if re.match(r"^\S+:\d+:\d+: warning: ", ln)]
        assert int(m.group(1)) == len(headers) if m else not headers
        for count, flag in re.findall(r"(\d+) (-W[\w-]+)", mk.summary):
            assert int(count) == sum(1 for ln in headers if ln.endswith(f"[{flag}]"))


def test_question_naming_a_flag_keeps_all_of_it():
    text = _read("diag_gcc_gzlog.txt")
    r = compress_diagnostics(text, Context(query="show every -Wshadow and -Wunused-parameter warning"))
    for ln in text.split("\n"):
        if ln.endswith("[-Wunused-parameter]") or ln.endswith("[-Wshadow]"):
            assert ln in r.text.split("\n")


def test_question_naming_a_file_keeps_its_diagnostics():
    text = _read("diag_mypy_h11.txt")
    r = compress_diagnostics(text, Context(query="what does mypy say about test_connection.py?"))
    for ln in text.split("\n"):
        if ln.startswith("h11src/tests/test_connection.py:") and ": error: " in ln:
            assert ln in r.text.split("\n")
    assert "Found 84 errors in 15 files (checked 22 source files)" in r.text


def test_rustc_keeps_summaries_the_warning_and_counts_errors_by_code():
    text = _read("diag_rustc_bcrypt.txt")
    r = compress_diagnostics(text, Context())
    assert "error: aborting due to 61 previous errors; 1 warning emitted" in r.text
    assert "warning: unused imports: `checkpw`, `gensalt`, `hashpw`, and `kdf`" in r.text
    assert "error[E0432]: unresolved import `subtle`" in r.text
    assert any("E0433" in mk.summary for mk in find_markers(r.text))


def test_tsc_pretty_with_colours_is_parsed_and_lines_kept_byte_identical():
    text = _read("diag_tsc_pretty.txt")
    assert "\x1b[" in text
    r = compress_diagnostics(text, Context(query="errors in common.js"))
    assert any(ln.startswith("\x1b[96m../debugsrc/common.js") for ln in r.text.split("\n"))
    assert "Found 93 errors in 4 files." in r.text


def test_eslint_rows_are_units_under_their_file():
    text = _read("diag_eslint_stylish.txt")
    units, role = parse(text)
    assert all(d.file.endswith(".js") for d in units)
    r = compress_diagnostics(text, Context(query="which lines break eqeqeq?"))
    for ln in text.split("\n"):
        if ln.rstrip().endswith("  eqeqeq"):
            assert ln in r.text.split("\n")
    assert "\u2716 403 problems (82 errors, 321 warnings)" in r.text


def test_router_compresses_real_diagnostics_and_is_idempotent():
    for name in SAMPLES:
        text = _read(name)
        r = compress_text(text, Context(query="what should I fix first?"))
        assert r.content_type == "diagnostics", name
        assert compress_text(r.text, Context(query="what should I fix first?")).text == r.text


def test_not_diagnostics():
    grep = [f"src/app/m{i}.py:{i}:    timeout = {i}" for i in range(50)]
    assert not looks_like_diagnostics(grep)
    build = [f"Compiling crate{i} v0.{i}.0" for i in range(50)] + ["src/lib.rs:3:1: warning: unused [-Wx]"]
    assert not looks_like_diagnostics(build)
    assert not looks_like_diagnostics(_read("dpkg.log").split("\n"))


def test_a_question_excluding_a_flag_keeps_every_other_warning():
    text = _read("diag_gcc_gzlog.txt")
    r = compress_diagnostics(text, Context(query="Apart from the -Wsign-conversion warnings, which warnings are there?"))
    out = r.text.split("\n")
    units, _ = parse(text)
    lines = text.split("\n")
    others = [d for d in units if d.code != "-Wsign-conversion"]
    assert others and all(lines[d.start] in out for d in others)
    for mk in find_markers(r.text):
        dropped = r.drops[mk.key]
        m = re.search(r"(\d+) of the excluded codes", mk.summary)
        assert m and int(m.group(1)) == len(re.findall(r"^\S+:\d+:\d+: warning: .*\[-Wsign-conversion\]$", dropped, re.M))


def test_a_question_naming_a_code_family_keeps_it():
    text = _read("diag_ruff_concise_itsdangerous.txt")
    r = compress_diagnostics(text, Context(query="Any of the D rules? List them."))
    out = r.text.split("\n")
    d_rows = [ln for ln in text.split("\n") if re.match(r"^\S+:\d+:\d+: D\d+ ", ln)]
    assert d_rows and all(ln in out for ln in d_rows)
    r = compress_diagnostics(text, Context(query="Why do I get so many findings?"))
    i_rows = [ln for ln in text.split("\n") if re.match(r"^\S+:\d+:\d+: I\d+ ", ln)]
    assert len([ln for ln in i_rows if ln in r.text.split("\n")]) <= max(2, len(i_rows) // 2) or len(i_rows) <= 2


_NOUN = {"error": "error", "warning": "warning", "finding": "lint", "note": "note"}


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("q", ["", "what is wrong in _util.py?", "apart from E0433, which errors?", "TS2339"])
def test_every_marker_claim_is_true(name, q):
    """Counts per severity and per code, the files named and their line range: each true of the
    diagnostics under the marker (found by the marker's own line range in the original)."""
    text = _read(name)
    units, _ = parse(text)
    r = compress_diagnostics(text, Context(query=q))
    for mk in find_markers(r.text):
        lo, hi = line_span(mk.summary)
        lo -= 1
        inside = [d for d in units if lo <= d.start < hi]
        for count, noun in re.findall(r"(\d+) (error|warning|finding|note)s?\b", mk.summary):
            assert int(count) == sum(1 for d in inside if d.severity == _NOUN[noun]), mk.summary
        codes = re.search(r"codes: ([^;)]*)", mk.summary)
        if codes:
            for count, code in re.findall(r"(\d+) (\S+?)(?:,|$| and)", codes.group(1)):
                assert int(count) == sum(1 for d in inside if d.code == code), (code, mk.summary)
        many = re.search(r"in (\d+) files: ([^;)]*)", mk.summary)
        if many:
            assert int(many.group(1)) == len({d.file for d in inside if d.file})
            for count, path in re.findall(r"(\d+) in (\S+?)(?:,|$| and)", many.group(2)):
                assert int(count) == sum(1 for d in inside if d.file.endswith(path.lstrip(".")))
        one = re.search(r"in (\S+) \(its lines? (\d+)(?:-(\d+))?\)", mk.summary)
        if one:
            files = {d.file for d in inside if d.file}
            assert len(files) == 1 and next(iter(files)).endswith(one.group(1).lstrip("."))
            nums = [d.line for d in inside if d.line is not None]
            assert (min(nums), max(nums)) == (int(one.group(2)), int(one.group(3) or one.group(2)))


def test_pyright_rules_javac_carets_and_go_positions_are_parsed():
    units, role = parse(_read("diag_pyright_h11.txt"))
    assert {d.code for d in units} >= {"reportMissingImports", "reportAssignmentType"}
    assert all(d.file.endswith(".py") and d.line for d in units)
    assert sum(1 for r in role if r == "scope") >= 5  # the file lines
    units, _ = parse(_read("diag_javac_protobuf.txt"))
    assert len(units) == 22 and all(d.severity == "error" for d in units)
    text = _read("diag_go_compile.txt")
    units, _ = parse(text)
    assert all(d.file.endswith(".go") for d in units)
    # A tab-indented "other declaration" line belongs to the diagnostic above it.
    lines = text.split("\n")
    d = next(d for d in units if "redeclared" in d.message)
    assert lines[d.start + 1].startswith("\t") and d.end > d.start + 1


def test_pylint_modules_are_scopes_and_its_e_codes_errors():
    text = _read("diag_pylint_h11.txt")
    units, role = parse(text)
    lines = text.split("\n")
    assert all(role[k] == "scope" for k, ln in enumerate(lines) if ln.startswith("************* Module "))
    assert {d.severity for d in units if d.code.startswith("E")} == {"error"}
    assert {d.severity for d in units if d.code.startswith("C")} == {"lint"}
    r = compress_diagnostics(text, Context())
    assert "Your code has been rated at 8.07/10" in r.text
    for d in units:
        if d.severity == "error":
            assert lines[d.start] in r.text.split("\n")


def test_a_question_naming_a_line_of_a_file_keeps_that_line_not_the_whole_file():
    text = _read("diag_mypy_h11.txt")
    units, _ = parse(text)
    lines = text.split("\n")
    d = next(d for d in units if d.file.endswith("test_connection.py"))
    in_file = [x for x in units if x.file == d.file]
    r = compress_diagnostics(text, Context(query=f"what does mypy say at line {d.line} of test_connection.py?"))
    out = r.text.split("\n")
    assert lines[d.start] in out
    assert sum(1 for x in in_file if lines[x.start] in out) < len(in_file)
    r = compress_diagnostics(text, Context(query=f"and at test_connection.py:{d.line}?"))
    assert lines[d.start] in r.text.split("\n")
    # A line with no diagnostic there: the question names the file, every diagnostic of it is kept.
    r = compress_diagnostics(text, Context(query="what does mypy say at line 99999 of test_connection.py?"))
    assert all(lines[x.start] in r.text.split("\n") for x in in_file)
