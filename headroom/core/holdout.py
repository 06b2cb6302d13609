"""The holdout: which arm (compressed "treatment" or untouched "control") a conversation is in.

HEADROOM_OUTPUT_HOLDOUT=f (0 <= f <= 1) keeps a fraction f of conversations uncompressed as a control
group. The arm is a pure function of the conversation's start (model + the first user message), so
every turn of one conversation lands in the same arm (prefix-stable: prompt caches and the model's view
stay consistent), and the same conversation gets the same arm after a proxy restart. Sans-IO.
"""
from __future__ import annotations

import hashlib
from typing import Any

from headroom.core.providers import get_provider

__all__ = ["ENV", "CONTROL", "TREATMENT", "FIRST_MESSAGE_CHARS", "arm_for", "bucket", "first_user_text",
           "parse_fraction"]

ENV = "HEADROOM_OUTPUT_HOLDOUT"
CONTROL = "control"
TREATMENT = "treatment"
FIRST_MESSAGE_CHARS = 512  # enough to tell conversations apart; later edits of a long paste don't matter


def parse_fraction(raw: str | None) -> float:
    """The holdout fraction in `raw` (empty: 0). ValueError, saying what is accepted, otherwise."""
    text = (raw or "").strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses nan and inf
        raise ValueError(f"{ENV} must be a number from 0 to 1 (e.g. 0.1 keeps 10% of conversations "
                         f"uncompressed), not {text!r}")
    return value


def first_user_text(provider: str, body: dict[str, Any]) -> str:
    """The text of the first user message of a request body (the same extraction the providers use for
    the query), or "" when there is none."""
    return get_provider(provider).first_user_text(body)


def bucket(model: str | None, first_text: str) -> float:
    """A number in [0, 1), uniform over conversations, fixed for one conversation."""
    key = f"{model or ''}\x00{first_text[:FIRST_MESSAGE_CHARS]}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2 ** 64


def arm_for(provider: str, body: dict[str, Any], path: str, fraction: float) -> str | None:
    """"control" or "treatment" for this request's conversation; None when no holdout is configured."""
    if fraction <= 0.0:
        return None
    if fraction >= 1.0:
        return CONTROL
    model = get_provider(provider).model_of(body, path)
    return CONTROL if bucket(model, first_user_text(provider, body)) < fraction else TREATMENT
