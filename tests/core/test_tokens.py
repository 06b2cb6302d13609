"""core/tokens.py: exact counts with the model's encoding, o200k for any model whose tokenizer is not public."""
from __future__ import annotations

import inspect
import json
import re

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


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Digits, letters (cased, uncased, marks), spaces and newlines, punctuation, JSON's escapes, a non-ASCII digit,
# an emoji and a lone surrogate: what lies either side of a cut in real bodies, and what could fool one.
_PIECES = st.sampled_from(["0", "7", "42", "2026", "a", "Z", "é", "\u0301", "中", " ", "  ", "\n", "\t", "-", ":",
                           "=", '"', "\\", "/", "'s", "'", ",", ".", "}", "(", "\u0663", "😀", "\ud83d", "x1", "1x", "run=", "seq=", "#"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=40), st.sampled_from(["o200k_base", "cl100k_base"]))
def test_a_text_cut_where_cut_ok_says_counts_as_its_pieces(parts, encoding):
    text = "".join(parts)
    whole = tokens.count(text, encoding, remember=False)
    for p in range(1, len(text)):
        if tokens._cut_ok(text, p):
            assert tokens.count(text[:p], encoding, remember=False) + tokens.count(text[p:], encoding,
                                                                                  remember=False) == whole, p


def _log(seed: int) -> str:
    return "".join(f"2026-11-24 04:{j % 60:02d}:{j % 60:02d} INFO worker-{j % 7} run={seed} \"q\" é\\ seq={j}\n"
                   for j in range(200)) + f"2026-11-24 05:00:00 ERROR run {seed}: disk full\n"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5), st.text(max_size=40), st.booleans(), st.sampled_from(["o200k_base", "cl100k_base"]))
def test_count_body_is_the_whole_count(seed, question, ascii_only, encoding):
    from headroom.core.memo import MEMO

    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": question},
                                            {"role": "tool", "content": _log(seed)},
                                            {"role": "tool", "content": _log(seed) + question},
                                            {"role": "user", "content": [{"type": "text", "text": "x" * 3000}]}]}
    text = json.dumps(body, ensure_ascii=ascii_only, separators=(",", ":") if seed % 2 else (", ", ": "))
    strings = tokens.long_strings(body)
    assert len(strings) == 3
    hits = MEMO.hits
    for _ in range(2):  # the second time from memory
        assert tokens.count_body(text, encoding, strings) == tokens.count(text, encoding, remember=False)
    assert MEMO.hits > hits  # the log's pieces were cut out and remembered: this is not the plain count


def test_count_body_without_a_cut_or_with_strings_it_does_not_hold():
    text = json.dumps({"a": "1 " * 3000})  # no letter, no digit beside a non-space: nothing to cut at
    assert tokens.count_body(text, strings=tokens.long_strings(json.loads(text))) == tokens.count(text)
    other = _log(1)
    assert tokens.count_body(text, strings=[other]) == tokens.count(text)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=6), st.sampled_from(["o200k_base", "cl100k_base"]))
def test_a_conversation_resent_with_more_at_its_end_is_counted_exactly_and_mostly_from_memory(asked, encoding):
    """An agent's body turn after turn: the same history and one more exchange at its end each turn. Cut at its
    string ends, counted exactly, and from the second turn on its history's pieces come from memory."""
    from headroom.core.memo import MEMO

    messages = [{"role": "system", "content": "You are a coding agent. " * 200}]
    for turn, question in enumerate(asked):
        messages += [{"role": "user", "content": question},
                     {"role": "tool", "tool_call_id": f"call_{turn}", "content": _log(turn)[:1500]}]
        text = json.dumps({"model": "gpt-4o", "messages": messages})
        hits = MEMO.hits
        assert tokens.count_body(text, encoding) == tokens.count(text, encoding, remember=False)
        if len(text) > 4 * tokens.PIECE_CHARS and turn:
            assert MEMO.hits > hits


def test_every_cut_cut_ok_allows_in_real_prose_and_code_is_exact():
    """Real text (standard-library sources: prose in docstrings, contractions, code), cut at every place
    `_cut_ok` allows around each apostrophe after a letter, sums to the whole count in both encodings; a cut
    before the apostrophe would not (o200k keeps "it's" in one chunk), which is why the rule excludes it."""
    import argparse
    import textwrap

    src = inspect.getsource(argparse) + inspect.getsource(textwrap)
    spots = [m.start() for m in re.finditer(r"[A-Za-z]'[a-z]", src)][:40]
    assert len(spots) >= 20
    wrong_before_apostrophe = 0
    for encoding in ("o200k_base", "cl100k_base"):
        for at in spots:
            text = src[max(0, at - 60):at + 60]
            whole = tokens.count(text, encoding, remember=False)
            for p in range(1, len(text)):
                split = tokens.count(text[:p], encoding, remember=False) + tokens.count(text[p:], encoding,
                                                                                        remember=False)
                if tokens._cut_ok(text, p):
                    assert split == whole, (encoding, text[:p][-20:], text[p:][:20])
                elif text[p] == "'" and text[p - 1].isalpha() and split != whole:
                    wrong_before_apostrophe += 1
    assert wrong_before_apostrophe
