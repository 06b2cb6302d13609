"""Invariants of every compressor, as properties: reversible, line-granular, markers that tell the truth,
valid JSON of the same schema, deterministic, idempotent."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headroom.core.compressors import Context, compress_text
from headroom.core.compressors.code import compress_code
from headroom.core.compressors.diff import compress_diff
from headroom.core.compressors.json import compress_json
from headroom.core.compressors.logs import compress_logs
from headroom.core.compressors.search import compress_search
from headroom.core.compressors.tables import compress_table
from headroom.core.compressors.text import compress_text_doc
from headroom.core.markers import JSON_MARKER_FIELD, MARKER_RE, find_markers

from .helpers import check_line_markers, expand_json, expand_lines, kept_lines_are_input_lines

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

levels = st.sampled_from(["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"])
words = st.text(alphabet="abcdefghij_ ./", min_size=1, max_size=12)
log_line = st.builds(
    lambda t, lvl, comp, msg, n: f"2024-05-{1 + t % 28:02d} 10:{t % 60:02d}:{n % 60:02d} {lvl} {comp}: {msg} {n}",
    st.integers(0, 10_000), levels, st.sampled_from(["db.Pool", "http.Server", "auth"]), words,
    st.integers(0, 99_999),
)
logs = st.lists(log_line, min_size=30, max_size=300).map("\n".join)
queries = st.sampled_from(["", "why did auth fail?", "what does db.Pool log", "errors 4242"])


@SETTINGS
@given(logs, queries)
def test_logs_reversible_line_granular_and_markers_exact(text, query):
    r = compress_logs(text, Context(query=query))
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


# Code-shaped text: functions with bodies of varying size, some named after the query.
def _code(names_and_sizes):
    out = ["import os", "", "X = 1", ""]
    for name, size in names_and_sizes:
        out.append(f"def {name}(a, b):")
        out.append(f'    """Do {name}."""')
        out += [f"    v{k} = a + {k}  # step {k} of {name}" for k in range(size)]
        out += ["    return v0", ""]
    return "\n".join(out)


code = st.lists(st.tuples(st.sampled_from(["load", "save_file", "parse_header", "retry_send", "close"]),
                          st.integers(0, 30)), min_size=1, max_size=12).map(_code)


@SETTINGS
@given(code, queries)
def test_code_reversible_and_markers_exact(text, query):
    r = compress_code(text, Context(query=query))
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


@pytest.mark.parametrize("fn,text", [
    (compress_search, "\n".join(f"src/m{i % 7}.py:{i}:    timeout = {i % 3}" for i in range(200))),
    (compress_diff, "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,80 +1,81 @@\n"
     + "\n".join(f" ctx line {i} with some words to make it long" for i in range(40)) + "\n+added\n"
     + "\n".join(f" ctx line {i} with some words to make it long" for i in range(40, 80))),
    (compress_table, "id,name,value\n" + "\n".join(f"{i},item{i},{i * 3}" for i in range(300))),
    (compress_text_doc, "# Title\nIntro.\n" + "\n".join(
        f"## Section {i}\nFirst line of {i}.\n" + "\n".join(f"More text {i}.{k} about things." for k in range(12))
        for i in range(10))),
])
def test_line_compressors_reversible(fn, text):
    r = fn(text, Context(query="section 3 item42"))
    assert r.drops, "the sample is large enough that something is dropped"
    assert expand_lines(r.text, dict(r.drops)) == text
    kept_lines_are_input_lines(text, r.text)
    check_line_markers(text, r.text, dict(r.drops))


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=30),
        st.dictionaries(st.text(alphabet="abcdefxyz_", min_size=1, max_size=6), inner, max_size=25),
    ),
    max_leaves=200,
)
json_docs = st.one_of(st.lists(json_values, min_size=0, max_size=40), st.dictionaries(
    st.text(alphabet="abcdefxyz_", min_size=1, max_size=6), json_values, max_size=30))


def _same_schema(original, out):
    """`out` has `original`'s schema: same container kinds, keys a subset (plus the marker key), and each
    kept array item shaped like an item of the input array."""
    if isinstance(original, dict):
        assert isinstance(out, dict)
        for k, v in out.items():
            if k not in original:
                assert k.startswith(JSON_MARKER_FIELD) and MARKER_RE.fullmatch(v)
            else:
                _same_schema(original[k], v)
    elif isinstance(original, list):
        assert isinstance(out, list)
        for item in out:
            if (isinstance(item, str) and MARKER_RE.fullmatch(item)) or (
                    isinstance(item, dict) and list(item) == [JSON_MARKER_FIELD]):
                continue
            assert any(type(item) is type(o) for o in original)
    else:
        assert type(out) is type(original) or (isinstance(original, str) and isinstance(out, str))


@SETTINGS
@given(json_docs, queries)
def test_json_valid_same_schema_and_reversible(doc, query):
    text = json.dumps(doc, indent=2)
    r = compress_json(text, Context(query=query))
    out = json.loads(r.text)
    _same_schema(doc, out)
    assert expand_json(out, dict(r.drops)) == doc
    assert {mk.key for mk in find_markers(r.text)} == set(r.drops)


@SETTINGS
@given(st.one_of(logs, code, json_docs.map(lambda d: json.dumps(d, indent=1))), queries)
def test_router_deterministic_idempotent_never_empty(text, query):
    ctx = Context(query=query)
    first = compress_text(text, ctx)
    assert compress_text(text, ctx) == first
    assert compress_text(first.text, ctx).text == first.text
    assert first.text.strip() or not text.strip()
    for key in first.drops:
        assert key in first.text


def test_router_gates_small_outputs_and_errors(monkeypatch):
    small = "\n".join(f"2024-01-01 10:00:{i:02d} INFO tick {i}" for i in range(20))
    assert compress_text(small, Context()).text == small
    # HEADROOM_MIN_TOKENS=10, as the edge passes it
    big = "\n".join(f"2024-01-01 10:00:{i % 60:02d} INFO worker heartbeat ok seq={i}" for i in range(400))
    assert compress_text(big, Context(), floor=10).drops
    err = "Traceback (most recent call last):\n" + "\n".join(f'  File "m{i}.py", line {i}, in f{i}\n    call()' for i in range(60))
    assert compress_text(err, Context(), floor=10).text == err  # an error output under the size limit is read whole
    medium = "\n".join(big.split("\n")[:150])  # well over the floor, under ERROR_WHOLE_MAX_TOKENS
    assert compress_text(medium, Context(), floor=10).drops
    assert compress_text(medium, Context(is_error=True), floor=10).text == medium
    assert compress_text(big * 3, Context(is_error=True), floor=10).drops  # a huge error output is still folded


def test_unknown_content_type_lists_registered():
    from headroom.core.compressors import get

    with pytest.raises(KeyError, match="registered: .*json.*logs"):
        get("nope")


def test_pathological_inputs_fall_back_safely(monkeypatch):
    # HEADROOM_MIN_TOKENS=50, as the edge passes it
    deep = "[" * 100_000 + "]" * 100_000
    assert compress_text(deep, Context(), floor=50).text == deep  # too deep to parse: left as it is
    minified = "function a(){" + "var x=1;" * 200_000 + "}"
    r = compress_text(minified, Context(query="what does a do"), floor=50)
    assert r.text.strip()
    crlf = "\r\n".join(f"2024-01-01 10:00:{i % 60:02d} INFO svc: request {i} ok" for i in range(400)) + "\r\n"
    r = compress_text(crlf, Context(), floor=50)
    assert r.drops and expand_lines(r.text, dict(r.drops)) == crlf


line_texts = st.lists(
    st.one_of(st.text(max_size=60), log_line, st.sampled_from(["", "}", "def f(x):", "    return x", "## Heading",
                                                                 "```", "<script>", "a.py:3:x = 1", "@@ -1 +1 @@"])),
    min_size=1, max_size=200,
).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(line_texts, queries)
def test_any_text_compresses_without_error_and_reverses(monkeypatch, text, query):
    # HEADROOM_MIN_TOKENS=0, as the edge passes it
    r = compress_text(text, Context(query=query), floor=0)
    assert r.text.strip() or not text.strip()
    if r.drops and r.content_type != "json":
        assert expand_lines(r.text, dict(r.drops)) == text
