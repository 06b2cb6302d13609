"""JSON: valid JSON of the same schema, the items the question names kept, the rest as marker items."""
from __future__ import annotations

import json
from pathlib import Path

from headroom.core.compressors import Context
from headroom.core.compressors.json import compress_json
from headroom.core.markers import JSON_MARKER_FIELD, MARKER_RE

from .helpers import expand_json


def _issues():
    return [{"number": n, "title": f"Issue about {'login' if n == 4242 else 'widgets'} {n}", "state": "open",
             "labels": [{"name": "bug", "color": "d73a4a"}], "url": f"https://api.example.com/issues/{n}"}
            for n in range(4200, 4300)]


def test_array_of_objects_keeps_named_items_and_folds_runs():
    doc = _issues()
    r = compress_json(json.dumps(doc, indent=2), Context(query="What is the state of issue 4242 about login?"))
    out = json.loads(r.text)
    numbers = [x.get("number") for x in out if "number" in x]
    assert 4242 in numbers and numbers[0] == 4200 and numbers[-1] == 4299
    markers = [x for x in out if JSON_MARKER_FIELD in x]
    assert markers and all(list(m) == [JSON_MARKER_FIELD] and MARKER_RE.fullmatch(m[JSON_MARKER_FIELD]) for m in markers)
    assert "items 2-42 of 100" in markers[0][JSON_MARKER_FIELD]
    assert expand_json(out, dict(r.drops)) == doc


def test_map_of_versions_keeps_the_asked_keys():
    doc = {"name": "pkg", "time": {f"1.{i}.0": f"2020-01-{1 + i % 28:02d}T00:00:00Z" for i in range(300)},
           "versions": [f"1.{i}.0" for i in range(300)]}
    r = compress_json(json.dumps(doc), Context(query="When was 1.137.0 published?"))
    out = json.loads(r.text)
    assert out["time"]["1.137.0"] == doc["time"]["1.137.0"]
    assert JSON_MARKER_FIELD in out["time"] and "entries omitted" in out["time"][JSON_MARKER_FIELD]
    assert "1.137.0" in out["versions"] and any(MARKER_RE.fullmatch(v) for v in out["versions"])
    assert expand_json(out, dict(r.drops)) == doc


def test_small_arrays_and_records_are_left_whole():
    doc = {"id": 1, "tags": ["a", "b", "c"], "owner": {"login": "x", "id": 2}}
    r = compress_json(json.dumps(doc, indent=4), Context(query="owner"))
    assert json.loads(r.text) == doc and not r.drops


# Real outputs (tests/golden/inputs/):
# eslint_node_modules.json: `eslint -f json` (eslint 9, rules no-var: warn, no-undef: error) over the JavaScript
#   of 26 packages in an npm install of eslint's own dependencies (cross-spawn, deep-is, fast-levenshtein, ...).
# npm_query_eslint_deps.json: `npm query '*'` in that npm project (82 packages).
INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"


def _eslint():
    return (INPUTS / "eslint_node_modules.json").read_text(encoding="utf-8")


def _names_kept(out: list, key: str) -> set:
    return {x[key] for x in out if isinstance(x, dict) and key in x}


def test_items_with_rare_values_are_kept_without_a_question():
    text = _eslint()
    doc = json.loads(text)
    r = compress_json(text, Context(query=""))
    out = json.loads(r.text)
    failing = {x["filePath"] for x in doc if x["errorCount"]}
    assert failing and failing <= _names_kept(out, "filePath")
    assert len(r.text) < len(text) / 5
    assert expand_json(out, dict(r.drops)) == doc


def test_negation_keeps_the_complement_not_the_named_value():
    text = (INPUTS / "npm_query_eslint_deps.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    r = compress_json(text, Context(query="Which packages are not MIT licensed?"))
    out = json.loads(r.text)
    others = {x["name"] for x in doc if x.get("license") != "MIT"}
    assert others <= _names_kept(out, "name")
    mit_kept = {x["name"] for x in out if isinstance(x, dict) and x.get("license") == "MIT"}
    assert len(mit_kept) <= 4  # the first, the last and the odd one: not the MIT packages the question excluded
    assert expand_json(out, dict(r.drops)) == doc


def test_numeric_condition_on_a_named_field():
    text = _eslint()
    doc = json.loads(text)
    r = compress_json(text, Context(query="Which files have more than 10 warnings?"))
    out = json.loads(r.text)
    many = {x["filePath"] for x in doc if x["warningCount"] > 10}
    assert many and many <= _names_kept(out, "filePath")


def test_extreme_keeps_the_top_item_by_the_named_field():
    text = _eslint()
    doc = json.loads(text)
    r = compress_json(text, Context(query="Which file has the most warnings?"))
    out = json.loads(r.text)
    top = max(doc, key=lambda x: x["warningCount"])["filePath"]
    assert top in _names_kept(out, "filePath")


def test_an_id_selects_the_item_whose_field_is_named_after_it():
    text = _eslint()
    doc = json.loads(text)
    lev = next(x for x in doc if x["filePath"].endswith("levenshtein.js"))
    line = lev["messages"][9]["line"]
    r = compress_json(text, Context(query=f"What is wrong on line {line} of levenshtein.js?"))
    out = json.loads(r.text)
    kept = next(x for x in out if isinstance(x, dict) and x.get("filePath", "").endswith("levenshtein.js"))
    assert any(isinstance(m, dict) and m.get("line") == line for m in kept["messages"])


def test_markers_never_count_a_field_name_as_a_value():
    text = _eslint()
    r = compress_json(text, Context(query="Which files have lint errors?"))
    # Every item has an `errorCount` field: "0 mention 'errors'" would read as "no errors here".
    assert "mention 'errors'" not in r.text


def test_nested_lists_of_objects_are_compared_by_a_sibling_field():
    from headroom.core.compressors.select import flatten

    lev = next(x for x in json.loads(_eslint()) if x["filePath"].endswith("levenshtein.js"))
    flat = flatten(lev)
    assert flat["messages[ruleId=no-undef].severity"] == 2 and flat["messages[ruleId=no-var].severity"] == 1
