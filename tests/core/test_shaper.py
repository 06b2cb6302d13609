"""core.shaper and each Provider's shaping: the instruction at the tail of the system prompt, the same bytes on
every turn and idempotent; effort lowered only on mechanical turns and only where the client sent one, never
added, thinking never turned on or off; nothing else in the body changed, and the input never mutated."""
from __future__ import annotations

import copy
import hashlib
import json

import pytest

from headroom.core import shaper as S
from tests.support.shaping import instruction_of, unshape

LEVEL_TEXT = S.instruction(2)


def tool_turns_anthropic(n: int, *, error: bool = False, reminder: bool = False) -> list[dict]:
    msgs: list[dict] = [{"role": "user", "content": [{"type": "text", "text": "fix the failing test"}]}]
    for i in range(n):
        msgs.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": "Read",
                                                       "input": {"file_path": f"/src/m{i}.py"}}]})
        result = [{"type": "tool_result", "tool_use_id": f"t{i}", "content": f"line {i}\n" * 5,
                   "cache_control": {"type": "ephemeral"}}]
        if error and i == n - 1:
            result[0]["is_error"] = True
        if reminder:
            result.append({"type": "text", "text": "<system-reminder>The file may have changed.</system-reminder>"})
        msgs.append({"role": "user", "content": result})
    return msgs


def anthropic(n: int = 1, **kw) -> dict:
    return {"model": "claude-opus-4-5", "max_tokens": 32000,
            "system": [{"type": "text", "text": "You are Claude Code."},
                       {"type": "text", "text": "Project notes.", "cache_control": {"type": "ephemeral"}}],
            "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
            "output_config": {"effort": "high"}, "thinking": {"type": "enabled", "budget_tokens": 8000},
            "messages": tool_turns_anthropic(n, **kw), "stream": True}


def chat(n: int = 1) -> dict:
    msgs = [{"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": "list files"}]
    for i in range(n):
        msgs += [{"role": "assistant", "content": None, "tool_calls": [
            {"id": f"c{i}", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": f"c{i}", "content": f"f{i}.py"}]
    return {"model": "o4-mini", "messages": msgs, "reasoning_effort": "high", "tools": [], "stream": True}


def responses(n: int = 1) -> dict:
    items = [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox rules"}]},
             {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "run the tests"}]}]
    for i in range(n):
        items += [{"type": "reasoning", "id": f"rs{i}", "summary": [], "encrypted_content": "opaque"},
                  {"type": "function_call", "call_id": f"call{i}", "name": "exec_command", "arguments": "{}"},
                  {"type": "function_call_output", "call_id": f"call{i}", "output": "ok"}]
    return {"model": "gpt-5-codex", "instructions": "You are Codex.", "input": items,
            "reasoning": {"effort": "high", "summary": "auto"}, "store": False, "stream": True}


def gemini(n: int = 1, wrapped: bool = False) -> dict:
    contents = [{"role": "user", "parts": [{"text": "why does the build fail?"}]}]
    for i in range(n):
        contents += [{"role": "model", "parts": [{"functionCall": {"name": "run", "args": {"cmd": "make"}}}]},
                     {"role": "user", "parts": [{"functionResponse": {"name": "run", "response": {"output": "ok"}}}]}]
    req = {"contents": contents, "systemInstruction": {"parts": [{"text": "You are Gemini CLI."}]},
           "generationConfig": {"temperature": 0, "thinkingConfig": {"thinkingBudget": 8192, "includeThoughts": True}}}
    return {"model": "gemini-2.5-pro", "project": "p", "request": req} if wrapped else req


def ask(provider: str, body: dict) -> dict:
    """`body` with a new user ask appended (an "other" turn)."""
    body = copy.deepcopy(body)
    if provider == "anthropic":
        body["messages"].append({"role": "assistant", "content": [{"type": "text", "text": "Done."}]})
        body["messages"].append({"role": "user", "content": "now add a test"})
    elif provider == "openai_chat":
        body["messages"] += [{"role": "assistant", "content": "Done."}, {"role": "user", "content": "now add a test"}]
    elif provider == "openai_responses":
        body["input"] += [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]},
                          {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "more"}]}]
    else:
        req = body.get("request", body)
        req["contents"] += [{"role": "model", "parts": [{"text": "Done."}]}, {"role": "user", "parts": [{"text": "more"}]}]
    return body


BUILDERS = {"anthropic": anthropic, "openai_chat": chat, "openai_responses": responses, "gemini": gemini}
EFFORT = {  # where each shape's effort is, and what the client sent in the bodies above -> what a mechanical turn gets
    "anthropic": [(("output_config", "effort"), "high", "low"), (("thinking", "budget_tokens"), 8000, 1024)],
    "openai_chat": [(("reasoning_effort",), "high", "low")],
    "openai_responses": [(("reasoning", "effort"), "high", "low")],
    "gemini": [(("generationConfig", "thinkingConfig", "thinkingBudget"), 8192, 512)],  # no model known: 512
}


def at(body: dict, path: tuple) -> object:
    for key in path:
        body = body[key]
    return body


def test_the_level_texts_are_fixed_byte_for_byte():
    # Changing a text busts every shaped conversation's cache once: it must be a deliberate change (update
    # this digest and say so in the commit). Level 0 is effort only.
    assert S.instruction(0) == ""
    texts = [S.instruction(level) for level in (1, 2, 3)]
    assert all(S.is_instruction(t) and t.startswith(S.OPEN) and t.endswith(S.CLOSE) for t in texts)
    assert len(set(texts)) == 3 and all(len(t) < 600 for t in texts)  # short: it is paid on every request
    assert "write code, edits and tool arguments in full" in texts[0]  # prose only, never the work itself
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    assert digest == "5539823b04c2fdb7", digest


@pytest.mark.parametrize("provider", list(BUILDERS))
def test_the_instruction_is_at_the_tail_and_the_same_bytes_every_turn(provider):
    seen = set()
    for n in (1, 2, 3):
        for body in (BUILDERS[provider](n), ask(provider, BUILDERS[provider](n))):
            shaped = S.shape(provider, body, level=2)
            assert instruction_of(provider, shaped.body) == LEVEL_TEXT
            assert "instruction" in shaped.changes
            seen.add(json.dumps(shaped.body.get("system") if provider == "anthropic" else instruction_of(
                provider, shaped.body)))
    assert len(seen) == 1  # the shaped system prompt is byte-identical on every turn


def test_the_prefix_before_the_messages_is_byte_identical_across_turns_for_anthropic():
    # The cached prefix is tools -> system -> messages: everything before `messages` must be the same bytes.
    heads = set()
    for n in (1, 2, 3):
        b = S.shape("anthropic", ask("anthropic", anthropic(n)), level=2).body  # "other" turns: effort as sent
        heads.add(json.dumps({k: v for k, v in b.items() if k != "messages"}, sort_keys=True))
    assert len(heads) == 1


@pytest.mark.parametrize("provider", list(BUILDERS))
def test_shaping_is_idempotent_and_never_mutates_its_input(provider):
    body = BUILDERS[provider](2)
    before = copy.deepcopy(body)
    once = S.shape(provider, body, level=3)
    assert body == before
    twice = S.shape(provider, once.body, level=3)
    assert twice.body == once.body and "instruction" not in twice.changes


@pytest.mark.parametrize("provider", list(BUILDERS))
def test_effort_is_lowered_only_on_mechanical_turns(provider):
    mechanical = S.shape(provider, BUILDERS[provider](2), level=2)
    assert mechanical.turn_kind == S.MECHANICAL
    other = S.shape(provider, ask(provider, BUILDERS[provider](2)), level=2)
    assert other.turn_kind == S.OTHER
    for path, sent, lowered in EFFORT[provider]:
        assert at(mechanical.body, path) == lowered
        assert at(other.body, path) == sent
    off = S.shape(provider, BUILDERS[provider](2), level=2, effort=False)
    for path, sent, _ in EFFORT[provider]:
        assert at(off.body, path) == sent


@pytest.mark.parametrize("provider", list(BUILDERS))
@pytest.mark.parametrize("turn", ["mechanical", "other"])
def test_nothing_else_in_the_body_changes(provider, turn):
    body = BUILDERS[provider](3) if turn == "mechanical" else ask(provider, BUILDERS[provider](3))
    shaped = S.shape(provider, body, level=1)
    assert shaped.body != body
    assert unshape(provider, shaped.body, body) == body


def strip_effort(provider: str, body: dict) -> dict:
    body = copy.deepcopy(body)
    if provider == "anthropic":
        body.pop("output_config")
        body.pop("thinking")
    elif provider == "openai_chat":
        body.pop("reasoning_effort")
    elif provider == "openai_responses":
        body.pop("reasoning")
    else:
        body["generationConfig"].pop("thinkingConfig")
    return body


@pytest.mark.parametrize("provider", list(BUILDERS))
def test_an_effort_the_client_did_not_send_is_never_added(provider):
    body = strip_effort(provider, BUILDERS[provider](2))
    shaped = S.shape(provider, body, level=2)
    assert shaped.turn_kind == S.MECHANICAL
    assert not any(c.startswith(("effort", "thinking")) for c in shaped.changes)
    assert unshape(provider, shaped.body, body) == body
    assert S.shape(provider, body, level=0).body is body  # level 0 and nothing to lower: the same object


def test_level_zero_only_lowers_effort():
    shaped = S.shape("anthropic", anthropic(1), level=0)
    assert shaped.changes == ("effort:high->low", "thinking_budget:8000->1024")
    assert shaped.body["system"] == anthropic(1)["system"]


@pytest.mark.parametrize("thinking", [{"type": "adaptive"}, {"type": "disabled"}, {"type": "enabled", "budget_tokens": 1024},
                                      {"type": "enabled", "budget_tokens": 900}])
def test_anthropic_thinking_is_never_toggled_and_never_below_its_floor(thinking):
    body = anthropic(1)
    body["thinking"] = thinking
    assert S.shape("anthropic", body, level=0).body["thinking"] == thinking


@pytest.mark.parametrize("effort", ["low", "minimal", "none", "turbo", 3, None])
def test_an_effort_at_or_below_the_floor_or_unknown_is_left_as_sent(effort):
    body = chat(1)
    body["reasoning_effort"] = effort
    assert S.shape("openai_chat", body, level=0).body is body
    assert [S.lower_effort(e) for e in ("medium", "high", "xhigh", "max")] == ["low"] * 4


def test_anthropic_turn_kinds_from_structure():
    assert S.shape("anthropic", anthropic(2, reminder=True), level=1).turn_kind == S.MECHANICAL  # harness text only
    assert S.shape("anthropic", anthropic(2, error=True), level=1).turn_kind == S.OTHER  # an error to handle
    body = anthropic(1)
    body["messages"][-1]["content"].append({"type": "text", "text": "also check the docs"})  # a new ask beside it
    assert S.shape("anthropic", body, level=1).turn_kind == S.OTHER
    body = anthropic(1)
    body["messages"] = body["messages"][:1]  # the first turn
    assert S.shape("anthropic", body, level=1).turn_kind == S.OTHER


def test_anthropic_string_and_missing_system():
    body = anthropic(1)
    body["system"] = "You are terse."
    assert S.shape("anthropic", body, level=2).body["system"] == [{"type": "text", "text": "You are terse."},
                                                                   {"type": "text", "text": LEVEL_TEXT}]
    del body["system"]
    shaped = S.shape("anthropic", body, level=2)
    assert shaped.body["system"] == [{"type": "text", "text": LEVEL_TEXT}]
    assert "cache_control" not in shaped.body["system"][-1]  # never a breakpoint of ours


def test_anthropic_an_older_level_is_replaced_not_doubled():
    body = S.shape("anthropic", anthropic(1), level=1).body
    again = S.shape("anthropic", body, level=3).body
    texts = [b["text"] for b in again["system"]]
    assert texts[-1] == S.instruction(3) and sum(S.is_instruction(t) for t in texts) == 1


def test_chat_without_a_system_message_gets_one_first_and_list_content_a_part():
    body = chat(1)
    body["messages"] = body["messages"][1:]
    shaped = S.shape("openai_chat", body, level=2).body
    assert shaped["messages"][0] == {"role": "system", "content": LEVEL_TEXT}
    body = chat(1)
    body["messages"][0]["content"] = [{"type": "text", "text": "You are a coding agent."}]
    shaped = S.shape("openai_chat", body, level=2).body
    assert shaped["messages"][0]["content"][-1] == {"type": "text", "text": LEVEL_TEXT}
    assert shaped["messages"][0]["content"][0] == {"type": "text", "text": "You are a coding agent."}


def test_responses_never_touches_instructions_and_skips_stored_conversations():
    shaped = S.shape("openai_responses", responses(1), level=2).body
    assert shaped["instructions"] == "You are Codex."  # ChatGPT's Codex backend refuses other instructions
    assert shaped["input"][1] == {"type": "message", "role": "developer",
                                  "content": [{"type": "input_text", "text": LEVEL_TEXT}]}  # after the leading one
    codex = responses(1)  # Codex 0.169's preamble: developer messages and an item of its own, no instructions
    del codex["instructions"]
    codex["input"][1:1] = [{"type": "additional_tools", "role": "developer", "tools": []},
                           {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "x"}]}]
    shaped = S.shape("openai_responses", codex, level=2).body
    assert "instructions" not in shaped and S.is_instruction(shaped["input"][3]["content"][0]["text"])
    assert shaped["input"][:3] == codex["input"][:3] and shaped["input"][4:] == codex["input"][3:]
    stored = {"model": "gpt-5", "previous_response_id": "resp_1", "reasoning": {"effort": "medium"},
              "input": [{"type": "function_call_output", "call_id": "c", "output": "ok"}]}
    done = S.shape("openai_responses", stored, level=2)
    assert done.turn_kind == S.MECHANICAL and done.changes == ("skipped:previous_response", "effort:medium->low")
    assert "input" in done.body and len(done.body["input"]) == 1
    failed = responses(1)
    failed["input"][-1]["output"] = {"content": "boom", "success": False}
    assert S.shape("openai_responses", failed, level=2).turn_kind == S.OTHER


def test_gemini_floors_cached_content_and_the_cloud_code_wrapper():
    flash = gemini(1)
    shaped = S.shape("gemini", flash, level=2, path="/v1beta/models/gemini-2.5-flash:streamGenerateContent")
    assert shaped.body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 512, "includeThoughts": True}
    for budget in (0, -1, 100):  # off, dynamic, already below the floor: left alone
        b = gemini(1)
        b["generationConfig"]["thinkingConfig"]["thinkingBudget"] = budget
        assert S.shape("gemini", b, level=0).body is b
    level = gemini(1)
    level["generationConfig"]["thinkingConfig"] = {"thinkingLevel": "HIGH"}
    assert S.shape("gemini", level, level=0).body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "LOW"}
    cached = gemini(1)
    cached["cachedContent"] = "cachedContents/abc"
    del cached["systemInstruction"]
    done = S.shape("gemini", cached, level=2)
    assert "systemInstruction" not in done.body and done.changes[0] == "skipped:cached_content"
    wrapped = gemini(2, wrapped=True)
    shaped = S.shape("gemini", wrapped, level=2)
    assert shaped.body["project"] == "p" and instruction_of("gemini", shaped.body) == LEVEL_TEXT
    assert shaped.body["request"]["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 128  # the model is pro
    assert unshape("gemini", shaped.body, wrapped) == wrapped
    error = gemini(1)
    error["contents"][-1]["parts"][0]["functionResponse"]["response"] = {"error": "command not found"}
    assert S.shape("gemini", error, level=2).turn_kind == S.OTHER


def test_parse_level_accepts_numbers_and_names():
    assert [S.parse_level(v) for v in ("", None, "0", "1", " 2 ", "3", "terse", "Lean")] == [2, 2, 0, 1, 2, 3, 3, 1]
    with pytest.raises(ValueError, match="HEADROOM_OUTPUT_SHAPER_LEVEL must be one of 0 \\(effort only\\)"):
        S.parse_level("max")
