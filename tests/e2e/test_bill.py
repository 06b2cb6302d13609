"""The bill through the real proxy: a 20-turn Claude Code-shaped session with prompt caching, the fake upstream
billing it as a caching provider, and `headroom perf` against that bill.

What the provider would have billed without Headroom is the same conversation's uncompressed requests put
through the fake's own prompt cache (tests/support/fake_upstream.PromptCache, which knows nothing of
Headroom's code), so the saving `perf` reports is checked against the fake provider's bills, not against our
own arithmetic. The fake counts input tokens as 1.3 x o200k: the calibration has a known ratio to find.
"""
from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time

import httpx
import pytest

from headroom.core import holdout, tokens
from headroom.core.pricing import load_prices
from headroom.storage.ledger import open_reader
from tests.support.fake_upstream import PromptCache

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4-5"
RATIO = 1.3
TURNS = 20
SMALL_TURNS = 4  # tool outputs too small to compress: the first marker (and the tool) comes on turn 5
SYSTEM = "You are Claude Code, a coding agent. " + "Follow the repository's conventions. " * 200
TOOLS = [{"name": n, "description": f"The {n} tool. " * 20,
          "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}}} for n in ("Bash", "Read")]


def o200k(data: bytes) -> int:
    return tokens.count(data.decode("utf-8", "replace"), tokens.encoding_for_model(MODEL))


def tool_output(turn: int) -> str:
    if turn <= SMALL_TURNS:
        return f"ok: step {turn} done"
    lines = [f"2026-12-02 05:{i % 60:02d}:{(i * 7) % 60:02d} INFO build-{turn} worker-{i % 5} compiled "
             f"module_{i} in {i % 13} ms" for i in range(350)]
    lines.insert(200, f"2026-12-02 06:00:00 ERROR build-{turn} test_{turn} failed: assertion at line {turn * 3}")
    return "\n".join(lines)


def requests(first_text: str) -> list[dict]:
    """The session's requests as Claude Code sends them: the system prompt and the newest message's last block
    carry cache_control (the breakpoint moves forward every turn), each turn adds a call and its result."""
    messages: list[dict] = [{"role": "user", "content": [{"type": "text", "text": first_text}]}]
    out = []
    for turn in range(1, TURNS + 1):
        if turn > 1:
            messages.append({"role": "assistant", "content": [
                {"type": "tool_use", "id": f"toolu_{turn:02d}", "name": "Bash", "input": {"arg": f"make step{turn}"}}]})
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{turn:02d}", "content": tool_output(turn)}]})
        sent = json.loads(json.dumps(messages))
        sent[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
        out.append({"model": MODEL, "max_tokens": 512, "stream": True, "tools": TOOLS,
                    "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
                    "messages": sent})
    return out


def first_texts() -> tuple[str, str]:
    """A first message in each arm of HEADROOM_COMPRESS_HOLDOUT=0.5 (the arm is a hash of model and text)."""
    found: dict[bool, str] = {}
    for i in range(200):
        text = f"Fix the failing build, attempt {i}"
        found.setdefault(holdout.bucket(MODEL, text) < 0.5, text)
        if len(found) == 2:
            return found[False], found[True]
    raise AssertionError("no first message for one of the arms")


def usd(bill: dict, price) -> float:
    uncached = bill["input"] - bill["cache_read"] - bill["cache_write"]
    return (uncached * price.input + bill["cache_read"] * price.cached_input + bill["cache_write"] * price.cache_write
            + bill["output"] * price.output) / 1e6


def perf() -> dict:
    r = subprocess.run([sys.executable, "-m", "headroom", "perf", "--format", "json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def run_session(start_proxy, fake_upstream, retrieve_from: str):
    fake_upstream.clear()
    fake_upstream.count_tokens = lambda data: round(RATIO * o200k(data))
    p = start_proxy(env={"HEADROOM_COMPRESS_HOLDOUT": "0.5", "HEADROOM_RETRIEVE_FROM": retrieve_from})
    treated, control = first_texts()
    ctx = ssl.create_default_context(cafile=str(p.client_ca_bundle))
    sent: dict[str, list[bytes]] = {treated: [], control: []}
    with httpx.Client(proxy=p.url, verify=ctx, timeout=60) as client:
        for text in (treated, control):
            for body in requests(text):
                raw = json.dumps(body).encode()
                with client.stream("POST", "https://api.anthropic.com/v1/messages", content=raw, headers={
                        "content-type": "application/json", "x-api-key": "sk-ant-test",
                        "anthropic-version": "2023-06-01"}) as resp:
                    resp.read()
                    assert resp.status_code == 200
                sent[text].append(raw)
    deadline = time.monotonic() + 30
    while perf()["totals"]["requests"] < 2 * TURNS and time.monotonic() < deadline:
        time.sleep(0.3)
    bills = {text: [b for b in fake_upstream.bills if text.encode() in b["decoded"]] for text in sent}
    assert [len(b) for b in bills.values()] == [TURNS, TURNS]
    return treated, control, sent, bills, fake_upstream, p


@pytest.fixture
def session(start_proxy, fake_upstream):
    """The tool added at the first marker (HEADROOM_RETRIEVE_FROM=marker): one cache break, ours."""
    return run_session(start_proxy, fake_upstream, "marker")


def test_the_tool_from_the_first_request_costs_less_than_the_break_it_avoids(start_proxy, fake_upstream, headroom_home):
    """The measurement behind HEADROOM_RETRIEVE_FROM's default: the same session, the tool added from the first
    request (first, the default) or at the first marker, billed by the fake provider."""
    price = load_prices().lookup(MODEL)
    billed = {}
    for mode in ("marker", "first"):
        treated, _, _, bills, _, p = run_session(start_proxy, fake_upstream, mode)
        billed[mode] = sum(usd(b, price) for b in bills[treated])
        t = perf()["totals"]
        assert t["cache_breaks_client"] == 0
        assert t["cache_breaks_headroom"] == (1 if mode == "marker" else 0)
        p.stop()
        for suffix in ("", "-wal", "-shm"):
            (headroom_home / f"ledger.sqlite3{suffix}").unlink(missing_ok=True)
    print(f"billed for the compressed conversation: tool at the first marker ${billed['marker']:.4f}, "
          f"from the first request ${billed['first']:.4f}")
    assert billed["first"] < billed["marker"]


def test_perf_shows_the_saving_the_providers_bill_confirms(session):
    treated, control, sent, bills, fake, _ = session
    price = load_prices().lookup(MODEL)
    billed = sum(usd(b, price) for b in bills[treated])
    # The same conversation without Headroom, through the fake provider's own prompt cache.
    cache = PromptCache(fake.count_tokens)
    without = 0.0
    for raw, b in zip(sent[treated], bills[treated]):
        total = fake.count_tokens(raw)
        read, write = cache.bill("anthropic", MODEL, json.loads(raw), total)
        without += usd({"input": total, "cache_read": read, "cache_write": write, "output": b["output"]}, price)
    confirmed = without - billed
    report = perf()
    t = report["totals"]
    assert confirmed > 0.05  # a saving worth checking: dollars, not fractions of a cent
    assert t["usd_saved"] == pytest.approx(confirmed, rel=0.01), (t, confirmed)
    # The two numbers, each labelled, never one for the other: tokens removed (our count, every request summed)
    # is far above the tokens counted once per conversation, and neither is the dollar figure.
    assert t["tokens_removed"] > 5 * t["tokens_removed_new"] > 0
    # One cache break, ours and explained (the retrieval tool's first appearance), none unexplained.
    assert t["cache_breaks_headroom"] == 1 and t["cache_breaks_client"] == 0
    assert t["usd_cache_breaks"] > 0
    # The calibration found the fake's ratio (1.3 tokens per o200k token).
    assert t["token_ratio"] == pytest.approx(RATIO, abs=0.005)
    # The old basis (every removed token at the uncached input price, on every resend) over-states it.
    assert t["tokens_removed"] * price.input / 1e6 > 2 * t["usd_saved"]
    table = subprocess.run([sys.executable, "-m", "headroom", "perf"], capture_output=True, text=True, timeout=60)
    assert f"Saved on the bill: ${t['usd_saved']:.4f}" in table.stdout
    assert f"Tokens removed: {t['tokens_removed']:,}" in table.stdout
    assert "Cache breaks caused by Headroom: 1" in table.stdout


def test_each_removed_span_counts_once_per_conversation_then_as_cache_reads(session):
    treated, control, sent, bills, fake, _ = session
    conn = open_reader()
    rows = conn.execute("SELECT tokens_before - tokens_after, removed_new, removed_again, cache_break, "
                        "compress_arm FROM requests ORDER BY id").fetchall()
    mine = [r for r in rows if r[4] == "treatment"]
    assert len(mine) == TURNS
    removed = [r[0] for r in mine]
    # Each request's removed tokens are split into new and already-removed ones, and the new ones add up to
    # the most the conversation ever removed: each span counted once.
    assert all(r[1] + r[2] == r[0] for r in mine)
    assert sum(r[1] for r in mine) == max(removed)
    assert sum(r[2] for r in mine) == sum(removed) - max(removed)
    # The break is on the first request that carries a marker (the tool's first appearance), and is Headroom's.
    breaks = [i for i, r in enumerate(mine) if r[3]]
    assert breaks == [SMALL_TURNS] and mine[SMALL_TURNS][3] == "headroom"
    assert all(r[0] == 0 and r[3] is None for r in rows if r[4] == "control")


def test_perf_reconciles_the_estimate_with_the_holdouts_measured_difference(session):
    treated, control, sent, bills, fake, _ = session
    price = load_prices().lookup(MODEL)
    r = perf()["compress_holdout"]["reconcile"]
    assert (r["treatment_conversations"], r["control_conversations"]) == (1, 1)
    # The measured difference is the fake's bills of the two conversations (exact usage, list prices).
    measured = sum(usd({**b, "output": 0}, price) for b in bills[control]) - sum(
        usd({**b, "output": 0}, price) for b in bills[treated])
    assert r["measured_usd_per_conversation"] == pytest.approx(measured, abs=1e-4)
    # Both conversations are the same work (their first messages differ by a few characters): they agree.
    assert r["estimated_usd_per_conversation"] == pytest.approx(r["measured_usd_per_conversation"], rel=0.02)
    table = subprocess.run([sys.executable, "-m", "headroom", "perf"], capture_output=True, text=True, timeout=60)
    assert "estimated saving per compressed conversation" in table.stdout


def chat_requests(first_text: str) -> list[dict]:
    """The same session in OpenAI Chat Completions' shape: automatic prompt caching, no breakpoints."""
    tools = [{"type": "function", "function": {"name": n, "description": t["description"],
                                               "parameters": t["input_schema"]}} for n, t in
             zip(("Bash", "Read"), TOOLS)]
    messages: list[dict] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": first_text}]
    out = []
    for turn in range(1, TURNS + 1):
        if turn > 1:
            messages.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{turn}", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]})
            messages.append({"role": "tool", "tool_call_id": f"call_{turn}", "content": tool_output(turn)})
        out.append({"model": "gpt-5", "tools": tools, "messages": json.loads(json.dumps(messages))})
    return out


def test_an_openai_session_with_automatic_caching_is_billed_as_the_provider_bills_it(start_proxy, fake_upstream):
    """OpenAI caches every prompt of 1024+ tokens by itself and reports the hits as cached_tokens: the saving
    perf shows is the fake's bill with and without Headroom, within 1%, and the tool's arrival at the first
    marker (no breakpoint, so not from the first request) is the one cache break, ours and charged."""
    fake_upstream.count_tokens = lambda data: round(RATIO * o200k(data))
    p = start_proxy()
    ctx = ssl.create_default_context(cafile=str(p.client_ca_bundle))
    sent = []
    with httpx.Client(proxy=p.url, verify=ctx, timeout=60) as client:
        for body in chat_requests("Fix the failing build"):
            raw = json.dumps(body).encode()
            resp = client.post("https://api.openai.com/v1/chat/completions", content=raw, headers={
                "content-type": "application/json", "authorization": "Bearer sk-test"})
            assert resp.status_code == 200
            sent.append(raw)
    deadline = time.monotonic() + 30
    while perf()["totals"]["requests"] < TURNS and time.monotonic() < deadline:
        time.sleep(0.3)
    price = load_prices().lookup("gpt-5")
    assert len(fake_upstream.bills) == TURNS and fake_upstream.bills[-1]["cache_read"] > 0
    billed = sum(usd(b, price) for b in fake_upstream.bills)
    cache = PromptCache(fake_upstream.count_tokens)
    without = 0.0
    for raw, b in zip(sent, fake_upstream.bills):
        total = fake_upstream.count_tokens(raw)
        read, write = cache.bill("openai_chat", "gpt-5", json.loads(raw), total)
        without += usd({"input": total, "cache_read": read, "cache_write": write, "output": b["output"]}, price)
    t = perf()["totals"]
    assert without - billed > 0.02
    assert t["usd_saved"] == pytest.approx(without - billed, rel=0.01), (t, without - billed)
    assert (t["cache_breaks_headroom"], t["cache_breaks_client"]) == (1, 0)
    assert t["token_ratio"] == pytest.approx(RATIO, abs=0.005)
