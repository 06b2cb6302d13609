"""The holdouts: which arm ("treatment" or the untouched "control") a conversation is in, for each control group.

Two independent control groups, each a fraction f (0 <= f <= 1) of conversations:
- HEADROOM_COMPRESS_HOLDOUT keeps f of conversations uncompressed (`COMPRESS`);
- HEADROOM_OUTPUT_HOLDOUT keeps f of conversations unshaped when the output shaper is on (`OUTPUT`).
The arm is a pure function of the conversation's start (model + the first user message) and of the group's
salt, so every turn of one conversation lands in the same arm (prefix-stable: prompt caches and the model's
view stay consistent), the same conversation gets the same arm after a proxy restart, and the two groups'
arms are independent of each other (different salts: a conversation's compression arm says nothing of its
shaping arm). Sans-IO.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from headroom.core.providers import get_provider

__all__ = ["COMPRESS", "COMPRESS_ENV", "CONTROL", "FIRST_MESSAGE_CHARS", "Group", "OUTPUT", "OUTPUT_ENV",
           "TREATMENT", "arm_for", "bucket", "first_user_text", "parse_fraction"]


@dataclass(frozen=True)
class Group:
    """One control group: the variable that sets its fraction, what its control arm is left without, and
    the salt of its hash."""

    env: str
    without: str  # "uncompressed", "unshaped": what a control conversation is
    salt: str


# The compression group keeps the hash it always had (no salt), so a conversation stays in the arm it was in.
COMPRESS = Group("HEADROOM_COMPRESS_HOLDOUT", "uncompressed", "")
OUTPUT = Group("HEADROOM_OUTPUT_HOLDOUT", "unshaped", "output-shaper")
COMPRESS_ENV, OUTPUT_ENV = COMPRESS.env, OUTPUT.env
CONTROL = "control"
TREATMENT = "treatment"
FIRST_MESSAGE_CHARS = 512  # enough to tell conversations apart; later edits of a long paste don't matter


def parse_fraction(raw: str | None, group: Group = COMPRESS) -> float:
    """The holdout fraction in `raw` (empty: 0). ValueError, saying what is accepted, otherwise."""
    text = (raw or "").strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses nan and inf
        raise ValueError(f"{group.env} must be a number from 0 to 1 (e.g. 0.1 keeps 10% of conversations "
                         f"{group.without}), not {text!r}")
    return value


def first_user_text(provider: str, body: dict[str, Any]) -> str:
    """The text of the first user message of a request body (the same extraction the providers use for
    the query), or "" when there is none."""
    return get_provider(provider).first_user_text(body)


def bucket(model: str | None, first_text: str, salt: str = "") -> float:
    """A number in [0, 1), uniform over conversations, fixed for one conversation and salt."""
    key = f"{model or ''}\x00{first_text[:FIRST_MESSAGE_CHARS]}".encode("utf-8", "surrogatepass")
    if salt:
        key = salt.encode() + b"\x00" + key
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2 ** 64


def arm_for(provider: str, body: dict[str, Any], path: str, fraction: float, group: Group = COMPRESS) -> str | None:
    """"control" or "treatment" for this request's conversation in `group`; None when no holdout is configured."""
    if fraction <= 0.0:
        return None
    if fraction >= 1.0:
        return CONTROL
    model = get_provider(provider).model_of(body, path)
    return CONTROL if bucket(model, first_user_text(provider, body), group.salt) < fraction else TREATMENT
