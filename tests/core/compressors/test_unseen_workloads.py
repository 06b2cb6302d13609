"""Unseen workloads (tests/core/compressors/unseen.py): each kind of tool output is detected as what it
is, keeps the facts its question needs (verbatim or inside a marker's drop), saves what a useful
compressor saves there (a no-op fails every floor above 0), and keeps every invariant."""
from __future__ import annotations

import json

import pytest

from headroom.core import tokens
from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.search import looks_like_search
from headroom.core.markers import find_markers

from .helpers import check_line_markers, expand_json, expand_lines, kept_lines_are_input_lines
from .unseen import Workload, all_workloads, log_workloads, table_workloads

WORKLOADS = all_workloads()


@pytest.fixture(scope="module")
def results():
    return {w.id: compress_text(w.text, Context(query=w.question)) for w in WORKLOADS}


def test_there_are_workloads_of_every_kind():
    kinds = {k for w in WORKLOADS for k in w.kind.split("|")}
    assert {"logs", "search", "text", "json", "code", "table"} <= kinds
    assert len(WORKLOADS) >= 15


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_detected_as_what_it_is(w: Workload):
    assert detect(w.text) in w.kind.split("|")


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_facts_kept_or_retrievable_and_savings(w: Workload, results):
    r = results[w.id]
    named = {m.key for m in find_markers(r.text)}
    assert set(r.drops) <= named | set(r.drops)  # sanity: drops are what markers name (checked exactly below)
    for fact in w.facts:
        assert fact in r.text or any(fact in r.drops[k] for k in named if k in r.drops), fact
    before, after = tokens.count(w.text, "o200k_base"), tokens.count(r.text, "o200k_base")
    assert after <= before
    assert 1 - after / before >= w.min_saved, f"{w.id}: saved {1 - after / before:.1%} < {w.min_saved:.0%}"


@pytest.mark.parametrize("w", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_invariants(w: Workload, results):
    r = results[w.id]
    if r.content_type == "json" and r.drops:
        assert expand_json(json.loads(r.text), dict(r.drops)) == json.loads(w.text)
    else:
        kept_lines_are_input_lines(w.text, r.text)
        if r.drops:
            check_line_markers(w.text, r.text, dict(r.drops))
            assert expand_lines(r.text, dict(r.drops)) == w.text
    # Deterministic and idempotent.
    assert compress_text(w.text, Context(query=w.question)) == r
    assert compress_text(r.text, Context(query=w.question)).text == r.text


@pytest.mark.parametrize("w", log_workloads(), ids=[w.id for w in log_workloads()])
def test_timestamped_logs_are_never_grep_output(w: Workload):
    assert not looks_like_search(w.text.split("\n"))
    assert detect(w.text) == "logs"


def test_grep_with_a_named_file_keeps_it_whole_and_one_marker_per_other_file(results):
    w = next(w for w in WORKLOADS if w.id == "grep_named_file")
    r = results[w.id]
    target = w.facts[0].split(":", 1)[0]
    assert all(f in r.text for f in w.facts)  # the named file: every match verbatim
    files = list(dict.fromkeys(ln.split(":", 1)[0] for ln in w.text.split("\n")))
    shown = r.text.split("\n")
    for f in files:  # every file that matched is still listed by its first match
        assert any(ln.startswith(f + ":") for ln in shown), f
    per_file: dict[str, int] = {}
    for m in find_markers(r.text):
        assert "more match" in m.summary and " in " in m.summary
        per_file[m.summary.split(" in ", 1)[1].split(" (", 1)[0]] = per_file.get(m.summary, 0) + 1
    assert target not in per_file
    assert all(n == 1 for n in per_file.values())


def test_grep_without_an_anchor_lists_every_file(results):
    w = next(w for w in WORKLOADS if w.id == "grep_no_anchor")
    r = results[w.id]
    assert all(f.rstrip(":") + ":" in r.text for f in w.facts)


def test_grep_pattern_in_every_match_is_not_an_anchor():
    # The searched-for text is in every match: it must not keep them all.
    lines = [f"pkg/mod{i // 12:02d}.py:{10 + i * 3}:    raise KeyError(f'missing {{name}} in slot {i}')" for i in range(240)]
    text = "\n".join(lines)
    r = compress_text(text, Context(query="Where do we `raise KeyError(`?"))
    assert tokens.count(r.text, "o200k_base") < 0.6 * tokens.count(text, "o200k_base")
    for m in range(20):
        assert f"pkg/mod{m:02d}.py:" in r.text


def test_tables_keep_header_and_odd_rows(results):
    for w in table_workloads():
        r = results[w.id]
        assert r.text.split("\n")[0] == w.text.split("\n")[0]


def test_repeated_doc_is_folded_once_with_its_source_named():
    import inspect
    import json as json_module

    doc = f"# json\n\n{inspect.getdoc(json_module)}\n\n" + "\n\n".join(
        f"## {name}\n\n{inspect.getdoc(getattr(json_module, name))}" for name in ("dump", "dumps", "load", "loads"))
    text = "\n".join([doc] * 3)
    r = compress_text(text, Context(query="Which keyword arguments does json.loads accept?"))
    assert tokens.count(r.text, "o200k_base") < 0.5 * tokens.count(text, "o200k_base")
    assert "exact repeat" in r.text
    assert r.text.count("## loads") == 1
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


def test_prose_under_an_upper_case_title_is_not_a_table():
    import inspect
    import textwrap

    body = textwrap.wrap(" ".join([inspect.getdoc(__import__("argparse")) or ""] * 2), 70)
    text = "                    GNU GENERAL PUBLIC LICENSE\n" + "\n".join(body)
    assert detect(text) == "text"


def test_a_version_in_a_path_is_not_a_log_date():
    from headroom.core.compressors.logs import looks_like_log

    lines = [f"/opt/versions/3.11.{i % 9}/lib/python3.11/pkg{i // 10}/mod{i}.py" for i in range(300)]
    assert not looks_like_log(lines)
    assert detect("\n".join(lines)) == "paths"
