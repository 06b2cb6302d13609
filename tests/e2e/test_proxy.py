"""End to end through a real `headroom proxy` to the fake upstream: curl and httpx clients.

Asserts what the upstream received (tool outputs compressed, everything else as sent, untouched bodies
byte-identical) and what the client got (the answer, streamed as it was produced).
"""
from __future__ import annotations

import gzip
import json
import socket
import ssl
import subprocess
import time

import httpx
import pytest
import zstandard

from headroom.core.markers import find_markers
from headroom.storage.store import open_store
from tests.support.fake_upstream import Reply, streamed_as_sent

pytestmark = pytest.mark.e2e

# Runs of identical lines: every compressor, down to the lossless one, must shrink this.
LOG = "starting checkout worker\n" + "INFO worker heartbeat ok\n" * 900 + "ERROR payment service timed out after 30s"


def chat_body(tool_output: str = LOG, **extra) -> dict:
    return {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a careful SRE.\n" * 3},
            {"role": "user", "content": "Why did checkout fail at 05:00?"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "read_logs", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": tool_output},
        ],
        "tools": [{"type": "function", "function": {"name": "read_logs", "parameters": {"type": "object"}}}],
        **extra,
    }


def client(proxy) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    return httpx.Client(proxy=proxy.url, verify=ctx, timeout=30, trust_env=False)


def assert_only_tool_output_changed(sent: dict, received: dict, tool_index: int = 3) -> str:
    assert {k: v for k, v in sent.items() if k != "messages"} == {k: v for k, v in received.items() if k != "messages"}
    for i, (a, b) in enumerate(zip(sent["messages"], received["messages"], strict=True)):
        if i != tool_index:
            assert a == b
    out = received["messages"][tool_index]["content"]
    assert out != sent["messages"][tool_index]["content"]
    return out


def test_curl_chat_completion_tool_output_compressed(proxy, fake_upstream):
    body = chat_body()
    r = subprocess.run(
        ["curl", "-sS", "--max-time", "30", "https://api.openai.com/v1/chat/completions",
         "-H", "content-type: application/json", "-H", "authorization: Bearer sk-test", "-d", json.dumps(body)],
        env=proxy.env(), capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["choices"][0]["message"]["content"] == "Hello from the fake upstream."
    got = fake_upstream.last
    assert got.route == "/v1/chat/completions" and got.headers["host"] == "api.openai.com"
    assert got.tls_server_name == "api.openai.com" and got.headers["authorization"] == "Bearer sk-test"
    out = assert_only_tool_output_changed(body, got.json)
    assert "ERROR payment service timed out after 30s" in out
    assert len(got.body) < len(json.dumps(body)) / 3
    # What was dropped is retrievable from the proxy's store under the marker's key.
    store = open_store(proxy.home)
    for m in find_markers(out):
        assert store.get(m.key)


def test_streaming_events_arrive_as_the_upstream_sends_them(proxy, fake_upstream):
    interval = 0.15
    fake_upstream.queue(Reply.text("one two three four five six", interval=interval, chunks=6))
    arrivals = []
    with client(proxy) as c, c.stream("POST", "https://api.openai.com/v1/chat/completions",
                                      json=chat_body(stream=True)) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("data: "):
                arrivals.append((time.monotonic(), line[6:]))
    assert arrivals[-1][1] == "[DONE]"
    text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or "" for _, d in arrivals[:-1])
    assert text == "one two three four five six"
    # Buffered, every gap would be ~0 and all events would land together at the end.
    assert streamed_as_sent([t for t, _ in arrivals], interval), [t for t, _ in arrivals]
    assert "ERROR payment" in fake_upstream.last.json["messages"][3]["content"]


@pytest.mark.parametrize("enc", ["gzip", "zstd"])
def test_encoded_request_bodies(proxy, fake_upstream, enc):
    body = chat_body()
    raw = json.dumps(body).encode()
    data = gzip.compress(raw) if enc == "gzip" else zstandard.ZstdCompressor().compress(raw)
    with client(proxy) as c:
        r = c.post("https://api.openai.com/v1/chat/completions", content=data,
                   headers={"content-type": "application/json", "content-encoding": enc})
    assert r.status_code == 200
    got = fake_upstream.last
    assert got.headers["content-encoding"] == enc and got.body != data
    assert_only_tool_output_changed(body, got.json)


@pytest.mark.parametrize("kind", ["malformed json", "non-utf8", "huge untouched", "gzip garbage"])
def test_bodies_forwarded_byte_identical(proxy, fake_upstream, kind):
    headers = {"content-type": "application/json"}
    if kind == "malformed json":
        data = json.dumps(chat_body()).encode()[:-7]
    elif kind == "non-utf8":
        data = b'{"model": "gpt-4o", "messages": [{"role": "tool", "content": "\xff\xfe\x80 latin-1 \xe9t\xe9"}]}'
    elif kind == "huge untouched":  # 12 MB of user text, pretty-printed: nothing to compress, nothing re-serialised
        data = json.dumps({"model": "gpt-4o", "messages": [
            {"role": "user", "content": "x" * 1000 + f" {i}"} for i in range(12_000)]}, indent=4).encode()
    else:
        data = b"\x1f\x8b\x08\x00 definitely not gzip"
        headers["content-encoding"] = "gzip"
    with client(proxy) as c:
        r = c.post("https://api.openai.com/v1/chat/completions", content=data, headers=headers)
    assert r.status_code == 200
    assert fake_upstream.last.body == data


def test_bypass_header_forwards_untouched_and_headroom_headers_never_leave(proxy, fake_upstream):
    data = json.dumps(chat_body()).encode()
    with client(proxy) as c:
        c.post("https://api.openai.com/v1/chat/completions", content=data,
               headers={"content-type": "application/json", "x-headroom-bypass": "1", "x-headroom-session-id": "s1"})
    got = fake_upstream.last
    assert got.body == data
    assert not [h for h in got.headers if h.startswith("x-headroom-")]


def test_pass_through_paths_are_byte_identical(proxy, fake_upstream):
    body = {"model": "claude-sonnet-4-5", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": LOG}]},
    ]}
    data = json.dumps(body).encode()
    with client(proxy) as c:
        r = c.post("https://api.anthropic.com/v1/messages/count_tokens", content=data)
        assert r.status_code == 200 and r.json()["input_tokens"] > 0
        assert fake_upstream.last.body == data
        r = c.post("https://api.anthropic.com/v1/messages", content=data)
        assert r.json()["type"] == "message"
        assert len(fake_upstream.last.body) < len(data) / 3
        r = c.get("https://api.openai.com/v1/models")
        assert r.json()["path"] == "/v1/models"


def test_keep_alive_connection_is_reused_and_every_request_compressed(proxy, fake_upstream):
    with client(proxy) as c:
        for _ in range(5):
            assert c.post("https://api.openai.com/v1/chat/completions", json=chat_body()).status_code == 200
    reqs = fake_upstream.wait_for(5)
    assert all(len(r.body) < len(LOG) / 3 for r in reqs)


def test_responses_and_gemini_shapes_through_the_proxy(proxy, fake_upstream):
    responses_body = {"model": "gpt-5-codex", "stream": True, "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "check the logs"}]},
        {"type": "function_call", "call_id": "call_9", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_9", "output": LOG},
    ]}
    gemini_body = {"contents": [
        {"role": "user", "parts": [{"text": "check the logs"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "shell", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "shell", "response": {"output": LOG, "exit": 1}}}]},
    ]}
    with client(proxy) as c:
        with c.stream("POST", "https://api.openai.com/v1/responses", json=responses_body) as r:
            events = [ln for ln in r.iter_lines() if ln.startswith("event: ")]
        assert events[0] == "event: response.created" and events[-1] == "event: response.completed"
        sent = fake_upstream.last.json["input"]
        assert sent[:2] == responses_body["input"][:2] and len(sent[2]["output"]) < len(LOG) / 3
        with c.stream("POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                      json=gemini_body) as r:
            chunks = [json.loads(ln[6:]) for ln in r.iter_lines() if ln.startswith("data: ")]
        assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
        resp = fake_upstream.last.json["contents"][2]["parts"][0]["functionResponse"]["response"]
        assert resp["exit"] == 1 and "ERROR payment" in resp["output"] and len(resp["output"]) < len(LOG) / 3


def _peer_issuer(proxy, host: str, port: int, sni: str | None = None) -> str:
    """CONNECT through the proxy to host:port, handshake naming `sni` (default `host`), return the issuer CN
    of the certificate seen."""
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        assert head.startswith(b"HTTP/1.1 200"), head
        with ctx.wrap_socket(s, server_hostname=sni or host) as tls:
            cert = tls.getpeercert()
    return dict(x[0] for x in cert["issuer"])["commonName"]


def test_non_llm_host_is_tunnelled_with_its_own_certificate(proxy, fake_upstream):
    # localhost is not an LLM host: the client must see the fake's own test CA, not the headroom CA.
    assert _peer_issuer(proxy, "localhost", fake_upstream.port) == "Headroom fake upstream test CA"
    assert _peer_issuer(proxy, "api.openai.com", 443) == "Headroom local CA"
    data = json.dumps(chat_body()).encode()
    with client(proxy) as c:
        r = c.post(f"https://localhost:{fake_upstream.port}/v1/chat/completions", content=data)
    assert r.status_code == 200 and fake_upstream.last.body == data


def test_upstream_error_status_and_a_slow_answer_reach_the_client(proxy, fake_upstream):
    fake_upstream.queue(Reply.error(429, "slow down"), Reply.text("thought about it", delay=0.5))
    with client(proxy) as c:
        r = c.post("https://api.openai.com/v1/chat/completions", json=chat_body())
        assert r.status_code == 429 and r.json()["error"]["message"] == "slow down"
        t0 = time.monotonic()
        r = c.post("https://api.openai.com/v1/chat/completions", json=chat_body())
        assert r.json()["choices"][0]["message"]["content"] == "thought about it"
        assert time.monotonic() - t0 >= 0.5


def test_no_compress_forwards_everything_byte_identical(start_proxy, fake_upstream):
    p = start_proxy("--no-compress")
    data = json.dumps(chat_body(), indent=2).encode()
    with client(p) as c:
        assert c.post("https://api.openai.com/v1/chat/completions", content=data).status_code == 200
    assert fake_upstream.last.body == data


def test_past_the_compression_budget_the_original_goes_and_is_logged_once(start_proxy, fake_upstream):
    p = start_proxy(env={"HEADROOM_COMPRESS_TIMEOUT_MS": "1"})
    big = "\n".join(f"line {i} of a large build log, step {i % 97} done" for i in range(60_000))
    with client(p) as c:
        for n in range(2):  # new content each time, so no cached result can answer within the budget
            data = json.dumps(chat_body(f"{big}\nattempt {n}")).encode()
            assert c.post("https://api.openai.com/v1/chat/completions", content=data).status_code == 200
            assert fake_upstream.last.body == data, p.stderr_text()
    deadline = time.monotonic() + 5
    while "timeout" not in p.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.stderr_text().count("unchanged, timeout") == 1, p.stderr_text()


def test_logs_never_carry_a_planted_secret(start_proxy, fake_upstream):
    """Issue 15 item 4: every fail-open kind the proxy logs, met with bodies that hold a planted secret, and a
    lone surrogate (whose tokenizer error once logged the whole tool output): the proxy's log and its home's
    ledger never hold the secret, and every body still reaches the upstream byte-identical or compressed."""
    secret = "sk-planted-5f1e0c9a2b7d4e63"
    p = start_proxy()
    compact = json.dumps(chat_body(f"{LOG}\n{secret}"), separators=(",", ":"))
    bodies = {
        "not json": ({}, f'{{"model":"gpt-4o","messages":[{{"content":"{secret}"'.encode()),
        "unknown shape": ({}, json.dumps([secret, LOG]).encode()),
        "content-encoding": ({"content-encoding": "gzip"}, f"not gzip {secret}".encode()),
        "unsupported encoding": ({"content-encoding": "compress"}, gzip.compress(compact.encode())),
        "json style": ({}, compact.replace('"model":"gpt-4o"', f'"model":"gpt-4o","user":"{secret}","user":"u"').encode()),
        "too large": ({"content-encoding": "zstd"},
                      zstandard.ZstdCompressor(write_content_size=False).compress(
                          (compact[:-1] + ',"pad":"' + "x" * (65 << 20) + '"}').encode())),
        "lone surrogate": ({}, compact.replace(secret, secret + "\\ud83d").encode()),
    }
    with client(p) as c:
        for kind, (headers, data) in bodies.items():
            r = c.post("https://api.openai.com/v1/chat/completions", content=data,
                       headers={"content-type": "application/json", **headers})
            assert r.status_code == 200, kind
            if kind not in ("lone surrogate",):
                assert fake_upstream.last.body == data, kind
    assert len(fake_upstream.last.body) < len(bodies["lone surrogate"][1])  # compressed, not failed open
    p.stop()
    log = p.stderr_text()
    for kind in ("not json", "content-encoding", "json style", "too large"):
        assert f"unchanged, {kind}" in log, log
    assert secret not in log
    for f in p.home.rglob("*"):
        if f.is_file() and "ledger" in f.name:
            assert secret.encode() not in f.read_bytes(), f


def test_a_second_proxy_in_the_same_home_leaves_the_first_ones_upstream_trust(proxy, fake_upstream, headroom_home):
    """Issue 15 item 5: proxy A (trusting the upstream's CA through --upstream-ca) failed verification once
    proxy B started without it in the same home: both wrote one bundle file that A read lazily."""
    from tests.support.proxy import launch_proxy

    other = launch_proxy(None, headroom_home)  # no --upstream-ca: the plain roots
    try:
        with client(proxy) as c:
            r = c.post("https://api.openai.com/v1/chat/completions", json=chat_body())
        assert r.status_code == 200, proxy.stderr_text()
        assert fake_upstream.last.body  # reached the upstream, verified against A's own roots
    finally:
        other.stop()


def test_an_unreachable_host_is_said_in_the_502_and_once_in_the_log(proxy):
    """Issue 15 item 13: DNS failure or no route gave a bare 502 on CONNECT and nothing in the log."""
    for target in ("no-such-host.invalid:443", "no-such-host.invalid:443", "127.0.0.1:9"):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as s:
            s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            data = b""
            for _ in range(50):  # bounded: the 502's head and body, until the proxy closes the connection
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next((int(v) for k, _, v in (ln.partition(b": ") for ln in head.split(b"\r\n"))
                               if k.lower() == b"content-length"), None)
                if length is not None and len(rest) >= length:
                    break
            answer = data.decode()
        assert answer.startswith("HTTP/1.1 502"), answer
        assert f"cannot reach {target}" in answer
        assert ("DNS lookup failed" if "invalid" in target else "connection refused") in answer
    deadline = time.monotonic() + 5
    while "127.0.0.1:9" not in proxy.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = proxy.stderr_text()
    assert log.count("cannot reach no-such-host.invalid:443: DNS lookup failed") == 1, log
    assert "cannot reach 127.0.0.1:9: connection refused" in log


def test_an_unlisted_address_is_tunnelled_whatever_its_sni_says(proxy, fake_upstream):
    """Issue 15 item 15: a CONNECT to an unlisted IP whose ClientHello named an LLM host was decrypted.
    What the client asked for decides: here the fake upstream's own certificate comes back."""
    issuer = _peer_issuer(proxy, "127.0.0.1", fake_upstream.port, sni="api.openai.com")
    assert issuer == "Headroom fake upstream test CA"
