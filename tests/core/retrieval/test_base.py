"""The provider-neutral splice walk and candidate keys in core.retrieval.base."""
from __future__ import annotations

import json

from headroom.core.retrieval.base import (fingerprint, insert_at_calls, message_fp, role_candidates, splice_records,
                                          strip_shown, sum_usage)


def _rebuild(m: dict, rec: dict):
    return rec["replace"] + [dict(m, text=rec["text"])], rec["results"] or None


def _join(m, results):
    return dict(m, results=results + m.get("results", [])) if m.get("role") == "user" else None


def _own(results):
    return {"role": "user", "results": results}


def test_results_join_the_next_user_turn():
    items = [{"role": "user"}, {"role": "assistant", "text": "shown"}, {"role": "user", "results": ["mine"]}]
    rec = {"replace": [{"role": "assistant", "text": "hidden"}, {"role": "user", "results": ["r0"]}],
           "text": "final", "results": ["r1"]}
    out = splice_records(items, {1: json.dumps(rec)}, _rebuild, _join, _own)
    assert out == [
        {"role": "user"},
        {"role": "assistant", "text": "hidden"},
        {"role": "user", "results": ["r0"]},
        {"role": "assistant", "text": "final"},
        {"role": "user", "results": ["r1", "mine"]},
    ]


def test_results_stand_as_their_own_turn_before_a_non_user_turn_and_at_the_end():
    rec = json.dumps({"replace": [], "text": "t", "results": ["r"]})
    items = [{"role": "assistant"}, {"role": "assistant"}]
    out = splice_records(items, {0: rec, 1: rec}, _rebuild, _join, _own)
    assert out == [{"role": "assistant", "text": "t"}, _own(["r"]), {"role": "assistant", "text": "t"}, _own(["r"])]


def test_no_results_and_untouched_items_pass_through():
    items = [{"role": "user"}, {"role": "assistant"}, {"role": "user"}]
    rec = json.dumps({"replace": [], "text": "t", "results": []})
    assert splice_records(items, {}, _rebuild, _join, _own) == items
    out = splice_records(items, {1: rec}, _rebuild, _join, _own)
    assert out == [{"role": "user"}, {"role": "assistant", "text": "t"}, {"role": "user"}]


def test_role_candidates_key_each_turn_by_the_one_before():
    items = [{"role": "assistant", "c": 0}, {"role": "user"}, {"role": "assistant", "c": 2}, "not a turn"]
    sig = lambda m: str(m["c"])  # noqa: E731
    assert role_candidates("p", items, "assistant", sig) == [
        (0, fingerprint("p", "", "0")),
        (2, fingerprint("p", message_fp(items[1]), "2")),
    ]


def _t(p):
    return p.get("t")


def _th(p):
    return "th" in p


def _w(p, t):
    return dict(p, t=t)


def test_strip_shown_matches_text_however_it_is_cut_and_thoughts_that_went():
    shown = [{"th": "a"}, {"t": "ab"}, {"t": "cd"}, {"x": 1}]
    assert strip_shown([{"t": "abc"}, {"t": "d"}, {"x": 1}, {"t": "e"}], shown, _t, _th, _w) == [{"t": "e"}]
    assert strip_shown([{"th": "a"}, {"t": "abcd"}, {"x": 1}, {"th": "a"}, {"t": "e"}], shown, _t, _th, _w) == [{"t": "e"}]
    assert strip_shown([{"t": "abcdef"}], [{"t": "abcd"}], _t, _th, _w) == [{"t": "ef"}]
    assert strip_shown([{"t": "abcd"}, {"t": "e"}], shown, _t, _th, _w) is None  # {"x": 1} is missing
    assert strip_shown([{"t": "abXd"}], [{"t": "abcd"}], _t, _th, _w) is None
    assert strip_shown([{"t": "e"}], [], _t, _th, _w) == [{"t": "e"}]
    # Whitespace the client trimmed off the ends of its turn's text.
    assert strip_shown([{"t": "ab"}, {"x": 2}], [{"t": " ab "}], _t, _th, _w) == [{"x": 2}]
    assert strip_shown([{"t": "ab cd"}], [{"t": "\nab "}], _t, _th, _w) == [{"t": "cd"}]


def _call(p):
    return "c" in p


def test_insert_at_calls_puts_each_part_back_before_the_call_that_followed_it():
    parts = [{"t": "x"}, {"c": "a"}, {"c": "b"}]
    assert insert_at_calls(parts, [[0, {"c": "h"}]], _call) == [{"t": "x"}, {"c": "h"}, {"c": "a"}, {"c": "b"}]
    assert insert_at_calls(parts, [[1, {"c": "h"}], [1, {"c": "i"}]], _call) == \
        [{"t": "x"}, {"c": "a"}, {"c": "h"}, {"c": "i"}, {"c": "b"}]
    assert insert_at_calls(parts, [[2, {"c": "h"}]], _call) == [{"t": "x"}, {"c": "a"}, {"c": "b"}, {"c": "h"}]
    assert insert_at_calls([{"t": "x"}], [[0, {"c": "h"}]], _call) == [{"t": "x"}, {"c": "h"}]
    assert insert_at_calls([{"t": "x"}], [[0, {"c": "h"}]], _call, front=True) == [{"c": "h"}, {"t": "x"}]


def test_sum_usage_adds_gemini_details_per_modality():
    total = {"promptTokenCount": 10, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]}
    sum_usage(total, {"promptTokenCount": 7, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5},
                                                                     {"modality": "IMAGE", "tokenCount": 2}]})
    assert total == {"promptTokenCount": 17, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 15},
                                                                     {"modality": "IMAGE", "tokenCount": 2}]}
