"""Prose without structure is left whole (only lossless steps); structured prose keeps what the question
is about, and every marker says what it holds (headings or its section and first line, and matches)."""
from __future__ import annotations

import random
import re
from pathlib import Path

from headroom.core.compressors import Context, compress_text
from headroom.core.compressors.text import compress_text_doc, has_structure
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines

INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"


def _wall(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(3000)]
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(6, 14))) for _ in range(n)]


def test_a_wall_of_text_with_no_structure_is_not_sampled():
    # No headings, no paragraphs: no unit to cut along, so nothing is dropped (the router keeps its
    # lossless form), whatever the question.
    lines = _wall(3000)
    lines[2100] = "the worker flushes the queue to disk every 30 seconds"
    text = "\n".join(lines)
    assert not has_structure(lines)
    r = compress_text_doc(text, Context(query="how often does the worker flush the queue?"))
    assert r.text == text and not r.drops
    out = compress_text(text, Context(query="how often does the worker flush the queue?"))
    assert out.text == text


def test_exact_repeats_in_unknown_text_fold_losslessly():
    lines = _wall(200, seed=3)
    text = "\n".join(lines[:100] + [lines[100]] * 50 + lines[101:])
    out = compress_text(text, Context())
    assert f"{lines[100]} [repeated 50x]" in out.text.split("\n")
    assert out.compressor == "lossless"


def test_every_marker_of_a_real_readme_says_what_it_holds():
    # rich's README (tests/golden/inputs/rich_readme.md, from the rich wheel's metadata).
    text = (INPUTS / "rich_readme.md").read_text(encoding="utf-8")
    assert has_structure(text.split("\n"))
    r = compress_text_doc(text, Context(query="How do I render tables and progress bars with rich?"))
    markers = find_markers(r.text)
    assert markers
    for mk in markers:
        assert re.match(r"\d+ lines? omitted \(lines? [\d-]+: \S", mk.summary), mk.summary
        assert "section" in mk.summary or "from '" in mk.summary or "repeat" in mk.summary, mk.summary
    check_line_markers(text, r.text, dict(r.drops))
    assert expand_lines(r.text, dict(r.drops)) == text
