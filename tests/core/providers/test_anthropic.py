"""Anthropic Messages: tool_result blocks are units; cache_control blocks and everything else are not."""
from __future__ import annotations

from headroom.core.providers.anthropic import find_units

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
    ]


def test_query_is_the_user_text_of_earlier_messages_only():
    units = find_units(BODY)
    # The reminder text sits in the same message, after the results: it must not become their query.
    assert {u.query for u in units} == {"fix the failing migration"}


def test_blocks_with_cache_control_are_never_units():
    assert all(u.path[:2] != ("messages", 4) for u in find_units(BODY))
