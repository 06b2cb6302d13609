"""headroom_retrieve end to end with the real openai and anthropic SDKs (from .venv-clients), through the
real proxy to the fake upstream: the client sees only the final answer, the continuation carries the exact
original, and the next turn's history reaches the upstream byte-identical (the hidden exchange spliced back).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from headroom.core.markers import find_markers
from headroom.storage.store import open_store
from tests.support.fake_upstream import Reply

pytestmark = pytest.mark.e2e

CLIENT_PY = Path(__file__).resolve().parents[2] / ".venv-clients" / "bin" / "python"

LOG = "".join(f"2026-11-24 04:{i % 60:02d}:{i % 60:02d} INFO worker-{i % 7} heartbeat ok seq={i}\n"
              for i in range(400)) + "2026-11-24 05:00:00 ERROR disk /dev/sda1 full\n"

# The agent: one or two turns; after each, it appends the assistant message the way agents do (the SDK's
# own objects dumped) and asks a follow-up. Prints what it saw as JSON.
SCRIPT = r'''
import json, sys
sdk, stream, turns, log = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), open(sys.argv[4]).read()
seen = []
if sdk == "openai":
    import openai
    client = openai.OpenAI(max_retries=0)
    tools = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]
    messages = [{"role": "user", "content": "why did the job fail?"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "call_0", "type": "function",
                 "function": {"name": "bash", "arguments": "{\"cmd\": \"cat job.log\"}"}}]},
                {"role": "tool", "tool_call_id": "call_0", "content": log}]
    for turn in range(turns):
        if stream:
            text, calls, finish, chunks = "", [], None, 0
            for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools, stream=True):
                chunks += 1
                for ch in chunk.choices:
                    text += ch.delta.content or ""
                    calls += [tc.model_dump() for tc in ch.delta.tool_calls or []]
                    finish = ch.finish_reason or finish
            msg = {"role": "assistant", "content": text}
        else:
            r = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
            m = r.choices[0].message
            text, calls, finish, chunks = m.content, [tc.model_dump() for tc in m.tool_calls or []], r.choices[0].finish_reason, 0
            msg = m.model_dump(exclude_none=True)
        seen.append({"text": text, "calls": calls, "finish": finish, "chunks": chunks})
        messages = messages + [msg, {"role": "user", "content": "thanks, now fix it"}]
else:
    import anthropic
    client = anthropic.Anthropic(max_retries=0)
    tools = [{"name": "bash", "input_schema": {"type": "object"}}]
    messages = [{"role": "user", "content": "why did the job fail?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_0", "name": "bash", "input": {"cmd": "cat job.log"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": log}]}]
    for turn in range(turns):
        kw = dict(model="claude-sonnet-4-5", max_tokens=1000, messages=messages, tools=tools)
        if stream:
            with client.messages.stream(**kw) as s:
                deltas = [t for t in s.text_stream]
                m = s.get_final_message()
        else:
            m, deltas = client.messages.create(**kw), []
        blocks = [b.model_dump(exclude_none=True) for b in m.content]
        seen.append({"text": "".join(b.get("text", "") for b in blocks), "blocks": [b["type"] for b in blocks],
                     "finish": m.stop_reason, "chunks": len(deltas)})
        messages = messages + [{"role": "assistant", "content": blocks}, {"role": "user", "content": "thanks, now fix it"}]
print(json.dumps(seen))
'''


@pytest.fixture
def agent(proxy, tmp_path):
    if not CLIENT_PY.exists():
        pytest.skip("the client SDK venv is missing: run `make clients`")
    script = tmp_path / "agent.py"
    script.write_text(SCRIPT)
    logfile = tmp_path / "job.log"
    logfile.write_text(LOG)

    def run(sdk: str, stream: bool, turns: int) -> list[dict]:
        p = subprocess.run([str(CLIENT_PY), str(script), sdk, "1" if stream else "0", str(turns), str(logfile)],
                           env=proxy.env(), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-3000:] + proxy.stderr_text()[-2000:]
        return json.loads(p.stdout)

    return run


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_agent_sees_only_the_answer_and_next_turn_history_is_byte_identical(agent, fake_upstream, sdk, stream):
    field = "messages"
    # Turn 0 only tells the test which key the proxy's compression gave the log.
    fake_upstream.queue(Reply.text("noted"))
    agent(sdk, stream, 1)
    keys = [m.key for m in find_markers(fake_upstream.last.decoded.decode())]
    assert keys, "the proxy did not compress the log"
    original = open_store().get(keys[0])
    assert original and original in LOG
    fake_upstream.clear()

    fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": keys[0]}),
                        Reply.text("The disk /dev/sda1 was full."),
                        Reply.text("Freed space on /dev/sda1."))
    seen = agent(sdk, stream, 2)
    assert [s["text"] for s in seen] == ["The disk /dev/sda1 was full.", "Freed space on /dev/sda1."]
    first = seen[0]
    assert first["finish"] in ("stop", "end_turn")
    assert first.get("calls", []) == [] and "tool_use" not in first.get("blocks", [])
    if stream:
        assert first["chunks"] > 1  # it stayed a stream

    first_req, cont, turn2 = fake_upstream.wait_for(3)
    assert len(fake_upstream.requests) == 3
    results = cont.json[field][-1]
    got = results["content"] if sdk == "openai" else results["content"][0]["content"]
    assert got == original  # the exact original, not compressed again
    assert cont.json[field][:-2] == first_req.json[field]
    # Byte-identical history: the continuation's messages, as they went over the wire, open turn 2's.
    prefix = compact(cont.json[field])[:-1]
    assert prefix in cont.decoded.decode()
    assert prefix in turn2.decoded.decode()
    assert turn2.json[field][len(cont.json[field])]["role"] == "assistant"
    assert turn2.json[field][-1] == {"role": "user", "content": "thanks, now fix it"}
