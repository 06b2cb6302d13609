"""core/memo.py: what compression computes from a text alone is kept by the text, and a hit changes nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from headroom.core import pipeline
from headroom.core.compressors import Context, compress_text
from headroom.core.memo import MEMO, MIN_CHARS, TextMemo

INPUTS = Path(__file__).resolve().parents[1] / "golden" / "inputs"
# Real outputs of real programs (tests/golden/inputs), each asked two unrelated questions.
QUESTIONS = ("Which packages failed or were upgraded?", "what changed in the timeout handling of the client")


@pytest.mark.parametrize("name", sorted(p.name for p in INPUTS.iterdir()))
def test_a_warm_memo_gives_what_a_cold_one_does(name):
    """The memo holds only what does not depend on the question: compressing for question B after A has
    warmed it must give exactly what compressing for B alone gives."""
    text = (INPUTS / name).read_text(encoding="utf-8")
    first, second = (Context(query=q) for q in QUESTIONS)
    pipeline.clear_cache()
    cold = compress_text(text, second)
    pipeline.clear_cache()
    compress_text(text, first)
    warm_hits = MEMO.hits
    warm = compress_text(text, second)
    assert (warm.text, warm.content_type, dict(warm.drops)) == (cold.text, cold.content_type, dict(cold.drops))
    if len(text) >= MIN_CHARS:
        assert MEMO.hits > warm_hits  # the second question found the first one's work


def test_a_value_is_computed_once_per_text_and_args():
    memo, calls = TextMemo(max_chars=10**6), []
    text = "x" * MIN_CHARS

    def compute():
        calls.append(1)
        return len(calls)

    assert memo.get("f", text, compute) == 1
    assert memo.get("f", "".join(["x"] * MIN_CHARS), compute) == 1  # an equal text, another object
    assert memo.get("f", text, compute, "o200k_base") == 2  # other arguments, another entry
    assert memo.get("g", text, compute) == 3  # another function
    assert len(calls) == 3


def test_small_texts_are_not_kept_and_the_size_is_bounded():
    memo = TextMemo(max_chars=3 * MIN_CHARS * 2, weight=3)
    memo.get("f", "short", lambda: 1)
    assert len(memo) == 0
    a, b, c = ("a" * MIN_CHARS, "b" * MIN_CHARS, "c" * MIN_CHARS)
    memo.get("f", a, lambda: "A")
    memo.get("f", b, lambda: "B")
    memo.get("f", a, lambda: "A again")  # a is now the most recently used
    memo.get("f", c, lambda: "C")  # over the bound: b, the least recently used, goes
    assert memo.get("f", a, lambda: "recomputed") == "A"
    assert memo.get("f", b, lambda: "recomputed") == "recomputed"
    huge = TextMemo(max_chars=MIN_CHARS)
    huge.get("f", a, lambda: 1)
    assert len(huge) == 0  # larger than the whole memo: computed, never kept
