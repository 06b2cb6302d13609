"""OpenAI Responses: the three *_output item types are units; messages and reasoning never are."""
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
