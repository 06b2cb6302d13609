"""core/tokens.py: exact counts with the model's encoding, o200k for any model whose tokenizer is not public."""
from __future__ import annotations

import inspect
import json

from headroom.core import tokens


def test_the_encoding_of_a_model():
    assert tokens.encoding_for_model("gpt-4") == tokens.encoding_for_model("gpt-3.5-turbo") == "cl100k_base"
    for model in ("gpt-4o", "gpt-5", "claude-sonnet-4-5", "gemini-2.5-pro", None, ""):
        assert tokens.encoding_for_model(model) == "o200k_base"


def test_counts_are_exact_and_additive_at_line_boundaries_of_real_text():
    src = inspect.getsource(json.decoder)  # real text: a standard-library module
    assert tokens.count("") == 0
    n = tokens.count(src)
    assert 0 < n < len(src)
    assert tokens.count(src, "cl100k_base") != n  # two encodings, two counts
    # Splitting at a newline changes the count by at most the newline's own token merge.
    a, _, b = src.partition("\n\n\n")
    assert abs(tokens.count(a) + tokens.count("\n\n\n") + tokens.count(b) - n) <= 2
