"""The provider-neutral splice walk and candidate keys in core.retrieval.base."""
from __future__ import annotations

import json

from headroom.core.retrieval.base import fingerprint, message_fp, role_candidates, splice_records


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
