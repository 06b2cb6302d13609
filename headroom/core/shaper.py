"""The output shaper (HEADROOM_OUTPUT_SHAPER, opt-in): fewer output tokens, asked for, never forced.

The one place Headroom changes more than tool outputs. Two levers, each applied by the request's
Provider (`turn_kind`, `shape_output`), pure and sans-IO:

- Verbosity steering: one short instruction per level, fixed byte for byte, at the tail of the system
  prompt (after any cache breakpoint). It is the same bytes on every turn of a shaped conversation, so the
  provider's prompt cache keeps hitting from the second turn; a body already carrying it is unchanged.
- Effort on mechanical turns: a turn that only continues after clean tool results (classified from the
  body's structure, never from words) gets an effort or thinking budget the client already sent lowered to
  the API's floor. Nothing is ever added, and thinking is never turned on or off.

Each Provider module says where its instruction goes and why its cache keeps hitting; docs/output-shaping.md
says it for users.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CLOSE", "DEFAULT_LEVEL", "EFFORT_FLOOR", "EFFORT_ORDER", "LEVELS", "LEVEL_NAMES", "MECHANICAL", "OPEN",
           "OTHER", "SEPARATOR", "Shaped", "TURN_KINDS", "appended", "instruction", "is_instruction", "lower_effort",
           "parse_level", "shape"]

MECHANICAL = "mechanical"  # the turn only continues after tool results, none of them an error
OTHER = "other"  # a new ask, an error to handle, or anything not recognised as mechanical
TURN_KINDS = (MECHANICAL, OTHER)

OPEN, CLOSE = "<headroom_output_shaping>", "</headroom_output_shaping>"  # how the instruction is recognised
SEPARATOR = "\n\n"  # between a system prompt's own text and the instruction appended to it

# Cumulative rules: level n says the first n. About prose only, so edits, code and tool arguments are never cut.
_RULES = (
    "Reply without preamble or closing summary, and do not narrate tool calls that succeeded.",
    "Do not repeat code, file contents, diffs or tool output back in prose: cite the path and line numbers.",
    "Give conclusions and the next step only; keep explanations to what the user needs to act.",
)
_SCOPE = "This is about your prose only: write code, edits and tool arguments in full."
LEVELS = (0, 1, 2, 3)
LEVEL_NAMES = {0: "effort only", 1: "lean", 2: "concise", 3: "terse"}
DEFAULT_LEVEL = 2

# Effort words across the APIs, lowest first (OpenAI: none < minimal < low < medium < high < xhigh; Anthropic
# output_config.effort: low < medium < high < xhigh < max). A mechanical turn's effort goes down to "low",
# the lowest value every reasoning model of both APIs accepts ("minimal" and "none" are refused by some).
EFFORT_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
EFFORT_FLOOR = "low"


def parse_level(raw: str | None) -> int:
    """HEADROOM_OUTPUT_SHAPER_LEVEL (empty: the default). ValueError saying what is accepted otherwise."""
    text = (raw or "").strip().lower()
    if not text:
        return DEFAULT_LEVEL
    by_name = {name: level for level, name in LEVEL_NAMES.items()}
    if text in by_name:
        return by_name[text]
    if text.isdigit() and int(text) in LEVELS:
        return int(text)
    names = ", ".join(f"{level} ({name})" for level, name in LEVEL_NAMES.items())
    raise ValueError(f"HEADROOM_OUTPUT_SHAPER_LEVEL must be one of {names}, not {raw!r}")


def instruction(level: int) -> str:
    """The steering text of `level`, byte for byte ("" for level 0, which only lowers effort)."""
    if level <= 0:
        return ""
    return f"{OPEN}{' '.join(_RULES[:level])} {_SCOPE}{CLOSE}"


def is_instruction(text: Any) -> bool:
    """Is `text` an instruction of this module (any level)?"""
    return isinstance(text, str) and text.startswith(OPEN) and text.endswith(CLOSE)


def appended(text: str, steering: str) -> str | None:
    """`text` with `steering` at its tail, or None when it already ends with it (idempotent)."""
    if text == steering or text.endswith(SEPARATOR + steering):
        return None
    return f"{text}{SEPARATOR}{steering}" if text else steering


def lower_effort(value: Any, floor: str = EFFORT_FLOOR) -> str | None:
    """The lowered effort for a client's `value`: `floor` if `value` is a known word above it, else None
    (already at or below the floor, or a word this table does not know: left as the client sent it)."""
    if not isinstance(value, str) or value not in EFFORT_ORDER:
        return None
    return floor if EFFORT_ORDER.index(value) > EFFORT_ORDER.index(floor) else None


@dataclass(frozen=True)
class Shaped:
    """What the shaper did to one request body."""

    body: dict[str, Any]  # the body to send (the same object when nothing changed)
    turn_kind: str  # MECHANICAL or OTHER
    changes: tuple[str, ...] = ()  # labels, no content: "instruction", "effort:high->low", "skipped:..."

    @property
    def changed(self) -> bool:
        return any(not c.startswith("skipped:") for c in self.changes)


def shape(provider: str, body: dict[str, Any], *, level: int, effort: bool = True, path: str = "") -> Shaped:
    """Shape one request body of API shape `provider` (pure: `body` is never mutated)."""
    from headroom.core.providers import get_provider

    shape_ = get_provider(provider)
    kind = shape_.turn_kind(body)
    new, changes = shape_.shape_output(body, instruction(level), effort and kind == MECHANICAL, path)
    return Shaped(new, kind, changes)
