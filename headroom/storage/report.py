"""The savings report: THE figures every view shows, one frozen dataclass built from the ledger's rows.

`build_report()` is the single computation behind `headroom perf`, the admin `/stats` and `/metrics`
endpoints and the dashboard, so they agree exactly for the same period: perf's table and /metrics read
the report's fields, and `report_json()` turns it into the JSON that `perf --format json`, /stats and
the dashboard read, with the same names as keys.
"""
from __future__ import annotations

import math
import re
import sqlite3
import time
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from headroom.storage.ledger import NEEDED_COLUMNS, has_column

__all__ = [
    "HOLDOUT_NOTE",
    "MIN_TURNS",
    "NOT_ENOUGH",
    "Arm",
    "Arms",
    "ContentTypeFigures",
    "UserFigures",
    "ReplicaFigures",
    "Dist",
    "Figures",
    "Holdout",
    "LedgerHealth",
    "Latency",
    "ModelFigures",
    "Needed",
    "OutputArm",
    "OutputGroup",
    "OutputShaping",
    "Period",
    "Point",
    "Reconcile",
    "PricingBasis",
    "Report",
    "Series",
    "Usage",
    "build_report",
    "parse_period",
    "recent",
    "report_json",
]

_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


_ALL_SECONDS = 100 * 365 * 86400  # a century back is everything; a larger period would overflow datetime


def parse_period(text: str | None) -> float | None:
    """Seconds in "90s", "30m", "24h", "7d", "2w"; None for "all". ValueError says what is accepted."""
    if text is None or text.strip().lower() in ("all", ""):
        return None
    m = _PERIOD.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"cannot read the period {text!r}: use a number and a unit, e.g. 30m, 24h, 7d, 2w, or all")
    seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
    return None if seconds >= _ALL_SECONDS else seconds


# The report. Rounded once, when built, so every view prints the same digits; None, never 0, where a
# figure is not known (no price, no usage reported, nothing measured).

@dataclass(frozen=True)
class Period:
    since: float | None  # unix time; None: from the first row
    until: float


@dataclass(frozen=True)
class PricingBasis:
    as_of: str
    currency: str
    basis: str


@dataclass(frozen=True)
class Usage:
    """What the providers reported, over the requests whose provider reported usage."""
    requests: int
    input: int  # all input tokens, cache reads and writes included
    cache_read: int
    cache_write: int
    output: int
    cache_read_share_pct: float | None


@dataclass(frozen=True)
class Figures:
    """The sums of a group of requests: the totals, or one model's."""
    requests: int
    compressed_requests: int
    tokens_before: int  # the whole request body
    tokens_after: int
    tokens_saved: int
    saved_pct_of_request: float | None
    tool_tokens_before: int  # the tool outputs alone
    tool_tokens_after: int
    tool_tokens_saved: int
    saved_pct_of_tool_outputs: float | None
    usage: Usage
    retrievals: int
    fail_open: int
    bypass: int
    errors: int  # requests whose client did not get the whole answer (a stream's final event it got: not one)
    # Saved on the bill: what the provider would have billed for the removed tokens where they sat (new input
    # or a cache write the first time in a conversation, a cache read after, when the client caches),
    # calibrated to the provider's token counts, minus the cache breaks Headroom caused. None: no known price.
    usd_saved: float | None
    usd_spent: float | None  # exact: the provider-reported usage at list prices
    unpriced_requests: int
    tokens_removed: int  # our count (o200k) of the tokens cut from the requests sent, every request summed
    tokens_removed_new: int  # of those, counted once per conversation (the first request that dropped them)
    token_ratio: float | None  # calibration: provider-reported input over our count of the same requests
    token_ratio_requests: int  # requests the ratio is measured on (usage reported, no retrieval)
    cache_breaks_headroom: int  # requests whose cached prefix Headroom's change broke (charged against usd_saved)
    cache_breaks_client: int  # ... that the client's own change broke (not charged)
    usd_cache_breaks: float | None  # what the breaks Headroom caused cost (already taken off usd_saved)


@dataclass(frozen=True)
class ModelFigures(Figures):
    """One model's figures. In JSON these three come first."""
    model: str  # "(unknown)" when the request named none
    provider: str
    price_family: str | None


@dataclass(frozen=True)
class UserFigures:
    """One team user's requests and tokens (team mode's ledger rows carry the user; others have none)."""
    user: str
    requests: int
    compressed_requests: int
    tokens_before: int
    tokens_after: int
    tokens_saved: int
    tool_tokens_before: int
    tool_tokens_after: int
    retrievals: int


@dataclass(frozen=True)
class ReplicaFigures:
    """One proxy replica's requests and tokens (rows of the shared ledger carry the replica, HEADROOM_REPLICA)."""
    replica: str
    requests: int
    compressed_requests: int
    tokens_before: int
    tokens_after: int
    tokens_saved: int
    tool_tokens_before: int
    tool_tokens_after: int
    retrievals: int


@dataclass(frozen=True)
class Dist:
    """Nearest-rank quantiles in ms; None when nothing was measured."""
    count: int
    p50: float | None
    p95: float | None
    max: float | None


@dataclass(frozen=True)
class Latency:
    compression: Dist  # requests the pipeline ran on only
    overhead: Dist  # proxy time before forwarding
    ttfb: Dist
    upstream: Dist

    def by_stage(self) -> tuple[tuple[str, Dist], ...]:
        return tuple((f.name, getattr(self, f.name)) for f in fields(self))


@dataclass(frozen=True)
class ContentTypeFigures:
    content_type: str
    units: int  # tool outputs
    requests: int
    tokens_before: int
    tokens_after: int
    tokens_saved: int
    saved_pct: float | None
    ms: float
    compressors: dict[str, int]  # compressor name -> tool outputs, most used first


@dataclass(frozen=True)
class Point:
    t: int  # the bucket's start, unix time
    requests: int
    tokens_before: int
    tokens_after: int
    tool_tokens_before: int
    tool_tokens_after: int


@dataclass(frozen=True)
class Series:
    bucket_seconds: int
    points: tuple[Point, ...]


@dataclass(frozen=True)
class LedgerHealth:
    dropped_total: int  # rows the writer lost and persisted as lost


@dataclass(frozen=True)
class Arm:
    requests: int
    usage_requests: int
    avg_input_tokens: float | None  # over the requests whose provider reported usage
    avg_output_tokens: float | None
    cache_read_share_pct: float | None
    retrievals_per_request: float | None
    tool_tokens_saved: int


@dataclass(frozen=True)
class Arms:
    treatment: Arm
    control: Arm


HOLDOUT_NOTE = ("Arms differ by conversation, not only by compression: compare like with like (same model, "
                "similar work) over enough requests before reading much into a difference.")

# The output shaper's comparison: output tokens per turn, shaped (treatment) vs unshaped (control).
MIN_TURNS = 10  # per arm and group, with provider-reported usage, before a mean and its interval are shown
CONFIDENCE = 0.95
INTERVAL = ("95% Welch t interval on the difference of the arms' mean output tokens per turn (and on each arm's "
            "mean); the percentage's interval by the delta method")
NOT_ENOUGH = "not enough data yet"
SHAPING_NOTE = ("Turns of one conversation are not independent (the arm is drawn per conversation), so these "
                "intervals are narrower than they should be: read a difference as measured only when its interval "
                "excludes 0 over many conversations. Lowering effort can cost cache reads: compare the cache-read "
                "share of the arms too.")
ALL_MODELS = "(all)"
ALL_TURNS = "all"


@dataclass(frozen=True)
class Reconcile:
    """The estimate against the measured truth: billed input per conversation in each arm of the compression
    holdout (the provider's usage at list prices, cache reads and writes priced as such), their difference,
    and the estimated saving per compressed conversation (usd_saved over the treatment arm)."""
    treatment_conversations: int
    control_conversations: int
    treatment_input_usd_per_conversation: float | None
    control_input_usd_per_conversation: float | None
    measured_usd_per_conversation: float | None  # control minus treatment
    estimated_usd_per_conversation: float | None


@dataclass(frozen=True)
class Holdout:
    arms: Arms
    # Treatment minus control, per request: negative means compressed conversations billed less input.
    input_tokens_difference: float | None
    input_tokens_difference_pct: float | None
    reconcile: Reconcile | None = None
    note: str = HOLDOUT_NOTE


@dataclass(frozen=True)
class OutputArm:
    """One arm's output tokens per turn in one group (over the turns whose provider reported usage)."""
    turns: int
    mean: float | None  # None below MIN_TURNS
    ci_low: float | None
    ci_high: float | None
    cache_read_share_pct: float | None  # cache reads over all input tokens of those turns


@dataclass(frozen=True)
class OutputGroup:
    """Shaped vs unshaped output tokens per turn for one model (or ALL_MODELS) and turn kind (or ALL_TURNS)."""
    model: str
    turn_kind: str
    shaped: OutputArm
    control: OutputArm
    enough: bool  # both arms have MIN_TURNS turns: the figures below are shown
    difference: float | None  # shaped minus control, tokens per turn: negative means shorter outputs
    difference_ci_low: float | None
    difference_ci_high: float | None
    difference_pct: float | None  # of the control arm's mean
    difference_pct_ci_low: float | None
    difference_pct_ci_high: float | None
    status: str  # "measured", or NOT_ENOUGH and what is missing


@dataclass(frozen=True)
class OutputShaping:
    """HEADROOM_OUTPUT_SHAPER with HEADROOM_OUTPUT_HOLDOUT: output tokens per turn by arm, kind and model."""
    shaped_requests: int  # requests the shaper changed
    treatment_requests: int
    control_requests: int
    groups: tuple[OutputGroup, ...]  # all models by kind first, then each model by kind
    min_turns: int = MIN_TURNS
    interval: str = INTERVAL
    note: str = SHAPING_NOTE


@dataclass(frozen=True)
class Needed:
    """Dropped, then needed (core.needed), and the pipeline's re-expansions."""
    total: int
    retrieved: int
    reread: int
    guessed: int
    reexpanded: int


@dataclass(frozen=True)
class Report:
    period: Period
    pricing: PricingBasis
    totals: Figures
    latency_ms: Latency
    per_model: tuple[ModelFigures, ...]  # most tokens first
    per_content_type: tuple[ContentTypeFigures, ...]  # most tokens first
    series: Series
    ledger: LedgerHealth
    compress_holdout: Holdout | None  # None unless compression-control rows exist in the period
    needed: Needed
    output_shaping: OutputShaping | None  # None unless the shaper ran on requests of the period
    per_user: tuple[UserFigures, ...] = ()  # team mode's users, most tokens first; empty without user rows
    per_replica: tuple[ReplicaFigures, ...] = ()  # the shared ledger's replicas (storage.pg_ledger); else empty


BASIS = ("saved on the bill: removed tokens priced where they sat (new input or a cache write the first time in a "
         "conversation, a cache read after when the client caches), calibrated to the provider's token counts, "
         "minus the cache breaks Headroom caused; list prices")


def report_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready dicts and lists, keyed by the fields' names: what /stats and perf print."""
    out = _plain(report)
    assert isinstance(out, dict)
    return out


_FIRST: dict[type, tuple[str, ...]] = {ModelFigures: ("model", "provider", "price_family")}


def _plain(x: object) -> object:
    if is_dataclass(x) and not isinstance(x, type):
        first = _FIRST.get(type(x), ())
        names = [*first, *(f.name for f in fields(x) if f.name not in first)]
        return {n: _plain(getattr(x, n)) for n in names}
    if isinstance(x, (tuple, list)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _pct(saved: int, before: int) -> float | None:
    return round(100.0 * saved / before, 2) if before else None


def _nearest_rank(values: list[float], p: float) -> float:
    return values[max(0, math.ceil(p / 100.0 * len(values)) - 1)]


def _usd(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


_BUCKETS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
MAX_POINTS = 96  # chart points: enough for a smooth day at 15-minute steps


def _bucket_seconds(span: float) -> int:
    for b in _BUCKETS:
        if span / b <= MAX_POINTS:
            return b
    return _BUCKETS[-1]


_SUMS = ("requests", "compressed_requests", "tokens_before", "tokens_after", "tool_tokens_before", "tool_tokens_after",
         "retrievals", "fail_open", "bypass", "errors", "usage_requests", "usage_input", "usage_cache_read",
         "usage_cache_write", "usage_output", "removed_new", "new_written", "new_input", "again_read", "again_input",
         "break_written", "break_input", "breaks_headroom", "breaks_client", "ratio_input", "ratio_counted",
         "ratio_requests")
# The bill's sums (core.bill): removed tokens by how the provider would have billed them where they sat. A row
# of before the bill (removed_new NULL) counts all its removed tokens as new input, as it was then counted.
_CALIBRATES = "(usage_reported = 1 AND retrievals = 0 AND error = 0 AND tokens_after > 0)"


def _bill_sql(measured: bool) -> str:
    """The bill's sums; `measured` False for a ledger without its columns (opened read-only, never migrated)."""
    new = "COALESCE(removed_new, tokens_before - tokens_after)" if measured else "(tokens_before - tokens_after)"
    again = "COALESCE(removed_again, 0)" if measured else "0"
    ours = "(cache_break = 'headroom')" if measured else "0"
    client = "(cache_break = 'client')" if measured else "0"
    lost = "break_tokens" if measured else "0"
    return (f"SUM({new}), SUM({new} * (usage_cache_write > 0)), SUM({new} * (usage_cache_write = 0)), "
            f"SUM({again} * (usage_cache_read > 0)), SUM({again} * (usage_cache_read = 0)), "
            f"SUM({lost} * {ours} * (usage_cache_write > 0)), SUM({lost} * {ours} * (usage_cache_write = 0)), "
            f"SUM({ours}), SUM({client}), SUM(usage_input * {_CALIBRATES}), "
            f"SUM(tokens_after * {_CALIBRATES}), SUM({_CALIBRATES})")


_BILL_SQL = _bill_sql(True)
_GROUP_SQL = (
    "SELECT model, provider, COUNT(*), SUM(compressed), SUM(tokens_before), SUM(tokens_after), "
    "SUM(tool_tokens_before), SUM(tool_tokens_after), SUM(retrievals), SUM(fail_open), SUM(bypass), SUM(error), "
    "SUM(usage_reported), SUM(usage_reported * usage_input), SUM(usage_reported * usage_cache_read), "
    "SUM(usage_reported * usage_cache_write), SUM(usage_reported * usage_output), {bill} "
    "FROM requests WHERE {where} GROUP BY model, provider"
)


def _ratio(acc: dict[str, int]) -> float | None:
    """Provider-reported input tokens per token of our count, over the requests that measure it."""
    return acc["ratio_input"] / acc["ratio_counted"] if acc["ratio_counted"] and acc["ratio_input"] else None


def _saved_on_bill(acc: dict[str, int], price: Any) -> tuple[float, float]:
    """(saved on the bill, what Headroom's cache breaks cost) in dollars, for one model's sums."""
    ratio = _ratio(acc) or 1.0
    saved = (acc["new_written"] * price.cache_write + acc["new_input"] * price.input
             + acc["again_read"] * price.cached_input + acc["again_input"] * price.input)
    breaks = (acc["break_written"] * (price.cache_write - price.cached_input)
              + acc["break_input"] * (price.input - price.cached_input))
    return ratio * (saved - breaks) / 1_000_000, ratio * breaks / 1_000_000


def _figures(acc: dict[str, int], priced_requests: int, priced_usage_requests: int, usd_saved: float,
             usd_spent: float, usd_breaks: float = 0.0) -> dict[str, Any]:
    """The fields of a `Figures` for one group's sums (a `ModelFigures` adds the model's three)."""
    saved = acc["tokens_before"] - acc["tokens_after"]
    tool_saved = acc["tool_tokens_before"] - acc["tool_tokens_after"]
    return {
        "requests": acc["requests"],
        "compressed_requests": acc["compressed_requests"],
        "tokens_before": acc["tokens_before"],
        "tokens_after": acc["tokens_after"],
        "tokens_saved": saved,
        "saved_pct_of_request": _pct(saved, acc["tokens_before"]),
        "tool_tokens_before": acc["tool_tokens_before"],
        "tool_tokens_after": acc["tool_tokens_after"],
        "tool_tokens_saved": tool_saved,
        "saved_pct_of_tool_outputs": _pct(tool_saved, acc["tool_tokens_before"]),
        "usage": Usage(
            requests=acc["usage_requests"],
            input=acc["usage_input"],
            cache_read=acc["usage_cache_read"],
            cache_write=acc["usage_cache_write"],
            output=acc["usage_output"],
            cache_read_share_pct=_pct(acc["usage_cache_read"], acc["usage_input"]),
        ),
        "retrievals": acc["retrievals"],
        "fail_open": acc["fail_open"],
        "bypass": acc["bypass"],
        "errors": acc["errors"],
        "usd_saved": _usd(usd_saved) if priced_requests else None,
        "usd_spent": _usd(usd_spent) if priced_usage_requests else None,
        "unpriced_requests": acc["requests"] - priced_requests,
        "tokens_removed": saved,
        "tokens_removed_new": acc["removed_new"],
        "token_ratio": None if (r := _ratio(acc)) is None else round(r, 4),
        "token_ratio_requests": acc["ratio_requests"],
        "cache_breaks_headroom": acc["breaks_headroom"],
        "cache_breaks_client": acc["breaks_client"],
        "usd_cache_breaks": _usd(usd_breaks) if priced_requests else None,
    }


def _sorted_column(conn: sqlite3.Connection, column: str, where: str, args: list[Any], extra: str = "") -> list[float]:
    sql = f"SELECT {column} FROM requests WHERE {where} AND {column} IS NOT NULL {extra} ORDER BY {column}"
    return [r[0] for r in conn.execute(sql, args)]


def _dist_sorted(vals: list[float]) -> Dist:
    if not vals:
        return Dist(count=0, p50=None, p95=None, max=None)
    return Dist(count=len(vals), p50=round(_nearest_rank(vals, 50), 1), p95=round(_nearest_rank(vals, 95), 1),
                max=round(vals[-1], 1))


def _reconcile(conn: sqlite3.Connection, column: str, where: str, args: list[Any], prices: Any) -> Reconcile | None:
    """Billed input per conversation by arm, priced per model (the provider's usage: exact), against the
    saving the bill estimates for the treatment arm."""
    if not has_column(conn, "conversation"):
        return None
    rows = conn.execute(
        f"SELECT {column}, model, SUM(usage_input), SUM(usage_cache_read), SUM(usage_cache_write), "
        f"{_BILL_SQL} FROM requests WHERE {where} AND {column} IS NOT NULL AND usage_reported = 1 "
        f"GROUP BY {column}, model", args).fetchall()
    counts = dict(conn.execute(
        f"SELECT {column}, COUNT(DISTINCT conversation) FROM requests WHERE {where} AND {column} IS NOT NULL "
        f"AND usage_reported = 1 GROUP BY {column}", args).fetchall())
    billed = {"treatment": 0.0, "control": 0.0}
    estimated, unpriced = 0.0, False
    from headroom.core.pricing import cost_usd

    for arm, model, inp, read, write, *bill in rows:
        price = prices.lookup(model)
        if price is None:
            unpriced = True
            continue
        billed[arm] = billed.get(arm, 0.0) + (cost_usd(price, input=int(inp or 0), cache_read=int(read or 0),
                                                        cache_write=int(write or 0)) or 0.0)
        if arm == "treatment":
            acc = dict(zip(_SUMS[15:], (int(v or 0) for v in bill)))
            estimated += _saved_on_bill(acc, price)[0]
    t, c = int(counts.get("treatment") or 0), int(counts.get("control") or 0)
    per_t = billed["treatment"] / t if t and not unpriced else None
    per_c = billed["control"] / c if c and not unpriced else None
    return Reconcile(treatment_conversations=t, control_conversations=c,
                     treatment_input_usd_per_conversation=_usd(per_t), control_input_usd_per_conversation=_usd(per_c),
                     measured_usd_per_conversation=_usd(per_c - per_t) if per_t is not None and per_c is not None
                     else None,
                     estimated_usd_per_conversation=_usd(estimated / t) if t and not unpriced else None)


def _holdout(conn: sqlite3.Connection, where: str, args: list[Any], prices: Any = None) -> Holdout | None:
    """Per-arm figures when any compression-control row exists in the period (HEADROOM_COMPRESS_HOLDOUT), else
    None. Averages are over the requests whose provider reported usage, so a missing report is not a zero."""
    # `arm` in a ledger a proxy of before the output shaper wrote and none has opened since (it migrates).
    column = next((c for c in ("compress_arm", "arm") if has_column(conn, c)), None)
    if column is None:  # a ledger from before the holdout existed
        return None
    rows = conn.execute(
        f"SELECT {column}, COUNT(*), SUM(usage_reported), SUM(usage_reported * usage_input), "
        "SUM(usage_reported * usage_output), SUM(usage_reported * usage_cache_read), SUM(retrievals), "
        f"SUM(tool_tokens_before), SUM(tool_tokens_after) FROM requests WHERE {where} AND {column} IS NOT NULL "
        f"GROUP BY {column}", args).fetchall()
    by_arm = {r[0]: [int(v or 0) for v in r[1:]] for r in rows}
    if not by_arm.get("control", [0])[0]:
        return None
    arms = {}
    for name in ("treatment", "control"):
        n, reported, inp, out, cache_read, retrievals, tool_before, tool_after = by_arm.get(name, [0] * 8)
        arms[name] = Arm(
            requests=n,
            usage_requests=reported,
            avg_input_tokens=round(inp / reported, 1) if reported else None,
            avg_output_tokens=round(out / reported, 1) if reported else None,
            cache_read_share_pct=_pct(cache_read, inp),
            retrievals_per_request=round(retrievals / n, 3) if n else None,
            tool_tokens_saved=tool_before - tool_after,
        )
    t, c = arms["treatment"].avg_input_tokens, arms["control"].avg_input_tokens
    diff = round(t - c, 1) if t is not None and c is not None else None
    return Holdout(arms=Arms(treatment=arms["treatment"], control=arms["control"]), input_tokens_difference=diff,
                   input_tokens_difference_pct=round(100.0 * diff / c, 2) if diff is not None and c else None,
                   reconcile=_reconcile(conn, column, where, args, prices) if prices is not None else None)


# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom; above, the Cornish-Fisher expansion.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z95 = 1.959964


def t95(df: float) -> float:
    """The two-sided 95% quantile of Student's t with `df` degrees of freedom (df >= 1)."""
    if df < 30.5:
        return _T95[max(1, round(df)) - 1]
    z = _Z95
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


@dataclass
class _Sums:
    n: int = 0
    total: int = 0
    squares: int = 0
    input: int = 0
    cache_read: int = 0

    def add(self, n: int, total: int, squares: int, inp: int, cache_read: int) -> None:
        self.n += n
        self.total += total
        self.squares += squares
        self.input += inp
        self.cache_read += cache_read

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def variance(self) -> float:  # the sample variance (n - 1), exact from integer sums
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1)) if self.n > 1 else 0.0


def _arm(s: _Sums, enough: bool) -> OutputArm:
    share = _pct(s.cache_read, s.input)
    if not enough or s.n < MIN_TURNS:
        return OutputArm(turns=s.n, mean=None, ci_low=None, ci_high=None, cache_read_share_pct=share)
    half = t95(s.n - 1) * math.sqrt(s.variance / s.n)
    return OutputArm(turns=s.n, mean=round(s.mean, 1), ci_low=round(s.mean - half, 1),
                     ci_high=round(s.mean + half, 1), cache_read_share_pct=share)


def output_group(model: str, turn_kind: str, shaped: _Sums, control: _Sums) -> OutputGroup:
    """The comparison of one group's arms: Welch's t interval on the difference of means, and the delta
    method's on the difference as a share of the control mean. Nothing but the counts below MIN_TURNS."""
    enough = shaped.n >= MIN_TURNS and control.n >= MIN_TURNS
    a, b = _arm(shaped, enough), _arm(control, enough)
    empty = dict(difference=None, difference_ci_low=None, difference_ci_high=None, difference_pct=None,
                 difference_pct_ci_low=None, difference_pct_ci_high=None)
    if not enough:
        missing = [f"{name} {s.n} of {MIN_TURNS} turns" for name, s in (("shaped", shaped), ("control", control))
                   if s.n < MIN_TURNS]
        return OutputGroup(model=model, turn_kind=turn_kind, shaped=a, control=b, enough=False,
                           status=f"{NOT_ENOUGH} ({', '.join(missing)})", **empty)
    vs, vc = shaped.variance / shaped.n, control.variance / control.n
    se = math.sqrt(vs + vc)
    if se > 0:
        df = se ** 4 / ((vs ** 2 / (shaped.n - 1) if vs else 0.0) + (vc ** 2 / (control.n - 1) if vc else 0.0))
    else:
        df = shaped.n + control.n - 2.0
    t = t95(df)
    diff = shaped.mean - control.mean
    out = dict(difference=round(diff, 1), difference_ci_low=round(diff - t * se, 1),
               difference_ci_high=round(diff + t * se, 1), difference_pct=None, difference_pct_ci_low=None,
               difference_pct_ci_high=None)
    c = control.mean
    if c > 0:
        ratio = diff / c  # d(ratio)/d(shaped mean) = 1/c, d(ratio)/d(control mean) = -shaped mean/c^2
        se_ratio = math.sqrt(vs / c ** 2 + vc * shaped.mean ** 2 / c ** 4)
        out.update(difference_pct=round(100 * ratio, 1), difference_pct_ci_low=round(100 * (ratio - t * se_ratio), 1),
                   difference_pct_ci_high=round(100 * (ratio + t * se_ratio), 1))
    return OutputGroup(model=model, turn_kind=turn_kind, shaped=a, control=b, enough=True, status="measured", **out)


def _output_shaping(conn: sqlite3.Connection, where: str, args: list[Any]) -> OutputShaping | None:
    """Output tokens per turn by the output holdout's arm, turn kind and model, when the shaper ran in the
    period (rows with a turn kind), else None. Only requests whose provider reported usage count as turns."""
    if not (has_column(conn, "output_arm") and has_column(conn, "turn_kind")):
        return None
    counts = conn.execute(
        "SELECT COUNT(*), SUM(shaped != ''), SUM(output_arm = 'treatment' OR output_arm IS NULL), "
        f"SUM(output_arm = 'control') FROM requests WHERE {where} AND turn_kind IS NOT NULL", args).fetchone()
    if not counts[0]:
        return None
    rows = conn.execute(
        "SELECT model, turn_kind, COALESCE(output_arm, 'treatment'), COUNT(*), SUM(usage_output), "
        "SUM(usage_output * usage_output), SUM(usage_input), SUM(usage_cache_read) FROM requests "
        f"WHERE {where} AND turn_kind IS NOT NULL AND usage_reported = 1 AND error = 0 "
        "GROUP BY model, turn_kind, output_arm", args).fetchall()
    sums: dict[tuple[str, str, str], _Sums] = {}
    models: set[str] = set()
    for model, kind, arm, *numbers in rows:
        name = model or "(unknown)"
        models.add(name)
        for key in ((name, kind), (name, ALL_TURNS), (ALL_MODELS, kind), (ALL_MODELS, ALL_TURNS)):
            sums.setdefault((*key, arm), _Sums()).add(*(int(v or 0) for v in numbers))
    groups = []
    for model in (ALL_MODELS, *sorted(models)):
        for kind in (ALL_TURNS, "mechanical", "other"):
            shaped, control = sums.get((model, kind, "treatment")), sums.get((model, kind, "control"))
            if shaped is None and control is None:
                continue
            groups.append(output_group(model, kind, shaped or _Sums(), control or _Sums()))
    return OutputShaping(shaped_requests=int(counts[1] or 0), treatment_requests=int(counts[2] or 0),
                         control_requests=int(counts[3] or 0), groups=tuple(groups))


def _needed(conn: sqlite3.Connection | None, where: str, args: list[Any]) -> Needed:
    """Dropped, then needed: earlier dropped runs the model needed, by how it got them, and the pipeline's
    re-expansions. Zeros for a ledger written before these were measured."""
    sums = [0] * len(NEEDED_COLUMNS)
    if conn is not None and all(has_column(conn, c) for c in NEEDED_COLUMNS):
        row = conn.execute(f"SELECT {', '.join(f'SUM({c})' for c in NEEDED_COLUMNS)} FROM requests WHERE {where}",
                           args).fetchone()
        sums = [int(v or 0) for v in row]
    retrieved, reread, guessed, reexpanded = sums
    return Needed(total=retrieved + reread + guessed, retrieved=retrieved, reread=reread, guessed=guessed,
                  reexpanded=reexpanded)


def _per_group(conn: sqlite3.Connection, column: str, where: str, args: list[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT {column}, COUNT(*), SUM(compressed), SUM(tokens_before), SUM(tokens_after), SUM(tool_tokens_before), "
        f"SUM(tool_tokens_after), SUM(retrievals) FROM requests WHERE {where} AND {column} IS NOT NULL "
        f"GROUP BY {column}", args).fetchall()


def _sums(r: tuple[Any, ...]) -> dict[str, int]:
    return dict(requests=int(r[1]), compressed_requests=int(r[2] or 0), tokens_before=int(r[3] or 0),
                tokens_after=int(r[4] or 0), tokens_saved=int(r[3] or 0) - int(r[4] or 0),
                tool_tokens_before=int(r[5] or 0), tool_tokens_after=int(r[6] or 0), retrievals=int(r[7] or 0))


def _per_user(conn: sqlite3.Connection, where: str, args: list[Any]) -> tuple[UserFigures, ...]:
    out = [UserFigures(user=str(r[0]), **_sums(r)) for r in _per_group(conn, "user", where, args)]
    return tuple(sorted(out, key=lambda u: (-u.tokens_before, u.user)))


def _per_replica(conn: sqlite3.Connection, where: str, args: list[Any]) -> tuple[ReplicaFigures, ...]:
    out = [ReplicaFigures(replica=str(r[0]), **_sums(r)) for r in _per_group(conn, "replica", where, args)]
    return tuple(sorted(out, key=lambda u: u.replica))


def build_report(conn: sqlite3.Connection | None, *, since: float | None = None, until: float | None = None,
                 now: float | None = None, pricing: str | None = None, session: str | None = None,
                 user: str | None = None) -> Report:
    """Every figure perf, /stats, /metrics and the dashboard show, for rows with since <= ts < until
    (`since`/`until` are unix times; None means unbounded). The sums are done by SQLite, so a year of
    history stays quick. `pricing` is the user's price file (HEADROOM_PRICING), merged over the shipped
    table. `session` keeps the rows of one wrapped session (headroom wrap's id) only, `user` those of one team
    user."""
    from headroom.core.pricing import cost_usd, load_prices

    now = time.time() if now is None else now
    until_ts = now if until is None else until
    conds: list[str] = ["1"]
    args: list[Any] = []
    if since is not None:
        conds.append("{ts} >= ?")
        args.append(since)
    if until is not None:
        conds.append("{ts} < ?")
        args.append(until)
    if session is not None:
        if conn is not None and has_column(conn, "session"):
            conds.append("{session} = ?")
            args.append(session)
        else:  # a ledger from before sessions: none of its rows is that session's
            conds.append("0")
    has_user = conn is not None and has_column(conn, "user")
    if user is not None:
        if has_user:
            conds.append("{user} = ?")
            args.append(user)
        else:  # a ledger from before team mode: none of its rows is that user's
            conds.append("0")
    where = " AND ".join(conds)
    w = where.format(ts="ts", session="session", user="user")
    wr = where.format(ts="r.ts", session="r.session", user="r.user")
    prices = load_prices(pricing)

    groups: list[Any] = []
    unit_rows: list[Any] = []
    type_requests: dict[str, int] = {}
    dropped, first_ts = 0, None
    latency: dict[str, list[float]] = {k: [] for k in ("compression", "overhead", "ttfb", "upstream")}
    series_rows: list[Any] = []
    holdout = shaping = None
    per_user: tuple[UserFigures, ...] = ()
    per_replica: tuple[ReplicaFigures, ...] = ()
    if conn is not None:
        conn.row_factory = None  # plain tuples; recent() may have set sqlite3.Row on this connection
        groups = conn.execute(_GROUP_SQL.format(where=w, bill=_bill_sql(has_column(conn, "removed_new"))),
                              args).fetchall()
        unit_rows = conn.execute(
            "SELECT u.content_type, u.compressor, SUM(u.units), SUM(u.tokens_before), "
            f"SUM(u.tokens_after), SUM(u.ms) FROM units u JOIN requests r ON r.id = u.request_id WHERE {wr} "
            "GROUP BY u.content_type, u.compressor", args).fetchall()
        type_requests = dict(conn.execute(
            f"SELECT u.content_type, COUNT(DISTINCT u.request_id) FROM units u JOIN requests r ON r.id = u.request_id "
            f"WHERE {wr} GROUP BY u.content_type", args).fetchall())
        got = conn.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        dropped = int(got[0]) if got else 0
        latency["compression"] = _sorted_column(conn, "compress_ms", w, args, "AND compressed = 1")
        latency["overhead"] = _sorted_column(conn, "overhead_ms", w, args)
        latency["ttfb"] = _sorted_column(conn, "ttfb_ms", w, args)
        latency["upstream"] = _sorted_column(conn, "upstream_ms", w, args)
        first_ts = conn.execute(f"SELECT MIN(ts) FROM requests WHERE {w}", args).fetchone()[0]
        holdout = _holdout(conn, w, args, prices)
        shaping = _output_shaping(conn, w, args)
        per_user = _per_user(conn, w, args) if has_user else ()
        per_replica = _per_replica(conn, w, args) if has_column(conn, "replica") else ()

    start = since if since is not None else (first_ts if first_ts is not None else until_ts)
    step = _bucket_seconds(max(until_ts - start, 1.0))
    if conn is not None:
        series_rows = conn.execute(
            f"SELECT CAST(ts / {step} AS INTEGER) * {step} AS b, COUNT(*), SUM(tokens_before), SUM(tokens_after), "
            f"SUM(tool_tokens_before), SUM(tool_tokens_after) FROM requests WHERE {w} GROUP BY b ORDER BY b",
            args).fetchall()

    total = dict.fromkeys(_SUMS, 0)
    t_priced = t_priced_usage = 0
    t_saved_usd = t_spent_usd = t_breaks_usd = 0.0
    per_model = []
    for row in groups:
        model, provider = row[0], row[1]
        acc = dict(zip(_SUMS, (int(v or 0) for v in row[2:])))
        price = prices.lookup(model)
        priced = acc["requests"] if price else 0
        priced_usage = acc["usage_requests"] if price else 0
        saved_usd, spent_usd, breaks_usd = 0.0, 0.0, 0.0
        if price is not None:
            saved_usd, breaks_usd = _saved_on_bill(acc, price)
            spent_usd = cost_usd(price, input=acc["usage_input"], cache_read=acc["usage_cache_read"],
                                 cache_write=acc["usage_cache_write"], output=acc["usage_output"]) or 0.0
        for k in _SUMS:
            total[k] += acc[k]
        t_priced += priced
        t_priced_usage += priced_usage
        t_saved_usd += saved_usd
        t_spent_usd += spent_usd
        t_breaks_usd += breaks_usd
        per_model.append(ModelFigures(model=model or "(unknown)", provider=provider,
                                      price_family=price.family if price else None,
                                      **_figures(acc, priced, priced_usage, saved_usd, spent_usd, breaks_usd)))
    per_model.sort(key=lambda m: (-m.tokens_before, m.model, m.provider))

    types: dict[str, dict[str, Any]] = {}
    for content_type, compressor, units, before, after, ms in unit_rows:
        t = types.setdefault(content_type, {"units": 0, "requests": type_requests.get(content_type, 0),
                                            "tokens_before": 0, "tokens_after": 0, "ms": 0.0, "compressors": {}})
        t["units"] += units
        t["tokens_before"] += before
        t["tokens_after"] += after
        t["ms"] += ms
        t["compressors"][compressor] = units
    per_type = []
    for name, t in sorted(types.items(), key=lambda kv: (-kv[1]["tokens_before"], kv[0])):
        saved = t["tokens_before"] - t["tokens_after"]
        per_type.append(ContentTypeFigures(
            content_type=name, units=t["units"], requests=t["requests"],
            tokens_before=t["tokens_before"], tokens_after=t["tokens_after"], tokens_saved=saved,
            saved_pct=_pct(saved, t["tokens_before"]), ms=round(t["ms"], 1),
            compressors=dict(sorted(t["compressors"].items(), key=lambda kv: (-kv[1], kv[0]))),
        ))

    points = tuple(Point(t=b, requests=n, tokens_before=tb, tokens_after=ta, tool_tokens_before=ttb,
                         tool_tokens_after=tta) for b, n, tb, ta, ttb, tta in series_rows)

    return Report(
        period=Period(since=since, until=until_ts),
        pricing=PricingBasis(as_of=prices.as_of, currency=prices.currency,
                             basis=BASIS),
        totals=Figures(**_figures(total, t_priced, t_priced_usage, t_saved_usd, t_spent_usd, t_breaks_usd)),
        latency_ms=Latency(**{k: _dist_sorted(v) for k, v in latency.items()}),
        per_model=tuple(per_model),
        per_content_type=tuple(per_type),
        per_user=per_user,
        per_replica=per_replica,
        series=Series(bucket_seconds=step, points=points),
        ledger=LedgerHealth(dropped_total=dropped),
        compress_holdout=holdout,
        needed=_needed(conn, w, args),
        output_shaping=shaping,
    )


_RECENT_COLUMNS = ("id", "ts", "provider", "host", "model", "streaming", "status", "tokens_before", "tokens_after",
                   "tool_tokens_before", "tool_tokens_after", "compress_ms", "overhead_ms", "ttfb_ms",
                   "upstream_ms", "usage_input", "usage_cache_read", "usage_output", "retrievals", "fail_open",
                   "bypass", "error")


def recent(conn: sqlite3.Connection | None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest rows, numbers only, newest first (the dashboard's table; JSON-ready)."""
    if conn is None:
        return []
    columns = _RECENT_COLUMNS + tuple(c for c in (*NEEDED_COLUMNS, "output_arm", "turn_kind", "shaped")
                                      if has_column(conn, c))
    conn.row_factory = sqlite3.Row
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM requests ORDER BY ts DESC, id DESC LIMIT ?",
                        (max(1, min(int(limit), 1000)),)).fetchall()
    return [dict(r) for r in rows]
