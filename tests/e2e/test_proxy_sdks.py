"""The official openai and anthropic Python SDKs, in their own venv as a wrapped agent has them, through
the real proxy with nothing but HTTPS_PROXY and SSL_CERT_FILE set: no base URL, no code change."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.fake_upstream import Reply, streamed_as_sent

pytestmark = pytest.mark.e2e

CLIENTS_PY = Path(__file__).resolve().parents[2] / ".venv-clients" / "bin" / "python"
LOG = "cloning repo\n" + "npm WARN deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported\n" * 400
LOG += "npm ERR! code ELIFECYCLE\nnpm ERR! errno 1"


@pytest.fixture(scope="module")
def clients_python() -> Path:
    if not CLIENTS_PY.exists():
        pytest.skip("the SDK venv is missing: run `make clients` (CI always does)")
    return CLIENTS_PY


def run_client(python: Path, script: str, env: dict) -> list[dict]:
    r = subprocess.run([str(python), "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


OPENAI_SCRIPT = r"""
import json, time, openai
client = openai.OpenAI(max_retries=0)
messages = [
    {"role": "user", "content": "Why does npm install fail?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": "{\"cmd\": \"npm i\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": __LOG__},
]
stream = client.chat.completions.create(model="gpt-4o", messages=messages, stream=True,
                                        stream_options={"include_usage": True})
for chunk in stream:
    text = chunk.choices[0].delta.content if chunk.choices else None
    print(json.dumps({"t": time.monotonic(), "text": text, "usage": chunk.usage.prompt_tokens if chunk.usage else None}), flush=True)
resp = client.responses.create(model="gpt-5", input=[
    {"role": "user", "content": "and now?"},
    {"type": "function_call", "call_id": "c2", "name": "bash", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "c2", "output": __LOG__},
])
print(json.dumps({"responses_text": resp.output_text}), flush=True)
""".replace("__LOG__", json.dumps(LOG))

ANTHROPIC_SCRIPT = r"""
import json, time, anthropic
client = anthropic.Anthropic(max_retries=0)
messages = [
    {"role": "user", "content": "Why does npm install fail?"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "npm i"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": __LOG__}]},
]
with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=messages) as stream:
    for text in stream.text_stream:
        print(json.dumps({"t": time.monotonic(), "text": text}), flush=True)
    final = stream.get_final_message()
print(json.dumps({"stop": final.stop_reason, "input_tokens": final.usage.input_tokens}), flush=True)
""".replace("__LOG__", json.dumps(LOG))


def test_openai_sdk_streams_through_the_proxy(clients_python, proxy, fake_upstream):
    fake_upstream.queue(Reply.text("Your lockfile pins an old glob.", interval=0.15, chunks=5),
                        Reply.text("Delete node_modules and retry."))
    # What the README promises: two variables, the proxy and the CA to trust; nothing else set.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(proxy.home), "OPENAI_API_KEY": "sk-test-fake",
           "HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": str(proxy.ca_cert)}
    lines = run_client(clients_python, OPENAI_SCRIPT, env)
    texts = [x for x in lines if x.get("text")]
    assert "".join(x["text"] for x in texts) == "Your lockfile pins an old glob."
    assert streamed_as_sent([x["t"] for x in texts], 0.15)
    assert lines[-1] == {"responses_text": "Delete node_modules and retry."}
    chat, responses = fake_upstream.requests[-2:]
    assert chat.headers["host"] == "api.openai.com" and chat.json["stream"] is True
    tool = chat.json["messages"][2]["content"]
    assert "npm ERR! code ELIFECYCLE" in tool and len(tool) < len(LOG) / 4
    assert chat.json["messages"][:2] == [
        {"role": "user", "content": "Why does npm install fail?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": "{\"cmd\": \"npm i\"}"}}]},
    ]
    out = responses.json["input"][2]["output"]
    assert responses.route == "/v1/responses" and "npm ERR! errno 1" in out and len(out) < len(LOG) / 4


def test_anthropic_sdk_streams_through_the_proxy(clients_python, proxy, fake_upstream):
    fake_upstream.queue(Reply.text("A deprecated glob is only a warning; the error is ELIFECYCLE.", interval=0.15, chunks=5))
    lines = run_client(clients_python, ANTHROPIC_SCRIPT, proxy.env())
    texts = [x for x in lines if "text" in x]
    assert "".join(x["text"] for x in texts) == "A deprecated glob is only a warning; the error is ELIFECYCLE."
    assert streamed_as_sent([x["t"] for x in texts], 0.15)
    assert lines[-1]["stop"] == "end_turn" and lines[-1]["input_tokens"] > 0
    got = fake_upstream.last
    assert got.headers["host"] == "api.anthropic.com"
    assert "sk-ant-test-fake" in (got.headers.get("x-api-key") or got.headers.get("authorization", ""))
    result = got.json["messages"][2]["content"][0]
    assert result["tool_use_id"] == "toolu_1" and "npm ERR! code ELIFECYCLE" in result["content"]
    assert len(result["content"]) < len(LOG) / 4
