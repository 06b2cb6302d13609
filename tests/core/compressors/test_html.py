"""HTML documentation pages, on a real one: every heading kept, the section the question is about kept
whole, other sections' bodies folded under markers naming the section and counting the question's terms.

Sample: tests/golden/inputs/python_policy.html, Debian's Python policy (/usr/share/doc/python3/python-policy.html,
python3 package, rendered by Sphinx).
"""
from __future__ import annotations

import re
from pathlib import Path

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.html import compress_html
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines, kept_lines_are_input_lines

TEXT = (Path(__file__).resolve().parents[2] / "golden" / "inputs" / "python_policy.html").read_text(encoding="utf-8")
LINES = TEXT.split("\n")
HEADING = re.compile(r"^\s*(?:<span[^>]*></span>)?<h[1-6]\b")


def _section(title: str) -> list[str]:
    a = next(i for i, ln in enumerate(LINES) if HEADING.match(ln) and title in ln)
    b = next(i for i in range(a + 1, len(LINES)) if HEADING.match(LINES[i]))
    return LINES[a:b]


def test_headings_kept_and_the_asked_section_whole():
    assert detect(TEXT) == "html"
    r = compress_text(TEXT, Context(query="How are module package names chosen (python3-foo)?"))
    assert r.compressor == "html" and r.drops
    out = r.text.split("\n")
    for ln in LINES:
        if HEADING.match(ln):
            assert ln in out
    for ln in _section("Module Package Names"):
        assert ln in out
    assert len(r.text) < 0.7 * len(TEXT)
    kept_lines_are_input_lines(TEXT, r.text)
    check_line_markers(TEXT, r.text, dict(r.drops))
    assert expand_lines(r.text, dict(r.drops)) == TEXT


def test_markers_name_their_section_and_count_terms_truly():
    r = compress_html(TEXT, Context(query="Which interpreter path should scripts use in their shebang?"))
    named = 0
    for mk in find_markers(r.text):
        dropped = r.drops[mk.key].lower()
        for k, term in re.findall(r"(\d+) mention '([^']+)'", mk.summary):
            if k != "0":
                assert sum(1 for ln in dropped.split("\n") if term[:6] in ln) >= 1
        if "section " in mk.summary:
            named += 1
    assert named >= 5
