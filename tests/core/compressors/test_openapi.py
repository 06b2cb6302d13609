"""OpenAPI/Swagger in JSON, on a real document: every path and method with its summary kept, the schema
the question names kept whole, the others folded under markers that say their properties truly, and the
document still JSON of the same shape (each marker's drop merges back to the original).

Sample: tests/golden/inputs/k8s_openapi_v2.json, kube-openapi's test/integration/testdata/aggregator/openapi-2.json
(the Kubernetes apiextensions API, Swagger 2.0; Debian's golang-k8s-kube-openapi-dev sources).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from headroom.core.compressors import Context, compress_text, detect
from headroom.core.compressors.openapi import compress_openapi
from headroom.core.markers import JSON_MARKER_FIELD, find_markers

INPUTS = Path(__file__).resolve().parents[2] / "golden" / "inputs"
TEXT = (INPUTS / "k8s_openapi_v2.json").read_text(encoding="utf-8")
DOC = json.loads(TEXT)


def _restore(out: dict, drops: dict[str, str]) -> dict:
    doc = json.loads(json.dumps(out))
    for name, body in doc["definitions"].items():
        if isinstance(body, dict) and set(body) == {JSON_MARKER_FIELD}:
            doc["definitions"][name] = json.loads(drops[find_markers(body[JSON_MARKER_FIELD])[0].key])
    for p, item in doc["paths"].items():
        if JSON_MARKER_FIELD in item:
            rest = json.loads(drops[find_markers(item.pop(JSON_MARKER_FIELD))[0].key])
            for m, v in rest.items():
                item[m] = {**item.get(m, {}), **v} if isinstance(v, dict) and m in item else v
    return doc


def _canon(v):
    return json.dumps(v, sort_keys=True)


def test_detected_and_the_asked_schema_kept_whole_with_every_path_and_method():
    assert detect(TEXT) == "openapi"
    r = compress_text(TEXT, Context(query="Which fields does the OwnerReference schema have?"))
    assert r.compressor == "openapi" and r.drops
    out = json.loads(r.text)
    name = "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"
    assert out["definitions"][name] == DOC["definitions"][name]
    assert list(out["paths"]) == list(DOC["paths"])
    for p, item in DOC["paths"].items():
        for m, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                assert out["paths"][p][m]["operationId"] == op["operationId"]
    assert out["info"] == DOC["info"]
    assert _canon(_restore(out, dict(r.drops))) == _canon(DOC)
    assert len(r.text) < len(TEXT) / 3


def test_schema_markers_say_their_properties_truly():
    r = compress_openapi(TEXT, Context(query="What endpoints does the API have?"))
    out = json.loads(r.text)
    checked = 0
    for name, body in out["definitions"].items():
        if set(body) != {JSON_MARKER_FIELD}:
            continue
        mk = find_markers(body[JSON_MARKER_FIELD])[0]
        original = json.loads(r.drops[mk.key])
        assert original == DOC["definitions"][name]
        if m := re.search(r"(\d+) properties: ([^;)]*)", mk.summary):
            props = list(original["properties"])
            assert int(m.group(1)) == len(props)
            shown = m.group(2).split(" and ")[0].split(", ")
            assert shown == props[: len(shown)]
            checked += 1
    assert checked > 5


def test_an_asked_operation_keeps_its_body_and_the_schemas_it_refers_to():
    q = "What does watchApiextensionsV1beta1CustomResourceDefinitionList return?"
    r = compress_openapi(TEXT, Context(query=q))
    out = json.loads(r.text)
    p = "/apis/apiextensions.k8s.io/v1beta1/watch/customresourcedefinitions"
    assert out["paths"][p] == DOC["paths"][p]
    ref = DOC["paths"][p]["get"]["responses"]["200"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert out["definitions"][ref] == DOC["definitions"][ref]
    assert compress_text(r.text, Context(query=q)).text == r.text
