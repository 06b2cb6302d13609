"""Logs: rare lines and errors survive, frequent kinds fold into markers that say what they hold."""
from __future__ import annotations

import re
from pathlib import Path
from hypothesis import given
from hypothesis import strategies as st

from headroom.core.compressors import Context
from headroom.core.compressors.logs import compress_logs, looks_like_log, template
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_lines


def _log():
    lines = []
    for i in range(1500):
        lines.append(f"2024-05-02 10:{i // 60 % 60:02d}:{i % 60:02d},{i % 1000:03d} INFO  [worker-{i % 8}] "
                     f"cache.Store: put key=user:{1000 + i} bytes={200 + i % 90}")
        if i == 700:
            lines.append("2024-05-02 10:11:40,700 ERROR [worker-4] cache.Store: eviction failed: disk quota exceeded")
        if i == 900:
            lines.append("2024-05-02 10:15:00,900 INFO  [main] cache.Admin: resharding started by operator alice")
    return "\n".join(lines)


def test_template_masks_what_varies():
    assert template("2024-05-02 10:00:01 put key=17 from 10.0.0.1:443") == template(
        "2024-05-03 11:22:33 put key=90210 from 192.168.1.20:80")


def test_rare_and_error_lines_are_kept_the_bulk_is_folded():
    text = _log()
    r = compress_logs(text, Context(query="Why did the cache fail?"))
    assert "eviction failed: disk quota exceeded" in r.text
    assert "resharding started by operator alice" in r.text
    assert text.split("\n")[0] in r.text and text.split("\n")[-1] in r.text
    assert len(r.text) < len(text) / 5
    assert expand_lines(r.text, dict(r.drops)) == text
    check_line_markers(text, r.text, dict(r.drops))
    summaries = [m.summary for m in find_markers(r.text)]
    assert any("INFO" in s and "cache.Store: put key=user:#" in s for s in summaries), summaries[:3]


def test_lines_naming_the_question_identifiers_are_kept():
    text = _log()
    r = compress_logs(text, Context(query="what happened to key user:1234?"))
    assert "key=user:1234 " in r.text


def test_detection():
    assert looks_like_log(_log().split("\n"))
    assert not looks_like_log(["def f(x):", "    return x"] * 20)


# A real pytest run: `pytest -vv --durations=0` over h11's own test suite (h11 sources from its wheel),
# tests/golden/inputs/pytest_h11_durations.txt: the PASSED lines, then every setup/call/teardown duration.
DURATIONS = Path(__file__).resolve().parents[2] / "golden" / "inputs" / "pytest_h11_durations.txt"
_DURATION = re.compile(r"^(\d+\.\d+)s (setup|call|teardown) ")


def _durations():
    text = DURATIONS.read_text(encoding="utf-8")
    return text, [(ln, float(m.group(1)), m.group(2)) for ln in text.split("\n") if (m := _DURATION.match(ln))]


def test_a_numeric_condition_keeps_every_line_whose_number_meets_it():
    text, rows = _durations()
    r = compress_logs(text, Context(query="which steps took at least 10 ms?"))
    kept = set(r.text.split("\n"))
    slow = [ln for ln, secs, _ in rows if secs >= 0.01]
    assert len(slow) >= 5 and all(ln in kept for ln in slow)
    fast = [ln for ln, secs, _ in rows if secs < 0.01]
    assert sum(ln in kept for ln in fast) < len(fast) / 4
    check_line_markers(text, r.text, dict(r.drops))


def test_an_extreme_keeps_the_top_lines_of_what_it_ranks():
    text, rows = _durations()
    r = compress_logs(text, Context(query="What are the 5 slowest teardowns?"))
    kept = set(r.text.split("\n"))
    teardowns = sorted((row for row in rows if row[2] == "teardown"), key=lambda row: -row[1])
    # pytest lists durations slowest first: the first five teardown lines are the five slowest.
    assert all(ln in kept for ln, _, _ in teardowns[:5])
    assert expand_lines(r.text, dict(r.drops)) == text


def test_markers_count_the_selected_lines_they_hold():
    text, rows = _durations()
    r = compress_logs(text, Context(query="Which steps took 0.005 s or less?"))
    claims = [m.summary for m in find_markers(r.text) if "0.005 s or less" in m.summary]
    assert claims, "more lines meet the condition than are kept: the markers say how many they hold"
    lines = text.split("\n")
    for mk in find_markers(r.text):
        m = re.search(r"(\d+) (?:with )?0\.005 s or less", mk.summary)
        if m:
            held = [ln for ln in r.drops[mk.key].split("\n") if (d := _DURATION.match(ln)) and float(d.group(1)) <= 0.005]
            assert int(m.group(1)) == len(held), mk.summary
    assert len(lines) > len(r.text.split("\n"))


@given(st.lists(st.text(alphabet="abAB \n\u0130x", max_size=12), max_size=12),
       st.lists(st.text(alphabet="ab \nx", max_size=3), min_size=1, max_size=4))
def test_the_lines_holding_a_word_are_those_a_test_per_line_finds(lines, words):
    """lines_containing searches the whole text once per word; it must find exactly the lines that testing
    every line for every word finds (empty words, words with a newline, repeated hits on a line, a character
    whose lower case is longer included)."""
    from headroom.core.compressors.logs import lines_containing

    text = "\n".join(lines)
    expected = {i for i, line in enumerate(text.lower().split("\n")) if any(w in line for w in words)}
    assert lines_containing(tuple(words), text) == expected


def test_what_a_text_remembers_for_later_questions_changes_no_output():
    # The text's cache (_Base.found: each term's lines and places, each run's levels and kinds) is filled by
    # one question and read by the next; every output must be what a cold compression of it gives.
    from headroom.core.memo import MEMO

    text = "".join(f"2026-11-24 04:{j % 60:02d}:00 {'WARN' if j % 37 == 5 else 'INFO'} worker-{j % 7} job=sync-{j % 5} "
                   f"seq={j}{' retry failed' if j % 41 == 3 else ''}\n" for j in range(400)) + "2026-11-24 05:00 ERROR disk full\n"
    questions = ["why did job sync-3 fail?", "request 77: which retry failed?", "why did the job fail?",
                 "what did worker-3 do with job sync-3?", "request 78: which retry failed?", "disk full on worker-5?"]
    MEMO.clear()
    warm = [compress_logs(text, Context(query=q)) for q in questions * 2]
    for q, got in zip(questions * 2, warm):
        MEMO.clear()
        cold = compress_logs(text, Context(query=q))
        assert (got.text, dict(got.drops)) == (cold.text, dict(cold.drops)), q
    assert any(got.drops for got in warm)


def test_a_words_lines_from_the_texts_cache_are_its_own():
    from headroom.core.compressors.logs import _containing
    from headroom.core.compressors.facets import joined_lines

    lines = ["retry 1", "request 2", "worker-3 ok", "worker 4", "sync-3", "sync"]
    low, starts = joined_lines(lines)
    found: dict = {}
    for words in [("retry",), ("request",), ("worker-3",), ("worker",), ("sync",), ("sync-3", "retry")] * 2:
        assert _containing(words, low, starts, found) == _containing(words, low, starts), words
