"""Gemini: functionResponse parts; output string fields, or the whole response as JSON when large."""
from __future__ import annotations

import json

from headroom.core.providers.gemini import WHOLE_JSON_MIN_CHARS, find_units, model_of


def _body(response, wrapper=False):
    contents = [
        {"role": "user", "parts": [{"text": "what is in the logs?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "read_logs", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "read_logs", "response": response}}]},
    ]
    return {"model": "m", "request": {"contents": contents}} if wrapper else {"contents": contents}


def test_output_fields_are_units():
    units = find_units(_body({"output": "log text", "exit_code": 0, "stderr": "warn"}))
    assert [(u.location, u.tool_name, u.query, u.text) for u in units] == [
        ("contents[2].parts[0].functionResponse.response.output", "read_logs", "what is in the logs?", "log text"),
        ("contents[2].parts[0].functionResponse.response.stderr", "read_logs", "what is in the logs?", "warn"),
    ]


def test_a_large_structured_response_is_one_json_unit_decoded_back_to_an_object():
    response = {"rows": [{"id": i, "name": f"row {i}"} for i in range(100)]}
    (unit,) = find_units(_body(response))
    assert unit.location == "contents[2].parts[0].functionResponse.response"
    assert len(unit.text) >= WHOLE_JSON_MIN_CHARS and json.loads(unit.text) == response
    assert unit.decode('{"rows": []}') == {"rows": []}
    assert unit.decode("[1, 2]") is None and unit.decode("not json") is None


def test_a_small_structured_response_is_left_alone():
    assert find_units(_body({"rows": [1, 2, 3]})) == []


def test_cloud_code_assist_wrapper():
    (unit,) = find_units(_body({"result": "ok then"}, wrapper=True))
    assert unit.path[0] == "request"


def test_model_from_path_or_body():
    assert model_of({}, "/v1beta/models/gemini-2.5-flash:streamGenerateContent") == "gemini-2.5-flash"
    assert model_of({"model": "models/gemini-2.5-pro"}, "/v1internal:generateContent") == "gemini-2.5-pro"
