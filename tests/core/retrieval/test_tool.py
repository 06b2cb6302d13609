"""The headroom_retrieve tool: definitions per provider, adding it once, answering calls."""
from __future__ import annotations

import json

import pytest

from headroom.core.markers import key_for
from headroom.core.providers import PROVIDERS
from headroom.core.retrieval import tool


@pytest.mark.parametrize("provider", PROVIDERS)
def test_added_after_client_tools_once(provider):
    client_tool = {"openai_chat": {"type": "function", "function": {"name": "bash", "parameters": {}}},
                   "openai_responses": {"type": "function", "name": "bash", "parameters": {}},
                   "anthropic": {"name": "bash", "input_schema": {}},
                   "gemini": {"functionDeclarations": [{"name": "bash"}]},
                   "code_assist": {"functionDeclarations": [{"name": "bash"}]}}[provider]
    body = {"tools": [client_tool]}
    request = body
    if provider == "code_assist":  # the tools are the wrapped request's
        body = {"model": "m", "request": request}
    assert tool.add_tool(provider, body) is True
    assert request["tools"][0] == client_tool and len(request["tools"]) == 2
    assert tool.client_has_tool(provider, body)
    assert tool.add_tool(provider, body) is False
    assert len(request["tools"]) == 2
    assert "headroom_retrieve" in json.dumps(request["tools"][1])
    assert "key" in json.dumps(request["tools"][1])


def test_not_added_when_client_has_a_tool_of_that_name():
    body = {"tools": [{"name": "headroom_retrieve", "input_schema": {"type": "object"}}]}
    assert tool.add_tool("anthropic", body) is False
    assert body == {"tools": [{"name": "headroom_retrieve", "input_schema": {"type": "object"}}]}


def test_added_to_a_body_without_tools():
    body = {"messages": []}
    assert tool.add_tool("openai_chat", body)
    assert body["tools"][0]["function"]["name"] == "headroom_retrieve"


def test_unknown_provider_is_a_clear_error():
    with pytest.raises(ValueError, match="known: openai_chat"):
        tool.tool_definition("cohere")


ORIGINAL = "".join(f"line {i} {'ERROR' if i % 10 == 0 else 'ok'}\n" for i in range(1, 101))
KEY = key_for(ORIGINAL)


def get(key):
    return ORIGINAL if key == KEY else None


def test_answer_is_the_exact_original():
    assert tool.answer_call(json.dumps({"key": KEY}), get) == ORIGINAL


def test_answer_forgives_uppercase_and_pasted_marker():
    assert tool.answer_call({"key": KEY.upper()}, get) == ORIGINAL
    assert tool.answer_call({"key": f"[headroom: 100 lines omitted; headroom_retrieve key={KEY}]"}, get) == ORIGINAL


def test_line_range_and_grep():
    assert tool.answer_call({"key": KEY, "lines": "3-5"}, get) == "line 3 ok\nline 4 ok\nline 5 ok\n"
    assert tool.answer_call({"key": KEY, "lines": "99..200"}, get) == "line 99 ok\nline 100 ERROR\n"
    assert tool.answer_call({"key": KEY, "grep": "ERROR", "lines": "1-30"}, get) == (
        "10: line 10 ERROR\n20: line 20 ERROR\n30: line 30 ERROR\n")
    assert "no line" in tool.answer_call({"key": KEY, "grep": "panic"}, get)
    assert "past the end" in tool.answer_call({"key": KEY, "lines": "500-600"}, get)
    assert "must look like" in tool.answer_call({"key": KEY, "lines": "first ten"}, get)


def test_unknown_or_expired_key_says_so_plainly():
    text = tool.answer_call({"key": "0123456789abcdef"}, get, ttl_seconds=7 * 86400)
    assert "nothing is stored under key 0123456789abcdef" in text and "7 days" in text


@pytest.mark.parametrize("args", ["{not json", "[]", json.dumps({"other": 1}), ""])
def test_bad_arguments_get_a_sentence_not_an_exception(args):
    assert tool.answer_call(args, get).startswith("headroom_retrieve: ")


def test_the_definition_itself_carries_no_marker():
    from headroom.core.markers import find_markers

    for provider in PROVIDERS:
        assert find_markers(json.dumps(tool.tool_definition(provider))) == []


def test_a_pasted_marker_gives_its_key_not_a_number_of_its_summary():
    from headroom.core.markers import make_marker

    marker, key = make_marker("12345678901234567890123 lines omitted (lines 1-3)", "abc")
    assert tool.parse_arguments({"key": marker})[0] == key
    assert tool.parse_arguments({"key": "3FA9C0E1D2B4A6F8"})[0] == "3fa9c0e1d2b4a6f8"  # the earlier grammar's
