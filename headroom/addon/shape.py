"""Shape: the output shaper (HEADROOM_OUTPUT_SHAPER, off by default) and its control group (HEADROOM_OUTPUT_HOLDOUT).

After Intercept (which may have compressed the body) and before Retrieve and Encode: when the shaper is on,
the request's conversation is put in an arm of the output holdout, the turn is classified (mechanical or
other, core.shaper), and a treatment request gets the level's instruction at the tail of its system prompt
and, on a mechanical turn, a lowered effort (the request's Provider says where: `shape_output`). A control
request goes on unshaped, counted as the comparison group. Anything that fails leaves the body as it was.

The settings are read in one place, `settings_for(flow)`, so they can come from the flow's wrapped session.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mitmproxy import exceptions, http

from headroom.addon.state import LLMRequest, state_of
from headroom.core import holdout
from headroom.core.shaper import DEFAULT_LEVEL, LEVELS, Shaped, shape

__all__ = ["Shape", "ShapeSettings", "shape_job"]

log = logging.getLogger("headroom.shape")


@dataclass(frozen=True)
class ShapeSettings:
    """What the shaper does to one flow."""

    enabled: bool = False  # HEADROOM_OUTPUT_SHAPER
    level: int = DEFAULT_LEVEL  # HEADROOM_OUTPUT_SHAPER_LEVEL: 0 (effort only) to 3
    effort: bool = True  # HEADROOM_OUTPUT_SHAPER_EFFORT: lower the effort of mechanical turns
    holdout: float = 0.0  # HEADROOM_OUTPUT_HOLDOUT: the fraction of conversations left unshaped


def shape_job(provider: str, path: str, body: dict[str, Any] | None, raw: bytes, encoding: str,
              settings: ShapeSettings) -> tuple[str | None, Shaped]:
    """Worker-thread part of Shape: parse the body if Intercept did not, pick the arm, shape a treatment
    request (a control one is only classified). Returns (arm, what was done)."""
    from headroom.addon.intercept import parse_body
    from headroom.core.providers import get_provider

    if body is None:
        body = parse_body(raw, encoding)
    arm = holdout.arm_for(provider, body, path, settings.holdout, holdout.OUTPUT)
    if arm == holdout.CONTROL:
        return arm, Shaped(body, get_provider(provider).turn_kind(body))
    return arm, shape(provider, body, level=settings.level, effort=settings.effort, path=path)


class Shape:
    AFTER = ("Intercept",)  # shapes the body Intercept parsed (and maybe compressed)

    def __init__(self) -> None:
        self.settings = ShapeSettings()
        self.shaped: Counter[str] = Counter()  # what was changed, by label (no content), for logs and tests
        self.failures: Counter[str] = Counter()

    def load(self, loader) -> None:
        loader.add_option("headroom_output_shaper", bool, False,
                          "Steer LLM outputs to be shorter (an instruction at the tail of the system prompt) and "
                          "lower the effort of mechanical turns. Also HEADROOM_OUTPUT_SHAPER=1.")
        loader.add_option("headroom_output_shaper_level", int, DEFAULT_LEVEL,
                          "The output shaper's level: 0 effort only, 1 lean, 2 concise, 3 terse.")
        loader.add_option("headroom_output_shaper_effort", bool, True,
                          "With the output shaper on, lower the effort a client sent on mechanical turns.")
        loader.add_option("headroom_output_holdout", float, 0.0,
                          "Fraction (0 to 1) of conversations left unshaped as a control group (with the shaper on).")

    def configure(self, updated) -> None:
        from mitmproxy import ctx

        names = {"headroom_output_shaper", "headroom_output_shaper_level", "headroom_output_shaper_effort",
                 "headroom_output_holdout"}
        if not updated & names:
            return
        level, fraction = ctx.options.headroom_output_shaper_level, ctx.options.headroom_output_holdout
        if level not in LEVELS:
            raise exceptions.OptionsError(f"headroom_output_shaper_level must be one of {LEVELS}, not {level}")
        if not 0.0 <= fraction <= 1.0:
            raise exceptions.OptionsError("headroom_output_holdout must be from 0 to 1")
        self.settings = ShapeSettings(enabled=ctx.options.headroom_output_shaper, level=level,
                                      effort=ctx.options.headroom_output_shaper_effort, holdout=fraction)

    def settings_for(self, flow: http.HTTPFlow) -> ShapeSettings:
        """The shaper's settings for this flow: its wrapped session's (Intercept resolved them into the
        flow's state), else the proxy's own."""
        st = state_of(flow)
        if st is None or st.session is None:  # no wrapped session: the proxy's own options
            return self.settings
        own = st.settings
        return ShapeSettings(enabled=own.output_shaper, level=own.output_shaper_level,
                             effort=own.output_shaper_effort, holdout=own.output_holdout)

    async def request(self, flow: http.HTTPFlow) -> None:
        st = state_of(flow)
        if st is None or flow.response is not None or st.bypass or not flow.request.raw_content:
            return
        settings = self.settings_for(flow)
        if not settings.enabled:
            return
        try:
            arm, done = await asyncio.to_thread(shape_job, st.provider, st.path, st.body, flow.request.raw_content,
                                                flow.request.headers.get("content-encoding", ""), settings)
        except Exception as e:  # fail open: the request goes on as Intercept left it
            kind = str(getattr(e, "kind", "") or type(e).__name__)  # "not json", "content-encoding", ...
            if not self.failures[kind]:
                log.warning("output shaping skipped for a %s request: %s", st.provider, kind)
            self.failures[kind] += 1
            return
        self._apply(st, arm, done)

    def _apply(self, st: LLMRequest, arm: str | None, done: Shaped) -> None:
        """Written on the event loop, from what the worker returned."""
        st.output_arm, st.turn_kind, st.shaped = arm, done.turn_kind, done.changes
        self.shaped.update(done.changes)
        if done.changed:
            st.body = done.body
            st.modified = True
