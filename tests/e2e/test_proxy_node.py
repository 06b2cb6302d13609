"""A Node client (undici EnvHttpProxyAgent + NODE_EXTRA_CA_CERTS) through the real proxy, streaming."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.fake_upstream import Reply, streamed_as_sent

pytestmark = pytest.mark.e2e

NODE_DIR = Path(__file__).resolve().parent / "node"
LOG = "Compiling crate\n" + "warning: unused variable `x`\n" * 300 + "error[E0308]: mismatched types"


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None or not (NODE_DIR / "node_modules" / "undici").is_dir():
        pytest.skip("node or its test dependencies are missing: run `make node-deps` (CI always does)")
    return exe


def test_node_undici_client_streams_through_the_proxy(node, proxy, fake_upstream):
    fake_upstream.queue(Reply.text("Fix the type of `total`.", interval=0.15, chunks=4))
    body = {"model": "gpt-4o", "stream": True, "messages": [
        {"role": "user", "content": "why does cargo build fail?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "sh", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": LOG},
    ]}
    env = proxy.env()
    env.pop("SSL_CERT_FILE")  # Node reads only NODE_EXTRA_CA_CERTS: prove that is what it used
    r = subprocess.run([node, "stream_chat.mjs", json.dumps(body)], cwd=NODE_DIR, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0] == {"status": 200}
    events = lines[1:]
    assert events[-1]["data"] == "[DONE]"
    text = "".join(json.loads(e["data"])["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert text == "Fix the type of `total`."
    assert streamed_as_sent([e["t"] for e in events], 0.15), events
    tool = fake_upstream.last.json["messages"][2]["content"]
    assert "error[E0308]" in tool and len(tool) < len(LOG) / 4
    assert fake_upstream.last.headers["host"] == "api.openai.com"
