"""Shape without a network (mitmproxy.test): off by default, shaped when on, the output holdout's control arm
unshaped, independent of the compression holdout, and any failure leaves the request as it was."""
from __future__ import annotations

import asyncio
import gzip
import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from headroom.addon.intercept import Encode, Intercept
from headroom.addon.shape import Shape, ShapeSettings
from headroom.addon.state import state_of
from headroom.core import holdout
from headroom.core.shaper import instruction
from tests.addon.test_intercept import chat, make_flow


def mechanical_chat(first: str = "why did the job die?") -> dict:
    body = chat("exit 0")
    body["messages"][1]["content"] = first
    body["reasoning_effort"] = "high"
    return body


def run(flow, **options) -> Shape:
    intercept, shape, encode = Intercept(), Shape(), Encode()

    async def go():
        with taddons.context(intercept, shape, encode) as tctx:
            if options:
                tctx.configure(intercept, **{k: v for k, v in options.items() if k.startswith("headroom_compress")})
                tctx.configure(shape, **{k: v for k, v in options.items() if k.startswith("headroom_output")})
            await intercept.request(flow)
            await shape.request(flow)
            await encode.request(flow)
            await tctx.master.done()

    asyncio.run(go())
    return shape


def sent(flow) -> dict:
    return json.loads(flow.request.content)


def test_off_by_default_the_request_is_untouched():
    raw = json.dumps(mechanical_chat()).encode()
    flow = make_flow(raw)
    run(flow)
    st = state_of(flow)
    assert flow.request.raw_content == raw and (st.output_arm, st.turn_kind, st.shaped) == (None, None, ())


def test_on_it_steers_and_lowers_the_effort_of_a_mechanical_turn():
    flow = make_flow(json.dumps(mechanical_chat()).encode())
    shape = run(flow, headroom_output_shaper=True)
    body, st = sent(flow), state_of(flow)
    assert body["messages"][0]["content"] == "be brief\n\n" + instruction(2)
    assert body["reasoning_effort"] == "low"
    assert (st.output_arm, st.turn_kind, st.shaped) == (None, "mechanical", ("instruction", "effort:high->low"))
    assert shape.shaped == {"instruction": 1, "effort:high->low": 1}


def test_the_level_and_the_effort_switch_are_honoured():
    flow = make_flow(json.dumps(mechanical_chat()).encode())
    run(flow, headroom_output_shaper=True, headroom_output_shaper_level=3, headroom_output_shaper_effort=False)
    body = sent(flow)
    assert body["messages"][0]["content"].endswith(instruction(3)) and body["reasoning_effort"] == "high"


def conversation_in(arm: str, fraction: float, group: holdout.Group) -> str:
    for i in range(1000):
        first = f"question {i}: why did the job die?"
        if holdout.arm_for("openai_chat", mechanical_chat(first), "/v1/chat/completions", fraction, group) == arm:
            return first
    raise AssertionError(f"no conversation in {arm}")


def test_the_output_holdouts_control_arm_is_classified_but_not_shaped():
    raw = json.dumps(mechanical_chat(conversation_in("control", 0.5, holdout.OUTPUT))).encode()
    flow = make_flow(raw, headers={"content-encoding": "gzip"}, raw=gzip.compress(raw))
    original = flow.request.raw_content
    run(flow, headroom_output_shaper=True, headroom_output_holdout=0.5, headroom_compress=False)
    st = state_of(flow)
    assert (st.output_arm, st.turn_kind, st.shaped, st.modified) == ("control", "mechanical", (), False)
    assert flow.request.raw_content == original  # byte-identical: not even re-encoded


def test_a_compression_control_conversation_is_still_shaped():
    # The two groups are independent: compression's control arm leaves the body unparsed, Shape parses it.
    first = next(f"q{i}" for i in range(1000)
                 if holdout.arm_for("openai_chat", mechanical_chat(f"q{i}"), "", 0.5, holdout.COMPRESS) == "control"
                 and holdout.arm_for("openai_chat", mechanical_chat(f"q{i}"), "", 0.5, holdout.OUTPUT) == "treatment")
    flow = make_flow(json.dumps(mechanical_chat(first)).encode())
    run(flow, headroom_output_shaper=True, headroom_output_holdout=0.5, headroom_compress_holdout=0.5)
    st = state_of(flow)
    assert (st.compress_arm, st.output_arm, st.outcome) == ("control", "treatment", None)
    assert sent(flow)["messages"][0]["content"].endswith(instruction(2))


def test_bypass_and_unparseable_bodies_go_as_sent():
    raw = json.dumps(mechanical_chat()).encode()
    flow = make_flow(raw, headers={"x-headroom-bypass": "1"})
    run(flow, headroom_output_shaper=True)
    assert flow.request.raw_content == raw and state_of(flow).shaped == ()
    flow = make_flow(b"{not json")
    shape = run(flow, headroom_output_shaper=True)
    assert flow.request.raw_content == b"{not json" and shape.failures == {"not json": 1}


def test_settings_are_read_in_one_place_per_flow():
    shape = Shape()
    assert shape.settings == ShapeSettings()
    with taddons.context(shape) as tctx:
        tctx.configure(shape, headroom_output_shaper=True, headroom_output_shaper_level=1,
                       headroom_output_holdout=0.2)
        assert shape.settings_for(make_flow(b"{}")) == ShapeSettings(enabled=True, level=1, effort=True, holdout=0.2)
        with pytest.raises(exceptions.OptionsError, match="headroom_output_shaper_level"):
            tctx.configure(shape, headroom_output_shaper_level=7)
        with pytest.raises(exceptions.OptionsError, match="headroom_output_holdout"):
            tctx.configure(shape, headroom_output_holdout=1.5)
