"""Many agents at once through one real proxy: no cross-talk, streams complete in order, retrieve stays inside.

24 httpx clients (threads) plus two SDK processes share one proxy and one fake upstream: OpenAI chat,
Responses and Anthropic, streaming and not, with and without a compressible tool output, some whose model
calls headroom_retrieve, plus tunnelled non-LLM requests. Every client carries a unique tag in its user
message; the fake answers by tag (`queue_for`), so each answer is known to belong to one client only.
A sequential pass first records what the proxy sends upstream for each request; the concurrent pass must
send byte-for-byte the same JSON (compression is deterministic, whatever else runs at the same time).
"""
from __future__ import annotations

import json
import ssl
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from headroom.core.markers import find_markers
from headroom.storage.store import open_store
from tests.support.fake_upstream import Reply

pytestmark = pytest.mark.e2e

CLIENTS_PY = Path(__file__).resolve().parents[2] / ".venv-clients" / "bin" / "python"
PROVIDERS = ("openai_chat", "openai_responses", "anthropic")
URLS = {"openai_chat": "https://api.openai.com/v1/chat/completions",
        "openai_responses": "https://api.openai.com/v1/responses",
        "anthropic": "https://api.anthropic.com/v1/messages"}
HEADERS = {"authorization": "Bearer sk-test", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
N_CLIENTS = 24
N_TUNNEL = 6
TIMEOUT = 60  # per request: a bound, not a speed check


def log_for(i: int) -> str:
    """A compressible tool output that differs per client, so one client's dropped text is never another's."""
    return "".join(f"2026-11-24 04:{j % 60:02d}:{j % 60:02d} INFO worker-{j % 7} client={i} heartbeat seq={j}\n"
                   for j in range(300)) + f"2026-11-24 05:00:00 ERROR client {i}: disk /dev/sda{i} full\n"


def tool_output(i: int, compressible: bool) -> str:
    return log_for(i) if compressible else f"exit 0 (client {i})"


def body(provider: str, tag: str, out: str, stream: bool) -> dict:
    q = f"[{tag}] why did the job fail?"
    if provider == "openai_chat":
        return {"model": "gpt-4o", "stream": stream, "messages": [
            {"role": "user", "content": q},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "bash", "arguments": "{\"cmd\": \"cat job.log\"}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": out}],
            "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]}
    if provider == "openai_responses":
        return {"model": "gpt-4o", "stream": stream, "input": [
            {"role": "user", "content": q},
            {"type": "function_call", "call_id": "call_0", "name": "bash", "arguments": "{\"cmd\": \"cat job.log\"}"},
            {"type": "function_call_output", "call_id": "call_0", "output": out}],
            "tools": [{"type": "function", "name": "bash", "parameters": {"type": "object"}}]}
    return {"model": "claude-sonnet-4-5", "max_tokens": 1000, "stream": stream, "messages": [
        {"role": "user", "content": q},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_0", "name": "bash", "input": {"cmd": "cat job.log"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": out}]}],
        "tools": [{"name": "bash", "input_schema": {"type": "object"}}]}


def plan(i: int) -> dict:
    """Client i's mix: provider, streaming, compressible output, retrieve (only when something was dropped)."""
    compressible = i % 4 != 3
    return {"i": i, "tag": f"cc-tag-{i:03d}-x", "provider": PROVIDERS[i % 3], "stream": (i // 3) % 2 == 1,
            "compressible": compressible, "retrieve": compressible and i % 4 == 1,
            "answer": f"answer for client {i}: disk sda{i} is full"}


def http(proxy) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    return httpx.Client(proxy=proxy.url, verify=ctx, timeout=TIMEOUT, trust_env=False)


def parse_sse(raw: str) -> list[dict | str]:
    out: list[dict | str] = []
    for line in raw.splitlines():
        if line.startswith("data: "):
            out.append("[DONE]" if line == "data: [DONE]" else json.loads(line[6:]))
    return out


def stream_text_in_order(provider: str, events: list) -> str:
    """The streamed text, after checking the events form one complete stream in protocol order."""
    assert events, "empty stream"
    if provider == "openai_chat":
        assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
        chunks = events[:-1]
        assert len({c["id"] for c in chunks}) == 1, "chunks of two completions interleaved"
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c["choices"])
    if provider == "anthropic":
        types = [e["type"] for e in events]
        assert types[0] == "message_start" and types[-1] == "message_stop" and types.count("message_start") == 1
        assert types.index("content_block_start") < types.index("content_block_stop") < types.index("message_delta")
        return "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    types = [e["type"] for e in events]
    seqs = [e["sequence_number"] for e in events]
    assert seqs == list(range(len(seqs))), f"events out of order: {seqs}"
    assert types[0] == "response.created" and types[-1] == "response.completed" and types.count("response.completed") == 1
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def final_text(provider: str, obj: dict) -> str:
    if provider == "openai_chat":
        return obj["choices"][0]["message"]["content"]
    if provider == "anthropic":
        return "".join(b.get("text", "") for b in obj["content"])
    return "".join(c["text"] for item in obj["output"] if item["type"] == "message" for c in item["content"])


def run_one(proxy, p: dict) -> str:
    """Send client p's request; return the answer text after checking its shape."""
    b = body(p["provider"], p["tag"], tool_output(p["i"], p["compressible"]), p["stream"])
    with http(proxy) as c:
        r = c.post(URLS[p["provider"]], json=b, headers=HEADERS)
    assert r.status_code == 200, r.text[:500]
    objs = parse_sse(r.text) if p["stream"] else [r.json()]
    assert not leaked_retrieve(objs), f"client {p['i']}: a retrieve call leaked to the client: {r.text[:800]}"
    if p["stream"]:
        assert r.headers["content-type"].startswith("text/event-stream")
        return stream_text_in_order(p["provider"], objs)
    return final_text(p["provider"], objs[0])


def leaked_retrieve(objs: list) -> bool:
    """Does the client see any trace of headroom_retrieve: a call, a result, or the tool's declaration
    (a Responses object echoes the request's `tools`; the proxy removes the injected one)?"""
    for o in objs:
        if "headroom_retrieve" in json.dumps(o):
            return True
    return False


def run_tunnel(proxy, fake, i: int) -> dict:
    # localhost is no LLM host: the proxy tunnels it untouched (the bundle trusts the fake's own CA).
    with http(proxy) as c:
        r = c.get(f"https://localhost:{fake.port}/tunnel/{i}")
    assert r.status_code == 200
    return r.json()


SDK_SCRIPT = r"""
import json, sys, openai, anthropic
tag, out = sys.argv[1], sys.argv[2]
q = f"[{tag}] why did the job fail?"
if sys.argv[3] == "openai":
    s = openai.OpenAI(max_retries=0).chat.completions.create(model="gpt-4o", stream=True, messages=[
        {"role": "user", "content": q},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": out}])
    print(json.dumps({"text": "".join((c.choices[0].delta.content or "") for c in s if c.choices)}))
else:
    with anthropic.Anthropic(max_retries=0).messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=[
            {"role": "user", "content": q},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_0", "name": "bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": out}]}]) as s:
        text = "".join(s.text_stream)
    print(json.dumps({"text": text}))
"""


def run_sdk(proxy, kind: str, tag: str, out: str) -> str:
    env = proxy.env(OPENAI_API_KEY="sk-test-fake", ANTHROPIC_API_KEY="sk-ant-test-fake")
    r = subprocess.run([str(CLIENTS_PY), "-c", SDK_SCRIPT, tag, out, kind], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])["text"]


def strings(obj) -> list[str]:
    """Every string value in a JSON document (the dropped text appears unescaped in one of them)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def requests_with(fake, tag: str) -> list:
    return [r for r in fake.requests if tag in r.decoded.decode("utf-8", "replace")]


def test_many_concurrent_clients_each_get_their_own_answer(proxy, fake_upstream):
    plans = [plan(i) for i in range(N_CLIENTS)]
    sdks = [(kind, f"cc-sdk-{kind}-x", log_for(100 + n)) for n, kind in enumerate(("openai", "anthropic"))]
    use_sdks = CLIENTS_PY.exists()

    # Pass 1, one at a time: what the proxy sends upstream for each request, and its marker keys.
    for p in plans:
        fake_upstream.queue_for(p["tag"], Reply.text("reference"))
        assert run_one(proxy, p) == "reference"
    reference, keys = {}, {}
    for p in plans:
        (sent,) = requests_with(fake_upstream, p["tag"])
        reference[p["tag"]] = sent.json
        keys[p["tag"]] = [m.key for m in find_markers(sent.decoded.decode())]
        assert bool(keys[p["tag"]]) == p["compressible"], f"client {p['i']}: compressed={keys[p['tag']]}"
    fake_upstream.clear()

    # Pass 2, all at once, events spaced so the streams really overlap.
    fake_upstream.sse_interval = 0.01
    for p in plans:
        replies = [Reply.text(p["answer"], chunks=6)]
        if p["retrieve"]:
            replies.insert(0, Reply.tool_call("headroom_retrieve", {"key": keys[p["tag"]][0]}))
        fake_upstream.queue_for(p["tag"], *replies)
    for kind, tag, _ in sdks:
        fake_upstream.queue_for(tag, Reply.text(f"sdk {kind} answer", chunks=5))
    start = threading.Barrier(N_CLIENTS + N_TUNNEL + (len(sdks) if use_sdks else 0), timeout=TIMEOUT)

    def go(fn, *args):
        start.wait()
        return fn(*args)

    with ThreadPoolExecutor(max_workers=N_CLIENTS + N_TUNNEL + len(sdks)) as pool:
        answers = [pool.submit(go, run_one, proxy, p) for p in plans]
        tunnels = [pool.submit(go, run_tunnel, proxy, fake_upstream, i) for i in range(N_TUNNEL)]
        sdk_answers = [pool.submit(go, run_sdk, proxy, kind, tag, out) for kind, tag, out in sdks] if use_sdks else []
        got = [f.result(timeout=3 * TIMEOUT) for f in answers]
        tunnel_got = [f.result(timeout=3 * TIMEOUT) for f in tunnels]
        sdk_got = [f.result(timeout=3 * TIMEOUT) for f in sdk_answers]

    assert got == [p["answer"] for p in plans]  # each its own answer, none another's
    assert tunnel_got == [{"ok": True, "method": "GET", "path": f"/tunnel/{i}"} for i in range(N_TUNNEL)]
    assert sdk_got == [f"sdk {kind} answer" for kind, _, _ in sdks][: len(sdk_got)]
    store = open_store()
    for p in plans:
        sent = requests_with(fake_upstream, p["tag"])
        assert len(sent) == (2 if p["retrieve"] else 1), f"client {p['i']}: {len(sent)} upstream requests"
        assert sent[0].json == reference[p["tag"]], f"client {p['i']}: concurrent compression differs"
        if p["retrieve"]:
            original = store.get(keys[p["tag"]][0])
            assert original and original in log_for(p["i"])
            cont = "\n\x00".join(strings(sent[1].json))
            assert original in cont, f"client {p['i']}: retrieve answered with another's text"
            assert f"client={p['i']} " in original and all(
                f"client={j} " not in cont for j in range(N_CLIENTS) if j != p["i"])
    for kind, tag, out in sdks[: len(sdk_got)]:
        (sent,) = requests_with(fake_upstream, tag)
        assert f"ERROR client {100 + sdks.index((kind, tag, out))}" in sent.decoded.decode()
        assert len(sent.decoded) < len(out)
    assert "Traceback" not in proxy.stderr_text(), proxy.stderr_text()[-3000:]
