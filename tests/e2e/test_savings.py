"""Real traffic through the real proxy to the fake upstream, then every view of the savings agrees with
what the upstream actually received and reported: `headroom perf`, /stats, /metrics."""
from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from headroom.core import tokens
from headroom.proxyinfo import probe_health

pytestmark = pytest.mark.e2e

LOG = "".join(f"2026-11-24 04:{i % 60:02d}:{i % 60:02d} INFO worker-{i % 7} heartbeat ok seq={i}\n"
              for i in range(400)) + "2026-11-24 05:00:00 ERROR disk /dev/sda1 full\n"
ROWS = json.dumps([{"id": i, "name": f"user{i}", "active": i % 2 == 0, "plan": "free"} for i in range(200)])


def requests_to_send() -> list[tuple[str, str, dict, dict]]:
    """(model, url, headers, body): the four API shapes, streamed and not, one bypassed."""
    return [
        ("gpt-4o", "https://api.openai.com/v1/chat/completions", {}, {
            "model": "gpt-4o", "messages": [
                {"role": "user", "content": "Why did the worker fail?"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                    "name": "read_log", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": LOG}]}),
        ("gpt-4o-mini", "https://api.openai.com/v1/chat/completions", {}, {
            "model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}, "messages": [
                {"role": "user", "content": "List inactive users"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c2", "type": "function", "function": {
                    "name": "query", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c2", "content": ROWS}]}),
        ("claude-sonnet-4-5", "https://api.anthropic.com/v1/messages", {"anthropic-version": "2023-06-01"}, {
            "model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True, "messages": [
                {"role": "user", "content": "Why did the worker fail?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read_log", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": LOG}]}]}),
        ("gpt-4.1", "https://api.openai.com/v1/responses", {}, {
            "model": "gpt-4.1", "input": [
                {"role": "user", "content": "Summarise the users"},
                {"type": "function_call", "call_id": "f1", "name": "query", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "f1", "output": ROWS}]}),
        ("gemini-2.5-flash", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
         {}, {"contents": [
             {"role": "user", "parts": [{"text": "Why did the worker fail?"}]},
             {"role": "model", "parts": [{"functionCall": {"name": "read_log", "args": {}}}]},
             {"role": "user", "parts": [{"functionResponse": {"name": "read_log", "response": {"output": LOG}}}]}]}),
        ("gpt-4o", "https://api.openai.com/v1/chat/completions", {"x-headroom-bypass": "1"}, {
            "model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}),
    ]


def wait_for_rows(n: int, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = subprocess.run([sys.executable, "-m", "headroom", "perf", "--format", "json"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        if got["totals"]["requests"] >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


@pytest.fixture
def traffic(proxy, fake_upstream):
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    sent = []
    with httpx.Client(proxy=proxy.url, verify=ctx, timeout=30) as client:
        for model, url, headers, body in requests_to_send():
            raw = json.dumps(body).encode()
            with client.stream("POST", url, content=raw, headers={"content-type": "application/json",
                                                                  "authorization": "Bearer sk-test-fake",
                                                                  **headers}) as resp:
                resp.read()
                assert resp.status_code == 200, resp.text
            sent.append((model, raw))
    fake_upstream.wait_for(len(sent))
    return sent


def test_perf_totals_equal_what_the_upstream_received_and_reported(proxy, fake_upstream, traffic):
    perf = wait_for_rows(len(traffic))
    t = perf["totals"]
    received = fake_upstream.requests
    assert len(received) == len(traffic) == t["requests"]
    models = [m for m, _ in traffic]
    # Recorded in arrival order, which is the send order (one client, one request at a time).
    expect_after = sum(tokens.count(r.decoded.decode(), tokens.encoding_for_model(m)) for m, r in zip(models, received))
    expect_before = sum(tokens.count(raw.decode(), tokens.encoding_for_model(m)) for m, raw in traffic)
    assert t["tokens_after"] == expect_after
    assert t["tokens_before"] == expect_before
    assert t["tokens_before"] > t["tokens_after"]  # the logs and rows were compressed
    # The fake reports input = len(decoded body) // 4 for each shape; output as its replies say.
    assert t["usage"]["input"] == sum(max(1, len(r.decoded) // 4) for r in received)
    assert t["usage"]["requests"] == len(traffic)
    assert t["bypass"] == 1 and t["fail_open"] == 0 and t["errors"] == 0
    assert t["tool_tokens_before"] > t["tool_tokens_after"] > 0
    assert {m["model"] for m in perf["per_model"]} == set(models)
    assert sum(m["requests"] for m in perf["per_model"]) == len(traffic)
    assert perf["per_content_type"], "content types of the compressed tool outputs are recorded"
    assert perf["latency_ms"]["compression"]["count"] == t["compressed_requests"] >= 4
    assert perf["latency_ms"]["ttfb"]["count"] == len(traffic)


def test_stats_and_metrics_agree_with_perf(proxy, traffic):
    perf = wait_for_rows(len(traffic))
    admin = probe_health(proxy.port)["admin_url"]
    with urllib.request.urlopen(f"{admin}/stats?since=24h", timeout=10) as resp:
        stats = json.load(resp)
    for key in ("totals", "per_model", "per_content_type", "latency_ms"):
        assert stats[key] == perf[key], key
    with urllib.request.urlopen(f"{admin}/metrics", timeout=10) as resp:
        fams = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    assert {s.labels.get("replica") for f in fams.values() for s in f.samples} == {socket.gethostname()}
    samples = {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "replica"))): s.value
               for f in fams.values() for s in f.samples}
    t = perf["totals"]
    assert samples[("headroom_requests_total", ())] == t["requests"]
    assert samples[("headroom_tokens_before_total", (("scope", "request"),))] == t["tokens_before"]
    assert samples[("headroom_tokens_after_total", (("scope", "tool_outputs"),))] == t["tool_tokens_after"]
    assert samples[("headroom_provider_usage_tokens_total", (("kind", "input"),))] == t["usage"]["input"]
    assert samples[("headroom_bypass_total", ())] == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_retrieval_round_is_counted_with_the_usage_of_every_round(proxy, fake_upstream, stream):
    """The model asks for dropped content: the proxy answers it and asks the upstream again. The ledger
    row counts one retrieval, and its usage is what the upstream reported over both rounds."""
    from headroom.core.markers import find_markers
    from tests.support.fake_upstream import Reply

    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    body = requests_to_send()[2][3]  # Anthropic, with a long log as the tool result
    body = {**body, "stream": stream}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test-fake"}
    with httpx.Client(proxy=proxy.url, verify=ctx, timeout=30, trust_env=False) as client:
        fake_upstream.queue(Reply.text("noted"))
        assert client.post("https://api.anthropic.com/v1/messages", json=body, headers=headers).status_code == 200
        keys = [m.key for m in find_markers(fake_upstream.last.decoded.decode())]
        assert keys, "the proxy did not compress the log; nothing to retrieve"
        fake_upstream.queue(Reply.tool_call("headroom_retrieve", {"key": keys[0]}), Reply.text("the disk is full"))
        r = client.post("https://api.anthropic.com/v1/messages", json=body, headers=headers)
        assert r.status_code == 200 and "headroom_retrieve" not in r.text
    received = fake_upstream.wait_for(3)
    perf = wait_for_rows(2)
    t = perf["totals"]
    assert t["requests"] == 2 and t["retrievals"] == 1
    # The fake reports input = len(body) // 4 per round; rounds 2 and 3 belong to the second request.
    assert t["usage"]["input"] == sum(max(1, len(r.decoded) // 4) for r in received)
