"""Prose without any structure (no headings, no paragraphs): a wall of text is judged in blocks."""
from __future__ import annotations

import random

from headroom.core.compressors.base import Context
from headroom.core.compressors.text import BLOCK_LINES, compress_text_doc

from .helpers import check_line_markers, expand_lines


def _wall(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(3000)]
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(6, 14))) for _ in range(n)]


def test_a_wall_of_text_keeps_its_lead_not_just_one_line():
    lines = _wall(3000)
    text = "\n".join(lines)
    r = compress_text_doc(text, Context(query="summarise this"))
    out = r.text.split("\n")
    # What the text is shows: its first block whole, then a marker for the rest.
    assert out[:BLOCK_LINES] == lines[:BLOCK_LINES]
    assert len(out) < len(lines) / 10
    check_line_markers(text, r.text, dict(r.drops))
    assert expand_lines(r.text, dict(r.drops)) == text


def test_a_wall_of_text_keeps_the_block_the_question_is_about():
    lines = _wall(3000, seed=9)
    fact = "the worker flushes the queue to disk every 30 seconds"
    lines[2100] = fact
    text = "\n".join(lines)
    r = compress_text_doc(text, Context(query="how often does the worker flush the queue?"))
    assert fact in r.text.split("\n")
    check_line_markers(text, r.text, dict(r.drops))
