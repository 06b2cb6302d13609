"""HEADROOM_OUTPUT_SHAPER through the real proxy to the fake upstream, for every API shape: the system prompt of
every turn ends with the level's exact text, the same bytes each turn; effort is lowered only on mechanical
turns and only where the client sent one; nothing else in the body changes. With HEADROOM_OUTPUT_HOLDOUT a
control conversation reaches the upstream byte-identical on every turn, and perf compares the arms with the
output usage the fake upstream reported."""
from __future__ import annotations

import json
import socket
import ssl
import urllib.request

import httpx
import pytest

from headroom.core import holdout
from headroom.core.shaper import instruction
from headroom.proxyinfo import probe_health
from tests.core.test_shaper import BUILDERS, EFFORT, ask, at
from tests.e2e.test_savings import wait_for_rows
from tests.support.fake_upstream import Reply
from tests.support.shaping import instruction_of, unshape

pytestmark = pytest.mark.e2e

URLS = {
    "anthropic": "https://api.anthropic.com/v1/messages",
    "openai_chat": "https://api.openai.com/v1/chat/completions",
    "openai_responses": "https://api.openai.com/v1/responses",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
}
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-test-fake", "x-api-key": "sk-ant-test",
           "anthropic-version": "2023-06-01", "x-goog-api-key": "test"}


def conversation(provider: str, turns: int = 3) -> list[dict]:
    """The requests of one agent conversation: a mechanical turn after each tool result, then a new ask."""
    bodies = []
    for n in range(1, turns + 1):
        body = BUILDERS[provider](n)
        body.pop("stream", None)
        bodies.append(body)
    bodies.append(ask(provider, bodies[-1]))
    return bodies


def send(proxy, provider: str, bodies: list[dict]) -> list[bytes]:
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    sent = []
    with httpx.Client(proxy=proxy.url, verify=ctx, timeout=30) as client:
        for b in bodies:
            raw = json.dumps(b).encode()
            r = client.post(URLS[provider], content=raw, headers=HEADERS)
            assert r.status_code == 200, r.text
            sent.append(raw)
    return sent


# These bodies set a cache breakpoint, so by default the retrieval tool joins them from the first request
# (HEADROOM_RETRIEVE_FROM=first, tests/e2e/test_bill.py); here only the shaper's own change is looked at.
ONLY_SHAPING = {"HEADROOM_RETRIEVE_FROM": "marker"}


@pytest.mark.parametrize("provider", list(URLS))
def test_every_turn_is_shaped_the_same_way(start_proxy, fake_upstream, provider):
    proxy = start_proxy(env={"HEADROOM_OUTPUT_SHAPER": "1", **ONLY_SHAPING})
    bodies = conversation(provider)
    before = len(fake_upstream.requests)
    send(proxy, provider, bodies)
    received = [r.json for r in fake_upstream.wait_for(before + len(bodies))[before:]]
    level = instruction(2)
    encoded = json.dumps(level, ensure_ascii=False).encode()[1:-1]  # as JSON string content
    for body, got, rec in zip(bodies, received, fake_upstream.requests[before:]):
        assert instruction_of(provider, got) == level
        assert encoded in rec.decoded  # the exact bytes of the level's text on the wire
        assert unshape(provider, got, body) == body  # nothing else in the body changed
    # The shaped system prompt, byte for byte the same on every turn.
    systems = {json.dumps(got.get("system") or got.get("systemInstruction") or (got.get("messages") or [{}])[0]
                          if provider != "openai_responses" else got["input"][:2]) for got in received}
    assert len(systems) == 1
    # Effort: lowered on the mechanical turns (all but the last), as sent on the new ask.
    for path, sent_value, lowered in EFFORT[provider]:
        floor = 512 if provider == "gemini" else lowered  # gemini-2.5-flash's floor (the path names the model)
        assert [at(got, path) for got in received] == [floor] * (len(bodies) - 1) + [sent_value]


def test_effort_is_never_added_and_the_switch_keeps_it_as_sent(start_proxy, fake_upstream):
    proxy = start_proxy(env={"HEADROOM_OUTPUT_SHAPER": "1", "HEADROOM_OUTPUT_SHAPER_EFFORT": "0",
                             "HEADROOM_OUTPUT_SHAPER_LEVEL": "1"})
    bodies = conversation("anthropic", 2)
    bare = conversation("openai_chat", 2)
    for b in bare:
        b.pop("reasoning_effort")
    before = len(fake_upstream.requests)
    send(proxy, "anthropic", bodies)
    send(proxy, "openai_chat", bare)
    received = [r.json for r in fake_upstream.wait_for(before + 6)[before:]]
    assert [got["output_config"] for got in received[:3]] == [{"effort": "high"}] * 3  # the switch: as sent
    assert all("reasoning_effort" not in got for got in received[3:])  # never added
    assert all(instruction_of(p, got) == instruction(1)
               for p, got in zip(["anthropic"] * 3 + ["openai_chat"] * 3, received))


def test_off_by_default_every_body_is_byte_identical(start_proxy, fake_upstream):
    proxy = start_proxy(env=ONLY_SHAPING)
    bodies = conversation("anthropic", 2)
    before = len(fake_upstream.requests)
    sent = send(proxy, "anthropic", bodies)
    assert [r.body for r in fake_upstream.wait_for(before + 3)[before:]] == sent


def first_in(arm: str, fraction: float) -> str:
    for i in range(1000):
        first = f"conversation {i}: list the files"
        body = BUILDERS["openai_chat"](1)
        body["messages"][1]["content"] = first
        if holdout.arm_for("openai_chat", body, "/v1/chat/completions", fraction, holdout.OUTPUT) == arm:
            return first
    raise AssertionError(f"no conversation in {arm}")


def two_arms(proxy, fake_upstream, turns: int = 10):
    """One conversation in each arm of the output holdout at 0.5, `turns` mechanical turns each; the fake
    reports 100 and 120 output tokens in turn for the shaped one, 200 and 240 for the control one."""
    convs = {}
    for arm, outputs in (("treatment", [100, 120]), ("control", [200, 240])):
        first = first_in(arm, 0.5)
        bodies = []
        for n in range(1, turns + 1):  # every turn mechanical: the model calls a tool, the result comes back
            body = BUILDERS["openai_chat"](n)
            body["messages"][1]["content"] = first
            body.pop("stream")
            bodies.append(body)
        fake_upstream.queue_for(first, *(Reply.text("ok", output_tokens=outputs[i % 2]) for i in range(turns)))
        convs[arm] = (first, bodies)
    before = len(fake_upstream.requests)
    sent = {arm: send(proxy, "openai_chat", bodies) for arm, (_, bodies) in convs.items()}
    return convs, sent, fake_upstream.wait_for(before + 2 * turns)[before:]


def test_holdout_arms_are_stable_and_perf_compares_them_with_known_numbers(start_proxy, fake_upstream):
    proxy = start_proxy(env={"HEADROOM_OUTPUT_SHAPER": "1", "HEADROOM_OUTPUT_HOLDOUT": "0.5"})
    turns = 10
    convs, sent, got = two_arms(proxy, fake_upstream, turns)
    control = [r.body for r in got if convs["control"][0].encode() in r.decoded]
    treatment = [r.json for r in got if convs["treatment"][0].encode() in r.decoded]
    assert control == sent["control"]  # the control arm: byte-identical, every turn
    assert len(treatment) == turns and all(instruction_of("openai_chat", b) == instruction(2) for b in treatment)
    assert all(b["reasoning_effort"] == "low" for b in treatment)
    perf = wait_for_rows(2 * turns)
    o = perf["output_shaping"]
    assert (o["shaped_requests"], o["treatment_requests"], o["control_requests"]) == (turns, turns, turns)
    g = next(g for g in o["groups"] if (g["model"], g["turn_kind"]) == ("(all)", "mechanical"))
    assert (g["shaped"]["mean"], g["control"]["mean"]) == (110.0, 220.0)
    assert (g["difference"], g["difference_ci_low"], g["difference_ci_high"]) == (-110.0, -126.1, -93.9)
    assert (g["difference_pct"], g["difference_pct_ci_low"], g["difference_pct_ci_high"]) == (-50.0, -54.6, -45.4)
    admin = probe_health(proxy.port)["admin_url"]
    with urllib.request.urlopen(f"{admin}/stats?since=24h", timeout=10) as resp:
        assert json.load(resp)["output_shaping"] == o  # the dashboard's figures: the same computation
    with urllib.request.urlopen(f"{admin}/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    r = socket.gethostname()  # every series carries the replica label (HEADROOM_REPLICA, default the host name)
    assert f'headroom_output_tokens_per_turn_difference{{replica="{r}",model="(all)",turn_kind="mechanical"}} -110' in metrics
    assert f'headroom_output_tokens_per_turn_mean{{replica="{r}",arm="control",model="(all)",turn_kind="mechanical"}} 220' in metrics


def test_the_dashboard_shows_the_shaping_figures_perf_prints(start_proxy, fake_upstream, tmp_path):
    import re
    import time

    from headroom.cli.perf import shaping_line
    from headroom.storage.ledger import open_reader
    from headroom.storage.report import build_report
    from tests.e2e.test_savings_dashboard import CHROMIUM, NO_BROWSER, chromium

    if NO_BROWSER:
        pytest.skip("needs the Debian chromium package (.ci/run installs it)")
    assert CHROMIUM
    proxy = start_proxy(env={"HEADROOM_OUTPUT_SHAPER": "1", "HEADROOM_OUTPUT_HOLDOUT": "0.5"})
    two_arms(proxy, fake_upstream)
    o = wait_for_rows(20)["output_shaping"]
    url = probe_health(proxy.port)["admin_url"] + "/dashboard#since=24h"
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", url, tmp=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    section = re.search(r'<section class="panel" id="shaping"([^>]*)>(.*?)</section>', dom.stdout, re.S)
    assert section and "hidden" not in section.group(1)
    report = build_report(open_reader(), since=time.time() - 86400)  # what `headroom perf` reads
    mechanical = next(g for g in report.output_shaping.groups if (g.model, g.turn_kind) == ("(all)", "mechanical"))
    line = shaping_line(mechanical)  # perf's words for the difference, with its interval
    assert line.startswith("-110.0 tokens/turn [-126.1, -93.9]")
    assert f"<td>{line}</td>" in section.group(2)
    assert "110.0 [102.5, 117.5]" in section.group(2) and o["note"] in section.group(2)
