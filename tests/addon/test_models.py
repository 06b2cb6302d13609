"""The compressor's models over a proxy's life (addon/intercept.py `Models`): released when idle, loaded again
by the next request, which waits for the one shared load outside its time budget; never released under a
running compression; and /readyz does not wait for them. Real threads, real models, every wait bounded."""
from __future__ import annotations

import asyncio
import json
import threading
import time

from mitmproxy.test import taddons

from headroom.addon.intercept import Encode, Intercept, Models, _release
from headroom.addon.ops import Ops
from headroom.addon.state import state_of
from headroom.core import relevance, tokens
from headroom.core.pipeline import compress_body

from .test_intercept import chat, make_flow

WAIT_S = 60  # the bound of every wait here; none is expected to come near it

# A Python module: the code compressor ranks its functions with the relevance model.
CODE = "\n\n".join(f'def handler_{i}(request):\n    """Handle request kind {i}: parse, validate, retry."""\n'
                   + "".join(f"    step_{j} = request.get('field_{j}')\n" for j in range(12))
                   + "    return step_0\n" for i in range(30))


def _body() -> dict:
    b = chat(CODE)
    b["messages"][1]["content"] = "which handler retries a failed TLS handshake?"
    return b


def _wait_until(cond, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_release_and_reload_give_the_same_compression_and_token_counts(headroom_home):
    before = compress_body("openai_chat", _body(), path="/v1/chat/completions")
    assert before.changed
    counts = [tokens.count(CODE), tokens.count(json.dumps(before.body), remember=False)]
    assert tokens.loaded() and relevance.loaded()
    _release()
    assert not tokens.loaded() and not relevance.loaded()  # really gone: the next use loads them again
    after = compress_body("openai_chat", _body(), path="/v1/chat/completions")
    assert tokens.loaded() and relevance.loaded()
    assert json.dumps(after.body) == json.dumps(before.body)
    assert (after.tokens_before, after.tokens_after) == (before.tokens_before, before.tokens_after)
    assert [tokens.count(CODE), tokens.count(json.dumps(before.body), remember=False)] == counts


def test_requests_arriving_during_a_load_wait_for_it_outside_their_budget_and_share_it(headroom_home):
    gate, loads = threading.Event(), []

    def slow_load() -> None:  # the real load, held back until both requests are waiting for it
        loads.append(1)
        assert gate.wait(WAIT_S)
        from headroom.addon.intercept import _warm_up
        _warm_up()

    a, e = Intercept(), Encode()
    a.models = Models(load=slow_load)
    _release()  # nothing loaded in this process: the load below is a real one
    flows = [make_flow(json.dumps(_body()).encode()) for _ in range(2)]
    budget_ms = 300

    async def go():
        with taddons.context(a, e) as tctx:
            tctx.configure(a, headroom_compress_timeout_ms=budget_ms)
            tasks = [asyncio.ensure_future(a.request(f)) for f in flows]
            deadline = time.monotonic() + WAIT_S
            while a.models.active < 2:  # both are in, waiting for the load
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            # Held past the whole budget: a budget that counted the load would have run out.
            await asyncio.sleep(budget_ms * 2 / 1000)
            assert not any(t.done() for t in tasks)
            gate.set()
            await asyncio.wait_for(asyncio.gather(*tasks), WAIT_S)
            for f in flows:
                await e.request(f)
            await tctx.master.done()

    asyncio.run(go())
    assert loads == [1]  # one load for both
    for f in flows:
        st = state_of(f)
        assert st.fail_open is None and st.modified
        assert len(f.request.raw_content) < len(json.dumps(_body())) / 2
    _wait_until(lambda: a.models.active == 0, "the compressions ended their use")


def test_no_release_while_a_compression_runs_and_a_load_waits_for_a_release_in_flight():
    events: list[str] = []
    releasing, let_release = threading.Event(), threading.Event()

    def load() -> None:
        events.append("load")

    def release() -> None:
        events.append("release start")
        releasing.set()
        assert let_release.wait(WAIT_S)
        events.append("release end")

    m = Models(idle_s=1e-6, load=load, release=release, last_use=lambda: 0.0, loaded=lambda: False)
    m.warm_up().result(WAIT_S)
    assert m.acquire() is None  # a compression starts: loaded
    tries = []

    def try_release() -> None:  # another thread, as the idle watch is
        for _ in range(200):
            tries.append(m.release_if_idle())

    t = threading.Thread(target=try_release)
    t.start()
    t.join(WAIT_S)
    assert not t.is_alive() and tries and not any(tries)  # idle long enough, but a compression runs
    m.done()
    _wait_until(lambda: m.idle_for() > m.idle_s, "a microsecond passed")
    t = threading.Thread(target=m.release_if_idle)
    t.start()
    assert releasing.wait(WAIT_S)
    waiting = m.acquire()  # a request while the release is in flight: it waits for a load after it
    assert waiting is not None and not waiting.done()
    assert m.acquire() is waiting  # a second one shares that load
    let_release.set()
    waiting.result(WAIT_S)
    t.join(WAIT_S)
    assert events == ["load", "release start", "release end", "load"]
    assert m.ready and not m.release_if_idle()  # both requests still active
    m.done()
    m.done()
    _wait_until(lambda: m.idle_for() > m.idle_s, "a microsecond passed")
    assert m.release_if_idle() and events[-2:] == ["release start", "release end"]  # idle again, none active


def test_readiness_does_not_wait_for_the_models(headroom_home):
    a = Intercept()  # compresses; its models were never loaded (and are not loading)
    ops = Ops(a)
    with taddons.context(a, ops):
        assert not a.models.started
        assert ops.waiting() == []
