"""Verbatim, named, lost: the three fates of a fact, on tiny hand-built compressed outputs."""
from __future__ import annotations

from headroom.core.markers import make_marker
from headroom.evals.classify import classify, naming_tokens, summary_tokens

FACT = "ERROR [pool] connection to db-7 refused after 30000ms"
QUESTION = "Why were connections refused?"


def _one(fact, compressed, drops, question=QUESTION):
    (r,) = classify([fact], compressed, drops, question=question)
    return r


def test_verbatim_when_the_fact_is_in_the_output():
    r = _one(FACT, f"INFO start\n{FACT}\nINFO end", {})
    assert r.category == "verbatim"


def test_named_when_a_present_marker_holding_it_names_a_distinctive_token():
    dropped = f"INFO a\n{FACT}\nINFO b"
    marker, key = make_marker("3 lines omitted (lines 2-4: 2 INFO, 1 ERROR; 1 mention 'refused')", dropped)
    r = _one(FACT, f"INFO start\n{marker}", {key: dropped})
    assert r.category == "named" and r.marker_key == key


def test_a_plain_word_names_a_fact_only_when_the_question_asks_about_it():
    dropped = f"INFO a\n{FACT}\nINFO b"
    marker, key = make_marker("3 lines omitted (lines 2-4: pool x3)", dropped)
    assert _one(FACT, marker, {key: dropped}, question="Why were connections refused?").category == "lost"
    assert _one(FACT, marker, {key: dropped}, question="What happened to the pool?").category == "named"


def test_lost_when_the_marker_holding_it_does_not_name_it():
    dropped = f"INFO a\n{FACT}\nINFO b"
    marker, key = make_marker("3 lines omitted (lines 2-4)", dropped)
    r = _one(FACT, f"INFO start\n{marker}", {key: dropped})
    assert r.category == "lost" and r.in_unnamed_drop


def test_lost_when_no_marker_holds_it_or_the_marker_is_absent():
    dropped = f"INFO a\n{FACT}"
    marker, key = make_marker("2 lines omitted (lines 2-3: 1 mention 'refused')", dropped)
    assert _one(FACT, "INFO start", {key: dropped}).category == "lost"  # marker not in the output
    assert _one(FACT, f"INFO start\n{marker}", {}).category == "lost"  # nothing stored under it
    other, okey = make_marker("1 line omitted (line 2: 1 mention 'refused')", "INFO refused elsewhere")
    r = _one(FACT, f"INFO start\n{other}", {okey: "INFO refused elsewhere"})
    assert r.category == "lost" and not r.in_unnamed_drop


def test_the_markers_own_counts_and_ranges_name_nothing():
    fact = "row 30000 failed"
    dropped = "\n".join(f"row {i} ok" for i in range(29998, 30000)) + "\n" + fact
    marker, key = make_marker("30000 lines omitted (lines 2-30000)", dropped)
    assert _one(fact, marker, {key: dropped}).category == "lost"
    assert "30000" not in summary_tokens("30000 lines omitted (lines 2-30000)")
    assert "30000" in summary_tokens("lines 2-4: 1 mention '30000'")


def test_naming_tokens():
    fact = 'def _retry_policy(self, RetryPolicy, v2, 7, 42, 404, "with", "lines", "socket", "timeout")'
    toks = naming_tokens(fact, question="Which sockets time out?")
    assert {"_retry_policy", "retrypolicy", "v2", "404", "socket"} <= toks
    assert not {"def", "self", "7", "42", "with", "lines", "timeout"} & toks
    # The name a definition defines is an identifier, whatever its letters and the question's words.
    assert {"redirect"} <= naming_tokens("877:    def redirect(", question="Which method sends a 3xx?")
    assert "redirect" not in naming_tokens("877:    return redirect(url)", question="Which method sends a 3xx?")


def test_a_json_fact_matches_its_compact_form():
    assert _one('"draft": false', '{"tag_name":"v1.0.0","draft":false}', {}).category == "verbatim"
    assert _one('"draft": false', '{"draft":true}', {}).category == "lost"


def test_a_later_turn_fact_is_labelled():
    (r,) = classify(["x1 y2"], "x1 y2", {}, turn="later", question="x1?")
    assert r.turn == "later" and r.category == "verbatim"


def test_a_pretty_printed_json_fact_matches_the_compact_document():
    fact = '"enum": [\n    "array",\n    "boolean"\n]'
    assert _one(fact, '{"simpleTypes":{"enum":["array","boolean"]}}', {}).category == "verbatim"
    assert _one(fact, '{"simpleTypes":{"enum":["array"]},"x":"boolean"}', {}).category == "lost"
