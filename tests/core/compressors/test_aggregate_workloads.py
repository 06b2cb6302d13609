"""Aggregate and negative questions (tests/core/compressors/aggregate.py): every fact an answer needs is
kept verbatim or sits in a marker that says it holds matches (a non-zero count of what was asked);
markers holding none of the facts never claim matches; every marker says what kinds of content it
holds; and what is kept is still a real saving."""
from __future__ import annotations

import json
import re

import pytest

from headroom.core import tokens
from headroom.core.compressors import Context, compress_text, detect
from headroom.core.markers import find_markers

from .aggregate import Aggregate, aggregate_workloads
from .helpers import check_line_markers, expand_json, expand_lines

WORKLOADS = aggregate_workloads()


@pytest.fixture(scope="module")
def results():
    return {w.id: compress_text(w.text, Context(query=w.question)) for w in WORKLOADS}


def _summaries(text: str) -> list[tuple[str, str]]:
    return [(m.summary, m.key) for m in find_markers(text)]


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_detected(w: Aggregate):
    assert detect(w.text) == w.kind


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_every_fact_kept_or_announced(w: Aggregate, results):
    r = results[w.id]
    assert w.facts, "a workload without facts tests nothing"
    drops = dict(r.drops)
    announced = 0
    for summary, key in _summaries(r.text):
        held = sum(drops[key].count(f) for f in w.facts) if key in drops else 0
        m = re.search(w.signal, summary)
        said = int(m.group("n")) if m else 0
        if held:
            # The marker says it holds matches, and how many (at least as many as the facts it holds).
            assert said >= 1, f"{w.id}: a marker hides {held} fact(s) silently: {summary}"
            announced += held
        else:
            assert said == 0, f"{w.id}: a marker claims matches it does not hold: {summary}"
    kept = sum(1 for f in w.facts if f in r.text)
    assert kept + announced >= len(w.facts), f"{w.id}: {len(w.facts) - kept - announced} fact(s) lost"


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_markers_describe_their_content_and_savings(w: Aggregate, results):
    r = results[w.id]
    assert r.drops, f"{w.id}: nothing dropped"
    for summary, _ in _summaries(r.text):
        assert re.search(w.describe, summary), f"{w.id}: marker does not say what it holds: {summary}"
    before, after = tokens.count(w.text, "o200k_base"), tokens.count(r.text, "o200k_base")
    assert 1 - after / before >= w.min_saved, f"{w.id}: saved {1 - after / before:.1%} < {w.min_saved:.0%}"


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_reversible_and_markers_exact(w: Aggregate, results):
    r = results[w.id]
    if r.content_type == "json":
        assert expand_json(json.loads(r.text), dict(r.drops)) == json.loads(w.text)
    else:
        check_line_markers(w.text, r.text, dict(r.drops))
        assert expand_lines(r.text, dict(r.drops)) == w.text


def test_few_matches_are_all_kept(results):
    """A value that singles out few items (4% of accounts suspended, 9 errors, 14 5xx lines, 6 failing
    pods, 7 failed tests, 8 calls of a helper) is answered from the kept text alone: no retrieval needed."""
    for wid in ("accounts_suspended_few", "log_errors_besides", "access_5xx", "pods_failing", "pytest_which_failed",
                "code_callers"):
        w = next(x for x in WORKLOADS if x.id == wid)
        missing = [f for f in w.facts if f not in results[wid].text]
        assert not missing, f"{wid}: {missing[:3]}"


def test_many_matches_are_counted_exactly(results):
    """When too many items match to keep them all, the markers' counts plus the kept items add up to
    the true number: the model can say how many and knows where to retrieve the rest."""
    w = next(x for x in WORKLOADS if x.id == "accounts_suspended_many")
    r = results[w.id]
    counted = sum(int(m.group(1)) for s, _ in _summaries(r.text) for m in re.finditer(r"suspended x(\d+)", s))
    kept = sum(1 for item in json.loads(r.text)["data"] if item.get("status") == "suspended")
    assert counted + kept == len(w.facts)


def test_build_log_with_varying_word_folds(results):
    """`Compiling <crate> v<version>` x340 is one kind of line: folded, its warnings and errors kept."""
    w = next(x for x in WORKLOADS if x.id == "cargo_warnings")
    r = results[w.id]
    assert all(f in r.text for f in w.facts)
    assert any("x '" in s and "Compiling" in s for s, _ in _summaries(r.text))


def test_grep_over_many_files_is_grouped_by_directory(results):
    w = next(x for x in WORKLOADS if x.id == "grep_many_files")
    r = results[w.id]
    summaries = [s for s, _ in _summaries(r.text)]
    assert any(" files under " in s for s in summaries), summaries[:5]


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_every_marker_costs_less_than_what_it_replaces(w: Aggregate, results):
    r = results[w.id]
    for m in find_markers(r.text):
        assert tokens.count(r.text[m.start:m.end]) < tokens.count(r.drops[m.key]), m.summary


def test_a_word_varying_among_lines_of_one_shape_is_masked():
    from headroom.core.compressors.logs import kinds_of, template

    # A build compiles each crate once: every line is its own template until the crate name is masked.
    names = ["serde", "tokio", "libc", "syn", "quote", "rand", "regex", "log", "bytes", "mio", "itoa", "ryu",
             "memchr", "cfg-if", "anyhow", "thiserror", "clap", "futures", "hashbrown", "once_cell"]
    lines = [f"   Compiling {name} v1.{k}.0" for k, name in enumerate(names)]
    lines += ["warning: unused import", "error[E0433]: failed to resolve"]
    kinds = kinds_of([template(ln) for ln in lines])
    assert len(set(kinds[:20])) == 1  # one kind, the crate name masked
    assert kinds[20] != kinds[0] and kinds[21] != kinds[20]  # the odd lines stay their own kinds


def test_status_class_matches_statuses_not_other_numbers():
    from headroom.core.compressors import facets
    from headroom.core.compressors.query import parse_query

    texts = ['"GET /a HTTP/1.1" 503 512', '"GET /b HTTP/1.1" 200 503', "status=502 took 12ms", '{"status": 504}',
             "took 503ms", "port 5030", "retrying in 500 ms"] + ["noise"] * 10
    terms = facets.informative_terms(parse_query("which requests returned 5xx?"), [t.lower() for t in texts])
    assert terms["5xx"] == {0, 2, 3}
