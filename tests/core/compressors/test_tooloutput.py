"""Invariants of the line-oriented tool-output compressors (diagnostics, listings, git log, pip/npm), as
properties over real outputs cut at random places and spliced together: never an error, reversible,
line-granular, markers exact, deterministic, idempotent through the router.

The inputs are the real samples in tests/golden/inputs/ (see each compressor's test for the command
that made them); hypothesis picks a window of each and may append lines of another kind.
"""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headroom.core.compressors import Context, compress_text
from headroom.core.compressors.diagnostics import compress_diagnostics
from headroom.core.compressors.gitlog import compress_gitlog
from headroom.core.compressors.listing import compress_listing
from headroom.core.compressors.packages import compress_packages
from headroom.core.compressors.tooloutput import detect_tool_output

from .helpers import check_line_markers, expand_lines, kept_lines_are_input_lines

INPUTS = Path(__file__).parents[2] / "golden" / "inputs"
SAMPLES = {
    compress_diagnostics: sorted(p.name for p in INPUTS.glob("diag_*.txt")),
    compress_listing: ["ls_laR_etc.txt", "ls_lh_iso_libdir.txt", "ls_l_dev.txt"],
    compress_gitlog: ["gitlog_p.txt", "gitlog_stat.txt", "gitlog_plain.txt"],
    compress_packages: ["pip_install_sphinx.txt", "pip_install_satisfied.txt", "npm_ls_all.txt"],
}
_LINES = {name: (INPUTS / name).read_text().split("\n") for names in SAMPLES.values() for name in names}
OTHER = (INPUTS / "dpkg.log").read_text().split("\n")[:200]

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
questions = st.sampled_from(["", "what failed?", "the 3 largest files", "apart from -Wconversion, which warnings?",
                             "what changed in pipeline.py?", "did black install?", "line 442", "E0433"])


def _window(fn):
    @st.composite
    def build(draw):
        name = draw(st.sampled_from(SAMPLES[fn]))
        lines = _LINES[name]
        a = draw(st.integers(0, max(0, len(lines) - 40)))
        b = draw(st.integers(a + 20, len(lines)))
        tail = OTHER[: draw(st.integers(0, 5))]
        return "\n".join(lines[a:b] + tail)
    return build()


def _check(fn, text, q):
    try:
        r = fn(text, Context(query=q))
    except ValueError:
        return  # a window with no structure left: the router falls back to lossless
    assert fn(text, Context(query=q)) == r
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


@SETTINGS
@given(_window(compress_diagnostics), questions)
def test_diagnostics_windows(text, q):
    _check(compress_diagnostics, text, q)


@SETTINGS
@given(_window(compress_listing), questions)
def test_listing_windows(text, q):
    _check(compress_listing, text, q)


@SETTINGS
@given(_window(compress_gitlog), questions)
def test_gitlog_windows(text, q):
    _check(compress_gitlog, text, q)


@SETTINGS
@given(_window(compress_packages), questions)
def test_packages_windows(text, q):
    _check(compress_packages, text, q)


@SETTINGS
@given(st.sampled_from(sorted(_LINES)), questions)
def test_router_deterministic_and_idempotent(name, q):
    text = "\n".join(_LINES[name])
    ctx = Context(query=q)
    first = compress_text(text, ctx)
    assert compress_text(text, ctx) == first
    assert compress_text(first.text, ctx).text == first.text
    assert detect_tool_output(_LINES[name]) is not None


def test_fit_leaves_out_whole_parts_never_half_of_one():
    from headroom.core.compressors.tooloutput import fit

    assert fit(["a" * 300, "b" * 100, "3 errors"]) == "a" * 300 + "; 3 errors"
    assert fit(["", "x", "y"], budget=10) == "x; y"
