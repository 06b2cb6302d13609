"""JSON: valid JSON of the same schema, the items the question names kept, the rest as marker items."""
from __future__ import annotations

import json

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
