"""Marker honesty: a true marker passes; each kind of false count is caught."""
from __future__ import annotations

import json

from headroom.core.markers import make_marker
from headroom.evals.honesty import check_markers

LINES = [f"2026-03-01T10:00:{i:02d}Z INFO served GET /api/items/{i}" for i in range(20)]
LINES[7] = "2026-03-01T10:00:07Z ERROR upstream timeout for pod web-7"
LINES[9] = "2026-03-01T10:00:09Z WARN pods restarting"
ORIGINAL = "\n".join(LINES)


def _check(summary, start=1, end=15):
    dropped = "\n".join(LINES[start:end])
    marker, key = make_marker(summary, dropped)
    compressed = "\n".join(LINES[:start] + [marker] + LINES[end:])
    return check_markers(ORIGINAL, compressed, {key: dropped})


def test_a_true_marker_has_no_violation():
    v, checked, _ = _check("14 lines omitted (lines 2-15: 12 INFO, 1 ERROR, 1 WARN; 2 with error/warning words; "
                           "2 mention 'pod')")
    assert v == [] and checked >= 6


def test_a_wrong_line_count_or_range_is_caught():
    assert _check("15 lines omitted (lines 2-16)")[0]
    assert _check("14 lines omitted (lines 3-16)")[0]  # right count, wrong place


def test_a_wrong_mention_count_is_caught_and_word_forms_count():
    assert _check("14 lines omitted (lines 2-15: 0 mention 'pod')")[0]  # 'pod' and 'pods' are there
    assert _check("14 lines omitted (lines 2-15: 5 mention 'timeout')")[0]
    assert not _check("14 lines omitted (lines 2-15: 1 mention 'timeout')")[0]
    assert _check("14 lines omitted (lines 2-15: 0 mention 'items')")[0]  # /api/items/ in 12 of them


def test_a_level_count_above_the_lines_holding_it_is_caught():
    assert _check("14 lines omitted (lines 2-15: 2 ERROR)")[0]


def test_json_items_are_counted_as_items():
    items = [{"id": i, "status": "Running" if i != 3 else "CrashLoopBackOff"} for i in range(10)]
    original = json.dumps(items)
    dropped = json.dumps(items[1:9])
    marker, key = make_marker("8 items omitted (items 2-9 of 10; 1 mention 'crashloop')", dropped)
    assert check_markers(original, json.dumps([items[0], {"_headroom": marker}, items[9]]), {key: dropped})[0] == []
    marker, key = make_marker("7 items omitted (items 2-8 of 10; 0 mention 'crashloop')", dropped)
    v = check_markers(original, json.dumps([{"_headroom": marker}]), {key: dropped})[0]
    assert len(v) == 2


def test_a_substring_inside_another_word_is_not_a_mention_but_either_reading_is_accepted():
    lines = ["KernelHasNoDeadlock False", "Ready True", "NodeReady True"]
    dropped = "\n".join(lines)
    for summary, false in (("3 lines omitted (lines 1-3: 1 mention 'node')", False),  # as a word
                           ("3 lines omitted (lines 1-3: 2 mention 'node')", False),  # as a substring
                           ("3 lines omitted (lines 1-3: 0 mention 'node')", True)):
        marker, key = make_marker(summary, dropped)
        assert bool(check_markers(dropped, marker, {key: dropped})[0]) is false, summary


def test_camel_case_humps_start_words():
    dropped = "ESLint is a tool\nsee eslint.org\nJSLint too"
    for summary, false in (("3 lines omitted (lines 1-3: 2 mention 'lint')", False),   # ESLint, JSLint
                           ("3 lines omitted (lines 1-3: 3 mention 'lint')", False),   # as a substring
                           ("3 lines omitted (lines 1-3: 1 mention 'lint')", True)):
        marker, key = make_marker(summary, dropped)
        assert bool(check_markers(dropped, marker, {key: dropped})[0]) is false, summary


def test_xml_elements_are_counted_as_elements():
    dropped = ('<testcase classname="t" name="a" time="0.1" /><testcase classname="t" name="b" time="0.2">'
               '<failure message="TypeError: x">TypeError: x</failure></testcase>'
               '<testcase classname="t" name="c" time="0.0" />')
    ok, key = make_marker("3 testcase elements omitted; 1 mention 'typeerror'", dropped)
    assert check_markers(dropped, f"<!-- {ok} -->", {key: dropped})[0] == []
    wrong, key = make_marker("4 passing testcase elements omitted; 2 mention 'typeerror'", dropped)
    assert len(check_markers(dropped, f"<!-- {wrong} -->", {key: dropped})[0]) == 2


def test_a_numbered_file_view_may_give_the_files_own_line_range():
    view = [f"{n}\tline {n} of the file" for n in range(101, 121)]
    original = "\n".join(view)
    dropped = "\n".join(view[5:15])  # output lines 6-15, the file's lines 106-115
    for rng, false in (("lines 6-15", False), ("lines 106-115", False), ("lines 7-16", True)):
        marker, key = make_marker(f"10 lines omitted ({rng})", dropped)
        compressed = "\n".join(view[:5] + [marker] + view[15:])
        assert bool(check_markers(original, compressed, {key: dropped})[0]) is false, rng


def test_folded_text_and_schema_claims():
    text = "tabtests/test_api.py:60: in test_sig\n    assert x\nE   AssertionError"
    ok, key = make_marker("3 lines of <failure> text omitted, from 'tabtests/test_api.py:60: in test_sig'", text)
    assert check_markers(text, ok, {key: text})[0] == []
    bad, key = make_marker("4 lines of <failure> text omitted, from 'tabtests/test_cli.py:1'", text)
    assert len(check_markers(text, bad, {key: text})[0]) == 2
    schema = json.dumps({"type": "object", "properties": {"name": {}, "url": {}, "email": {}}, "required": ["name"]})
    ok, key = make_marker("schema Contact omitted (object; 3 properties: name, url and 1 more; 1 required)", schema)
    assert check_markers(schema, ok, {key: schema})[0] == []
    bad, key = make_marker("schema Contact omitted (object; 2 properties: name, phone; 2 required)", schema)
    assert len(check_markers(schema, bad, {key: schema})[0]) == 2


def test_the_range_grammar_is_checked_count_and_place():
    assert _check("lines 2-15 omitted: 12 INFO, 1 ERROR, 1 WARN") == ([], 4, 0)
    assert _check("lines 2-16 omitted")[0]  # one line too many
    assert _check("lines 3-16 omitted")[0]  # right count, wrong place
    assert not _check("line 2 omitted", 1, 2)[0] and _check("line 3 omitted", 1, 2)[0]


def _check_many(summaries: list[str], runs: list[tuple[int, int]]):
    """Markers over several runs of LINES, each with its summary."""
    out, drops, pos = [], {}, 0
    for summary, (a, b) in zip(summaries, runs):
        dropped = "\n".join(LINES[a:b])
        marker, key = make_marker(summary, dropped)
        out += LINES[pos:a] + [marker]
        drops[key] = dropped
        pos = b
    return check_markers(ORIGINAL, "\n".join(out + LINES[pos:]), drops)


def test_a_zero_claim_said_once_for_the_drops_below_is_checked_on_each_of_them():
    runs = [(1, 5), (10, 14), (15, 19)]
    assert not _check_many(["lines 2-5 omitted: 4 INFO; 0 mention 'timeout' here or in the drops below",
                            "lines 11-14 omitted: 4 INFO", "lines 16-19 omitted: 4 INFO"], runs)[0]
    # LINES[7] (the timeout) is in the second run: "below" is false there, though the first drop holds none.
    v = _check_many(["lines 2-5 omitted: 4 INFO; 0 mention 'timeout' here or in the drops below",
                     "lines 7-10 omitted", "lines 16-19 omitted"], [(1, 5), (6, 10), (15, 19)])[0]
    assert len(v) == 1 and "below" in v[0].claim
