"""HEADROOM_COMPRESS_HOLDOUT through the real proxy: control conversations reach the upstream byte-identical
(no compression, no retrieval tool) and are recorded as control; treatment ones are compressed."""
from __future__ import annotations

import json
import ssl
import time
import urllib.request

import httpx
import pytest

from headroom.core import holdout
from headroom.proxyinfo import probe_health
from tests.e2e.test_savings import wait_for_rows

pytestmark = pytest.mark.e2e

URL = "https://api.openai.com/v1/chat/completions"
LOG = "".join(f"2026-11-24 04:{i % 60:02d}:{i % 60:02d} INFO worker-{i % 7} heartbeat ok seq={i}\n"
              for i in range(400)) + "2026-11-24 05:00:00 ERROR disk /dev/sda1 full\n"


def body(first: str, model: str = "gpt-4o") -> dict:
    return {"model": model, "messages": [
        {"role": "user", "content": first},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "read_log", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": LOG}]}


def conversation_in(arm: str, fraction: float) -> str:
    """A first message whose conversation lands in `arm` at `fraction` (found, not assumed)."""
    for i in range(1000):
        first = f"Why did worker {i} fail?"
        if holdout.arm_for("openai_chat", body(first), "/v1/chat/completions", fraction) == arm:
            return first
    raise AssertionError(f"no conversation in {arm} among 1000")


def send(proxy, bodies: list[dict]) -> list[bytes]:
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    sent = []
    with httpx.Client(proxy=proxy.url, verify=ctx, timeout=30) as client:
        for b in bodies:
            raw = json.dumps(b).encode()
            r = client.post(URL, content=raw, headers={"content-type": "application/json",
                                                       "authorization": "Bearer sk-test-fake"})
            assert r.status_code == 200, r.text
            sent.append(raw)
    return sent


def test_all_control_is_byte_identical_and_recorded_as_control(start_proxy, fake_upstream):
    proxy = start_proxy(env={holdout.COMPRESS_ENV: "1"})
    before = len(fake_upstream.requests)
    sent = send(proxy, [body("Why did the worker fail?"), body("And the disk?", model="gpt-4o-mini")])
    fake_upstream.wait_for(before + len(sent))
    received = fake_upstream.requests[before:]
    assert [r.body for r in received] == sent  # untouched: no compression, no retrieval tool
    perf = wait_for_rows(len(sent))
    t = perf["totals"]
    assert t["requests"] == 2 and t["compressed_requests"] == 0 and t["bypass"] == 0
    h = perf["compress_holdout"]
    assert h["arms"]["control"]["requests"] == 2 and h["arms"]["treatment"]["requests"] == 0
    assert h["arms"]["control"]["avg_input_tokens"] == sum(max(1, len(r.decoded) // 4) for r in received) / 2
    admin = probe_health(proxy.port)["admin_url"]
    with urllib.request.urlopen(f"{admin}/stats?since=24h", timeout=10) as resp:
        assert json.load(resp)["compress_holdout"] == h  # the dashboard's figures: the same computation


def test_no_holdout_compresses_and_has_no_holdout_section(start_proxy, fake_upstream):
    proxy = start_proxy(env={holdout.COMPRESS_ENV: "0"})
    before = len(fake_upstream.requests)
    sent = send(proxy, [body("Why did the worker fail?")])
    fake_upstream.wait_for(before + 1)
    assert len(fake_upstream.requests[before].body) < len(sent[0])  # compressed
    perf = wait_for_rows(1)
    assert perf["totals"]["compressed_requests"] == 1 and perf["compress_holdout"] is None


def test_half_holdout_splits_by_conversation(start_proxy, fake_upstream):
    proxy = start_proxy(env={holdout.COMPRESS_ENV: "0.5"})
    control, treatment = conversation_in("control", 0.5), conversation_in("treatment", 0.5)
    # Two turns of each conversation: the later turn must land in the same arm as the first.
    convs = [body(control), body(treatment)]
    later = [json.loads(json.dumps(b)) for b in convs]
    for b in later:
        b["messages"].append({"role": "user", "content": "thanks, now fix it"})
    before = len(fake_upstream.requests)
    sent = send(proxy, convs + later)
    fake_upstream.wait_for(before + 4)
    received = [r.body for r in fake_upstream.requests[before:]]
    assert received[0] == sent[0] and received[2] == sent[2]  # control: byte-identical, every turn
    assert len(received[1]) < len(sent[1]) and len(received[3]) < len(sent[3])  # treatment: compressed
    h = wait_for_rows(4)["compress_holdout"]
    assert h["arms"]["control"]["requests"] == 2 and h["arms"]["treatment"]["requests"] == 2
    assert h["input_tokens_difference"] < 0  # the compressed conversation billed fewer input tokens


def test_dashboard_shows_the_holdout_figures_perf_prints(start_proxy, fake_upstream, tmp_path):
    import re

    from headroom.cli.perf import render_holdout
    from headroom.storage.ledger import open_reader
    from headroom.storage.report import build_report
    from tests.e2e.test_savings_dashboard import CHROMIUM, NO_BROWSER, chromium

    if NO_BROWSER:
        pytest.skip("needs the Debian chromium package (.ci/run installs it)")
    assert CHROMIUM
    proxy = start_proxy(env={holdout.COMPRESS_ENV: "0.5"})
    before = len(fake_upstream.requests)
    send(proxy, [body(conversation_in("control", 0.5)), body(conversation_in("treatment", 0.5))])
    fake_upstream.wait_for(before + 2)
    h = wait_for_rows(2)["compress_holdout"]
    url = probe_health(proxy.port)["admin_url"] + "/dashboard#since=24h"
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", url, tmp=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    section = re.search(r'<section class="panel" id="holdout"([^>]*)>(.*?)</section>', dom.stdout, re.S)
    assert section and "hidden" not in section.group(1)
    shown = re.search(r'id="holdout-diff">([^<]*)<', section.group(2)).group(1)
    # perf's table line and the dashboard print the same digits for the difference.
    report = build_report(open_reader(), since=time.time() - 86400)  # what `headroom perf` reads
    perf_line = next(line for line in render_holdout(report.compress_holdout) if "compressed minus uncompressed" in line)
    assert shown and shown.split(" (")[0] in perf_line
    assert "Uncompressed (control)" in section.group(2) and h["note"] in section.group(2)
