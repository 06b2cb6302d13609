"""OpenAI Responses: the four *_output item types are units; messages, reasoning and Codex's own items
never are."""
from __future__ import annotations

from headroom.core.providers.openai_responses import find_units

BODY = {
    "model": "gpt-5-codex",
    "instructions": "be careful",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list the repo"}]},
        {"type": "reasoning", "id": "rs_1", "encrypted_content": "gAAAA...", "summary": []},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.py\nb.py"},
        {"role": "user", "content": "now apply the patch"},
        {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin"},
        {"type": "custom_tool_call_output", "call_id": "call_2", "output": "Done!"},
        {"type": "local_shell_call", "call_id": "call_3", "action": {"command": ["ls"]}},
        {"type": "local_shell_call_output", "call_id": "call_3", "output": "x\ny"},
        {"type": "function_call_output", "call_id": "call_4",
         "output": [{"type": "input_text", "text": "part"}, {"type": "input_image", "image_url": "data:"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
    ],
}


def test_output_items_are_units():
    units = find_units(BODY)
    assert [(u.location, u.tool_name, u.query, u.text) for u in units] == [
        ("input[3].output", "shell", "list the repo", "a.py\nb.py"),
        ("input[6].output", "apply_patch", "now apply the patch", "Done!"),
        ("input[8].output", "local_shell", "now apply the patch", "x\ny"),
        ("input[9].output[0].text", None, "now apply the patch", "part"),
    ]


def test_string_input_has_no_units():
    assert find_units({"model": "gpt-5", "input": "hello"}) == []


def test_apply_patch_outputs_and_codex_items():
    # Codex 0.169's request shape: tools travel in an `additional_tools` input item, settings in a
    # `configuration_update` item, and items carry metadata fields; only the outputs are units.
    body = {"model": "gpt-6.1-sol", "stream": True, "input": [
        {"type": "additional_tools", "id": "at_1", "role": "developer",
         "tools": [{"type": "namespace", "name": "functions", "tools": [{"type": "custom", "name": "exec"}]}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix it"}],
         "internal_chat_message_metadata_passthrough": {"turn_id": "t1"}},
        {"type": "configuration_update", "reasoning": {"effort": "low"}},
        {"type": "apply_patch_call", "call_id": "p1", "status": "completed", "operation": {"type": "update_file"}},
        {"type": "apply_patch_call_output", "call_id": "p1", "output": "patched a.py"},
        {"type": "apply_patch_call_output", "call_id": "p2", "output": "patched b.py"},  # its call not sent
        {"type": "custom_tool_call", "call_id": "c1", "name": "exec", "input": "text(1)"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "1"}],
         "internal_chat_message_metadata_passthrough": {"turn_id": "t1"}},
    ]}
    assert [(u.location, u.tool_name, u.query, u.text) for u in find_units(body)] == [
        ("input[4].output", "apply_patch", "fix it", "patched a.py"),
        ("input[5].output", "apply_patch", "fix it", "patched b.py"),
        ("input[7].output[0].text", "exec", "fix it", "1"),
    ]
