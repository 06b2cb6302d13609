"""Anthropic Messages: tool_result blocks are units (cache_control or not); everything else is not."""
from __future__ import annotations

import pytest

from headroom.core.providers.anthropic import PROVIDER, find_units

BODY = {
    "model": "claude-sonnet-4-5",
    "system": [{"type": "text", "text": "system prompt", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": "fix the failing migration"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "pytest"}},
            {"type": "tool_use", "id": "t2", "name": "Read", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "E   AssertionError", "is_error": True},
            {"type": "tool_result", "tool_use_id": "t2", "content": [
                {"type": "text", "text": "file body"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            ]},
            {"type": "text", "text": "<system-reminder>later text</system-reminder>"},
        ]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t3", "name": "Bash", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t3", "content": "cached one", "cache_control": {"type": "ephemeral"}},
        ]},
    ],
}


def test_tool_results_are_units_with_error_flag_and_name():
    units = find_units(BODY)
    assert [(u.location, u.tool_name, u.is_error, u.text) for u in units] == [
        ("messages[2].content[0].content", "Bash", True, "E   AssertionError"),
        ("messages[2].content[1].content[0].text", "Read", False, "file body"),
        ("messages[4].content[0].content", "Bash", False, "cached one"),
    ]


def test_query_is_the_user_text_of_earlier_messages_only():
    units = find_units(BODY)
    # The reminder text sits in the same message, after the results: it must not become their query.
    assert {u.query for u in units} == {"fix the failing migration"}


def test_a_cache_control_mark_does_not_change_the_unit():
    # Claude Code marks its newest tool result and moves the mark on next turn: the unit must be the
    # same either way, so the output is compressed to the same bytes on both turns.
    import copy

    unmarked = copy.deepcopy(BODY)
    del unmarked["messages"][4]["content"][0]["cache_control"]
    assert find_units(unmarked) == find_units(BODY)


def test_harness_reminders_are_not_the_question():
    import copy

    body = copy.deepcopy(BODY)
    # A later user turn holding only an injected reminder leaves the question as it was.
    body["messages"].insert(3, {"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>\nThe TodoWrite tool hasn't been used\n</system-reminder>"}]})
    body["messages"].insert(4, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t4", "name": "Bash", "input": {}}]})
    body["messages"].insert(5, {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t4", "content": "output"}]})
    assert {u.query for u in find_units(body)} == {"fix the failing migration"}


def test_user_text_beside_a_reminder_is_still_the_question():
    from headroom.core.providers import clip_query

    assert clip_query("<system-reminder>ctx</system-reminder>\nnow fix the parser bug") == "now fix the parser bug"
    assert clip_query("<environment_context>cwd=/x</environment_context>") == ""
    assert clip_query("why does <div>x</div> render twice?") == "why does <div>x</div> render twice?"


@pytest.mark.parametrize(("path", "watched"), [
    ("/v1/messages", True),
    ("/v1/messages?beta=true", True),
    ("/v1/messages/count_tokens", False),
    ("/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5:rawPredict", True),
    ("/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5:streamRawPredict", True),
    # Vertex's token count is a rawPredict too: it gets the tool (so counts match) but has no answer to watch.
    ("/v1/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict", False),
])
def test_the_relay_watches_generation_calls_only(path, watched):
    assert PROVIDER.watches(path) is watched
