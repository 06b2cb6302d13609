"""The google-genai Python SDK, in its own venv as a wrapped agent has it, under `headroom wrap` against the
strict fake Gemini upstream: a compressed tool output, a retrieval answered inside the stream, a client
tool call, a later turn whose history (the SDK's own Part objects, every chunk kept, thoughts and
signatures included) gets the hidden exchange back without duplicating the text; and a continuation that
fails inside a stream, which the SDK must raise as its own APIError (code 500), not crash on."""
from __future__ import annotations

import json
import subprocess

import pytest

from headroom.core.markers import MARKER_RE
from tests.e2e.test_proxy_sdks import CLIENTS_PY
from tests.e2e.test_wrap import free_port, headroom, wrap_env
from tests.support.fake_upstream import Reply

pytestmark = pytest.mark.e2e

LOG = "".join(f"2026-01-01 12:00:{i % 60:02d} INFO worker {i} processed batch ok\n" for i in range(1, 2001))
LOG += "2026-01-01 12:01:00 ERROR disk full on /var\n"
SIG = "ZmFrZS1zaWduYXR1cmU="

SCRIPT = r"""
import json
from google import genai
from google.genai import errors, types

client = genai.Client(api_key="fake-gemini-key")
config = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="bash", parameters={"type": "OBJECT"})])],
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
contents = [
    types.Content(role="user", parts=[types.Part(text="Why did the job fail?")]),
    types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(name="bash", args={"cmd": "cat job.log"}),
                                                  thought_signature=b"fake-signature")]),
    types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(name="bash", response={"output": __LOG__}))]),
]

def turn():
    parts = []
    for chunk in client.models.generate_content_stream(model="gemini-3-pro-preview", contents=contents, config=config):
        parts += chunk.candidates[0].content.parts or []
    contents.append(types.Content(role="model", parts=parts))  # every chunk's parts, as they came
    return parts

parts = turn()
calls = [p.function_call for p in parts if p.function_call]
print(json.dumps({"text": "".join(p.text or "" for p in parts if not p.thought), "calls": [c.name for c in calls]}), flush=True)
contents.append(types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
    name=calls[0].name, response={"output": "/dev/vda 100% /var"}))]))
parts = turn()
print(json.dumps({"text": "".join(p.text or "" for p in parts if not p.thought)}), flush=True)

# A retrieval whose continuation the upstream refuses, inside a stream.
try:
    for chunk in client.models.generate_content_stream(model="gemini-3-pro-preview", contents=contents[:3], config=config):
        pass
    print(json.dumps({"error": None}), flush=True)
except errors.APIError as e:
    print(json.dumps({"error": type(e).__name__, "code": e.code, "message": e.message}), flush=True)
""".replace("__LOG__", json.dumps(LOG))


def _retrieve(body: dict) -> Reply:
    output = body["contents"][2]["parts"][0]["functionResponse"]["response"]["output"]
    return Reply.parts_([{"text": "Reading the cut lines.", "thought": True},
                         {"text": "Let me look. "},
                         {"functionCall": {"name": "headroom_retrieve", "args": {"key": MARKER_RE.search(output).group("key")}},
                          "thoughtSignature": SIG}])


def test_google_genai_sdk_under_wrap(fake_upstream, tmp_path, headroom_home):
    if not CLIENTS_PY.exists():
        pytest.skip("the SDK venv is missing: run `make clients` (CI always does)")
    fake_upstream.queue(
        Reply.dynamic(_retrieve),
        Reply.parts_([{"text": "The disk is full; "}, {"text": "checking it."},
                      {"functionCall": {"name": "bash", "args": {"cmd": "df /var"}}, "thoughtSignature": SIG}]),
        Reply.text("Free space on /var."),
        Reply.dynamic(_retrieve),
        Reply.error(500, "the continuation failed"),
    )
    env = wrap_env(fake_upstream, HOME=str(tmp_path))
    env["HEADROOM_ROUTE"] = fake_upstream.route_for("generativelanguage.googleapis.com")
    script = tmp_path / "agent.py"
    script.write_text(SCRIPT)
    r = subprocess.run(headroom("wrap", "--port", str(free_port()), "--", str(CLIENTS_PY), str(script)),
                       env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    first, second, failed = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert first == {"text": "Let me look. The disk is full; checking it.", "calls": ["bash"]}
    assert second == {"text": "Free space on /var."}
    assert failed["error"] == "ServerError" and failed["code"] == 500
    assert "the continuation failed" in failed["message"]

    assert fake_upstream.refused == []
    sent = [rec for rec in fake_upstream.requests if rec.route.endswith(":streamGenerateContent")]
    assert len(sent) == 5, [rec.path for rec in fake_upstream.requests]
    tool_output = sent[0].json["contents"][2]["parts"][0]["functionResponse"]["response"]["output"]
    assert MARKER_RE.search(tool_output) and len(tool_output) < len(LOG) / 5
    hidden_call, hidden_answer = sent[1].json["contents"][3:5]
    assert hidden_call["parts"][-1]["functionCall"]["name"] == "headroom_retrieve"
    assert "INFO worker 1000 processed" in hidden_answer["parts"][0]["functionResponse"]["response"]["content"]
    # The later turn: the hidden exchange back as it went upstream, then the SDK's own turn without the
    # text it already holds in the hidden round, then its tool's answer.
    later = sent[2].json["contents"]
    assert later[3:5] == [hidden_call, hidden_answer]
    client_turn = later[5]
    assert "".join(p.get("text", "") for p in client_turn["parts"] if not p.get("thought")) == \
        "The disk is full; checking it."
    assert [p["functionCall"]["name"] for p in client_turn["parts"] if "functionCall" in p] == ["bash"]
    assert later[6]["parts"][0]["functionResponse"]["response"] == {"output": "/dev/vda 100% /var"}
