"""OpenAI Chat Completions: tool messages are the units; everything else is never a unit."""
from __future__ import annotations

from headroom.core.providers.openai_chat import PROVIDER, find_units

model_of = PROVIDER.model_of


def _call(cid, name):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": "{}"}}


BODY = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are terse. " * 50},
        {"role": "user", "content": "why is the build red?"},
        {"role": "assistant", "content": None, "tool_calls": [_call("c1", "bash"), _call("c2", "read_file")]},
        {"role": "tool", "tool_call_id": "c1", "content": "npm ERR! missing script"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "line one"},
                                                          {"type": "image_url", "image_url": {"url": "data:x"}}]},
        {"role": "user", "content": [{"type": "text", "text": "and now the tests?"}]},
        {"role": "assistant", "content": "running", "tool_calls": [_call("c3", "bash")]},
        {"role": "tool", "tool_call_id": "c3", "content": "3 failed"},
        {"role": "tool", "tool_call_id": "c4", "content": [{"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}}]},
        {"role": "tool", "tool_call_id": "c5", "content": ""},
    ],
}


def test_tool_messages_are_units_with_name_and_preceding_user_text():
    units = find_units(BODY)
    assert [(u.location, u.tool_name, u.query, u.text) for u in units] == [
        ("messages[3].content", "bash", "why is the build red?", "npm ERR! missing script"),
        ("messages[4].content[0].text", "read_file", "why is the build red?", "line one"),
        ("messages[7].content", "bash", "and now the tests?", "3 failed"),
        ("messages[8].content[0].text", None, "and now the tests?", "cached"),
    ]


def test_query_does_not_depend_on_later_messages():
    first = find_units(BODY)[0]
    longer = {**BODY, "messages": [*BODY["messages"], {"role": "user", "content": "totally new question"}]}
    again = find_units(longer)[0]
    assert again.query == first.query and again.text == first.text
    # ...the later question is offered separately, for re-expansion only.
    assert again.later == (*first.later, "totally new question")


def test_units_carry_their_calls_arguments_and_the_questions_asked_after_them():
    units = find_units(BODY)
    assert units[0].later == ("and now the tests?",)
    assert units[2].later == ()
    body = {"messages": [
        {"role": "user", "content": "look at setup.py"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "read", "arguments": '{"path":"setup.py"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "from setuptools import setup"},
    ]}
    assert find_units(body)[0].tool_args == '{"path":"setup.py"}'


def test_no_messages_or_odd_shapes_give_no_units():
    assert find_units({"model": "x"}) == []
    assert find_units({"messages": "nope"}) == []
    assert find_units({"messages": [None, 3, {"role": "tool"}]}) == []
    assert model_of(BODY) == "gpt-4o" and model_of({}) is None
