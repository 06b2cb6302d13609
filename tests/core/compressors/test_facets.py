"""core/compressors/facets.py: the question's terms and the severe lines of an output, found the same way by
every compressor."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from headroom.core.compressors import facets

_BITS = st.sampled_from(["error", "err", "ror", "fail", "failed", "warn", " ", "\n", "x", "é", ""])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_BITS, max_size=6).map("".join), max_size=12),
       st.lists(st.sampled_from(["error", "err", "rr", "fail", "\nx", "r\ne", ""]), max_size=3))
def test_lines_with_finds_what_testing_each_line_finds(lines, words):
    # One find per word over the joined lines must give the lines a test of each line gives, including
    # "lines" holding a newline, words holding one, and the empty word.
    expected = {i for i, ln in enumerate(lines) if any(w in ln for w in words)} if words else set()
    assert facets.lines_with(words, lines) == expected


def test_severe_lines_of_a_log():
    lines = ["info ok", "error: disk full", "warning: slow", "all fine", "job failed"]
    assert facets.severe_lines(lines) == {1, 2, 4}
