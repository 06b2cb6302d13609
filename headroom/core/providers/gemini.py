"""Gemini generateContent / streamGenerateContent (AI Studio, Vertex, Cloud Code Assist wrappers):
tool outputs are `functionResponse` parts, whose `response` is an object.

String fields of the response that carry the output ("output", "content", "result", ...) are compressed
as text; a response with no such field but a large JSON body is compressed as JSON and put back as an
object (the JSON compressors keep documents valid JSON in the same schema).
"""
from __future__ import annotations

import json
import re

from headroom.core.providers import Questions, Unit, args_json, clip_query

__all__ = ["OUTPUT_FIELDS", "find_units", "model_of"]

OUTPUT_FIELDS = ("output", "content", "result", "stdout", "stderr", "text", "data", "error")
WHOLE_JSON_MIN_CHARS = 1024  # below this a response object is not worth re-serialising
_MODEL_IN_PATH = re.compile(r"/models/([^/:]+):")


def model_of(body: dict, path: str = "") -> str | None:
    m = _MODEL_IN_PATH.search(path or "")
    if m:
        return m.group(1)
    model = body.get("model")
    return model.rsplit("/", 1)[-1] if isinstance(model, str) else None


def _decode_object(text: str):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def find_units(body: dict) -> list[Unit]:
    base: tuple = ()
    contents = body.get("contents")
    if not isinstance(contents, list) and isinstance(body.get("request"), dict):
        base = ("request",)  # Cloud Code Assist wraps the generateContent request
        contents = body["request"].get("contents")
    if not isinstance(contents, list):
        return []
    q = Questions()
    calls: dict[str, str] = {}  # function name -> arguments of its latest call (Gemini pairs them by name)
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            continue
        texts = []
        for j, part in enumerate(parts):
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str) and not part.get("thought"):
                texts.append(part["text"])
            fc = part.get("functionCall")
            if isinstance(fc, dict) and isinstance(fc.get("name"), str):
                calls[fc["name"]] = args_json(fc.get("args"))
            fr = part.get("functionResponse")
            if not isinstance(fr, dict) or not isinstance(fr.get("response"), dict):
                continue
            name = fr.get("name") if isinstance(fr.get("name"), str) else None
            response = fr["response"]
            path = (*base, "contents", i, "parts", j, "functionResponse", "response")
            fields = [k for k in OUTPUT_FIELDS if isinstance(response.get(k), str) and response[k]]
            is_error = "error" in response and "output" not in response
            args = calls.get(name or "", "")
            if fields:
                for k in fields:
                    q.unit((*path, k), response[k], name, q.current, is_error, tool_args=args)
            else:
                whole = json.dumps(response, ensure_ascii=False, separators=(",", ":"))  # as it goes on the wire
                if len(whole) >= WHOLE_JSON_MIN_CHARS:
                    q.unit(path, whole, name, q.current, is_error, decode=_decode_object, tool_args=args)
        if isinstance(content, dict) and content.get("role", "user") == "user" and texts:
            q.ask(clip_query("\n".join(texts)))
    return q.finish()
