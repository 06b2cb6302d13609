"""core.bill: removed tokens split once per conversation, and cache breaks told apart by who caused them."""
from __future__ import annotations

import copy

from headroom.core import bill

SYSTEM = [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}]


def body(turns: int, tools: list | None = None, first: str = "fix it") -> dict:
    messages = [{"role": "user", "content": [{"type": "text", "text": first}]}]
    for i in range(turns):
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": "Bash",
                                                            "input": {}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}",
                                                       "content": f"output {i} " * 50}]})
    messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}  # the breakpoint moves every turn
    return {"model": "claude-sonnet-4-5", "system": SYSTEM, "tools": tools or [], "messages": messages}


def turn(conv: bill.Conversations, removed: int, sent: dict, original: dict | None = None) -> bill.Turn:
    return conv.turn("c", removed, bill.prompt_of("anthropic", sent), bill.prompt_of("anthropic", original or sent),
                     1000)


def test_removed_tokens_count_once_per_conversation():
    conv = bill.Conversations()
    assert turn(conv, 300, body(1)) == bill.Turn(300, 0, None, 0)
    assert turn(conv, 500, body(2)) == bill.Turn(200, 300, None, 0)  # 300 already removed, 200 new
    assert turn(conv, 500, body(2)) == bill.Turn(0, 500, None, 0)  # a retry: nothing new


def test_a_moved_breakpoint_is_no_break_but_a_tool_added_by_headroom_is_ours():
    conv = bill.Conversations()
    turn(conv, 0, body(1))
    assert turn(conv, 0, body(2)).cache_break is None
    tool = [{"name": "headroom_retrieve", "input_schema": {"type": "object"}}]
    got = turn(conv, 100, body(3, tools=tool), original=body(3))
    assert got.cache_break == bill.HEADROOM and 0 < got.break_tokens <= 1000


def test_a_change_the_client_made_is_the_clients():
    conv = bill.Conversations()
    turn(conv, 0, body(2))
    edited = copy.deepcopy(body(3))
    edited["system"] = [{"type": "text", "text": "Another system prompt.", "cache_control": {"type": "ephemeral"}}]
    assert turn(conv, 0, edited).cache_break == bill.CLIENT


def test_no_breakpoint_no_break():
    conv = bill.Conversations()
    plain = body(1)
    plain["messages"][-1]["content"][-1].pop("cache_control")
    plain["system"] = "no cache control"
    turn(conv, 0, plain)
    other = copy.deepcopy(plain)
    other["system"] = "changed"
    assert turn(conv, 0, other).cache_break is None


def test_claude_codes_billing_header_is_not_prompt():
    """Claude Code's first system block carries a per-request hash (cch=...): a new one every turn is no break."""
    conv = bill.Conversations()
    for i in range(3):
        b = body(i + 1)
        b["system"] = [{"type": "text", "text": f"x-anthropic-billing-header: cc_version=2.1; cch={i:05d};"}, *SYSTEM]
        assert turn(conv, 0, b).cache_break is None


def test_a_long_strings_digest_is_remembered_and_the_size_stays_the_parts_json():
    import json

    log = "".join(f"line {i} \u00e9 \"quoted\" \\ tab\t\n" for i in range(300))
    part = {"role": "tool", "tool_call_id": "c1", "content": log, "extra": [log, {"k": log[:100]}]}
    digest, size = bill._digest(part)
    plain = json.dumps(part, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert size == len(plain)
    assert bill._digest(json.loads(json.dumps(part))) == (digest, size)  # equal parts, other objects
    changed = dict(part, content=log[:-2] + "X\n")
    assert bill._digest(changed)[0] != digest
    # A part too large to walk is digested whole; the same part gives the same digest every time.
    tools = {"tools": [{"name": f"t{i}", "description": log} for i in range(300)]}
    assert bill._digest(tools) == bill._digest(json.loads(json.dumps(tools)))


def test_both_prompts_at_once_are_each_bodys_own_on_real_agent_requests():
    """prompts_of reuses the sent part's digest for an equal client part: on real Claude Code and Codex
    requests compressed by the pipeline (which adds headroom_retrieve to the tools), and with a message
    spliced out of the client's body, both prompts are what prompt_of makes of each body alone."""
    import json

    from headroom.core.pipeline import compress_body
    from headroom.evals.agents import agent_cases

    picked = {}
    for case in agent_cases():  # the first compressed case of each agent and provider with a body of 20 KB or more
        if (case.agent, case.provider) not in picked and len(json.dumps(case.body)) >= 20_000:
            outcome = compress_body(case.provider, copy.deepcopy(case.body))
            if outcome.changed:
                picked[case.agent, case.provider] = (case, outcome.body)
    assert len(picked) == 2
    for case, sent in picked.values():
        original = json.loads(json.dumps(case.body))  # parsed apart, as the addon has it
        assert bill.prompts_of(case.provider, sent, original) == (bill.prompt_of(case.provider, sent),
                                                                 bill.prompt_of(case.provider, original))
        # A client that dropped an early message: its parts after it sit one place earlier than ours.
        key = "messages" if "messages" in original else "input"
        spliced = dict(original, **{key: original[key][:1] + original[key][2:]})
        assert bill.prompts_of(case.provider, sent, spliced) == (bill.prompt_of(case.provider, sent),
                                                                bill.prompt_of(case.provider, spliced))
        # A client that edited an early message: that part is its own, the rest still shared.
        edited = json.loads(json.dumps(original))
        edited[key][0] = {"role": "user", "content": "an edited first message"}
        both = bill.prompts_of(case.provider, sent, edited)
        assert both[1] == bill.prompt_of(case.provider, edited) and both[1] != bill.prompt_of(case.provider, original)
