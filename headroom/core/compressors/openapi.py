"""OpenAPI / Swagger and JSON Schema documents in JSON: the info, every path with its methods and
summaries, and the schemas and operations the question names kept whole; other bodies folded, each
under a marker that names what it holds.

The document stays valid JSON of the same shape: an operation the question is not about keeps its
`summary`/`operationId`/`tags` and gets one `"_headroom"` entry for the rest (its parameters and
responses), and a schema the question is not about becomes `{"_headroom": marker}` under its own name,
the marker saying its type and properties. Schemas an asked operation or schema refers to (`$ref`)
are kept whole too, so the answer reads without a retrieval.
"""
from __future__ import annotations

import json
from typing import Any

from headroom.core.compressors.base import Compressed, Context
from headroom.core.compressors.query import Query, parse_query, split_identifier
from headroom.core.markers import JSON_MARKER_FIELD, make_marker

__all__ = ["compress_openapi", "looks_like_openapi"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_OP_KEPT = ("summary", "operationId", "tags", "deprecated")
MIN_SCHEMAS = 8  # a schema document with fewer definitions is read whole
REF_DEPTH = 2  # schemas an asked schema or operation refers to, and theirs, are kept whole
NAMES_IN_MARKER = 8
MIN_BODY_CHARS = 160
SUMMARY_CHARS = 200  # an operation's description this short is its summary  # a body this short is cheaper than its marker


def _container(doc: dict) -> tuple[list[str], dict] | None:
    """The path to the schema definitions and the definitions: components.schemas, definitions, $defs."""
    comps = doc.get("components")
    if isinstance(comps, dict) and isinstance(comps.get("schemas"), dict):
        return ["components", "schemas"], comps["schemas"]
    for key in ("definitions", "$defs"):
        if isinstance(doc.get(key), dict):
            return [key], doc[key]
    return None


def looks_like_openapi(doc: Any) -> bool:
    """An OpenAPI/Swagger document (a version and paths) or a JSON Schema with many definitions."""
    if not isinstance(doc, dict):
        return False
    if ("openapi" in doc or "swagger" in doc) and isinstance(doc.get("paths"), dict):
        return True
    found = _container(doc)
    return found is not None and ("$schema" in doc or "$id" in doc) and len(found[1]) >= MIN_SCHEMAS


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _refs(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and "/" in ref:
            out.add(ref.rsplit("/", 1)[1])
        for v in value.values():
            _refs(v, out)
    elif isinstance(value, list):
        for v in value:
            _refs(v, out)


def _names(query: Query, name: str) -> bool:
    """Does the question name this schema or operation: as an identifier, or by every word of its own
    name (the last dotted part: `io.k8s.api.core.v1.PodSpec` is named by "pod spec")?"""
    short = name.rsplit(".", 1)[-1]
    if not short:
        return False
    if short.lower() in query.strong:
        return True
    parts = {p for p in split_identifier(short) if len(p) >= 3 and not p.isdigit()}
    return bool(parts) and all(query.word_hits(p) for p in parts)


def _describe_schema(name: str, body: Any) -> str:
    name = name.rsplit(".", 1)[-1]  # the entry's key says the rest
    if not isinstance(body, dict):
        return f"schema {name} omitted"
    what = [body["type"]] if isinstance(body.get("type"), str) else []
    props = list(body["properties"]) if isinstance(body.get("properties"), dict) else []
    if props:
        shown = ", ".join(props[:NAMES_IN_MARKER]) + (f" and {len(props) - NAMES_IN_MARKER} more" if len(props) > NAMES_IN_MARKER else "")
        what.append(f"{len(props)} properties: {shown}")
    if isinstance(body.get("required"), list) and body["required"]:
        what.append(f"{len(body['required'])} required")
    return f"schema {name} omitted" + (f" ({'; '.join(what)})" if what else "")


def compress_openapi(text: str, ctx: Context) -> Compressed:
    doc = json.loads(text)
    if not looks_like_openapi(doc):
        raise ValueError("not an OpenAPI or JSON Schema document")
    query = parse_query(ctx.query)
    drops: dict[str, str] = {}

    def marker(summary: str, dropped: Any) -> str:
        raw = _dumps(dropped)
        m, key = make_marker(summary, raw)
        drops[key] = raw
        return m

    found = _container(doc)
    schemas = found[1] if found else {}
    asked_schemas = {n for n in schemas if query and _names(query, n)}
    paths = doc.get("paths") if isinstance(doc.get("paths"), dict) else {}
    asked_ops: set[tuple[str, str]] = set()
    for p, item in paths.items():
        if not isinstance(item, dict):
            continue
        for m, op in item.items():
            if m in _METHODS and isinstance(op, dict) and query:
                label = " ".join(str(op.get(k, "")) for k in ("operationId", "summary"))
                if query.strong_hits(p) or _names(query, str(op.get("operationId", ""))) or query.strong_hits(label):
                    asked_ops.add((p, m))
    # Schemas the asked operations and schemas refer to are part of the answer.
    wanted = set(asked_schemas)
    frontier: set[str] = set()
    for p, m in asked_ops:
        _refs(paths[p][m], frontier)
    for n in asked_schemas:
        _refs(schemas.get(n), frontier)
    for _ in range(REF_DEPTH):
        new = {n for n in frontier if n in schemas} - wanted
        wanted |= new
        frontier = set()
        for n in new:
            _refs(schemas[n], frontier)

    out = dict(doc)
    if paths:
        new_paths = {}
        for p, item in paths.items():
            if not isinstance(item, dict):
                new_paths[p] = item
                continue
            kept_item: dict[str, Any] = {}
            rest: dict[str, Any] = {}
            for m, op in item.items():
                is_op = m in _METHODS and isinstance(op, dict)
                if is_op and (p, m) not in asked_ops:
                    shown = [k for k in _OP_KEPT if k in op]
                    if "summary" not in op and isinstance(op.get("description"), str) and len(op["description"]) <= SUMMARY_CHARS:
                        shown.append("description")  # Swagger 2 APIs often say it there
                    kept_item[m] = {k: op[k] for k in op if k in shown}
                    extra = {k: v for k, v in op.items() if k not in shown}
                    if extra:
                        rest[m] = extra
                elif is_op or any((p, mm) in asked_ops for mm in item):
                    kept_item[m] = op
                else:
                    rest[m] = op  # path-level parameters of a path the question is not about
            if rest and len(_dumps(rest)) >= MIN_BODY_CHARS:
                what = sorted({k for v in rest.values() if isinstance(v, dict) for k in v} | {k for k in rest if k not in _METHODS})
                methods = [m.upper() for m in rest if m in _METHODS]
                kept_item[JSON_MARKER_FIELD] = marker(
                    f"{', '.join(what[:NAMES_IN_MARKER])} of {p} {'/'.join(methods)} omitted".replace("  ", " "), rest)
                # Kept in the path's own order: the operations first, the marker after them.
                new_paths[p] = kept_item
            else:
                new_paths[p] = item
        out["paths"] = new_paths
    if found and len(schemas) >= MIN_SCHEMAS:
        new_schemas = {}
        for n, body in schemas.items():
            if n in wanted or len(_dumps(body)) < MIN_BODY_CHARS:
                new_schemas[n] = body
            else:
                new_schemas[n] = {JSON_MARKER_FIELD: marker(_describe_schema(n, body), body)}
        target = out
        for k in found[0][:-1]:
            target[k] = dict(target[k])
            target = target[k]
        target[found[0][-1]] = new_schemas
    if not drops:
        return Compressed(text, "openapi", "openapi")
    return Compressed(_dumps(out), "openapi", "openapi", drops)
