"""`headroom perf`: the savings, cost and latency summary, read straight from the ledger (no proxy needed)."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from headroom.command import command

if TYPE_CHECKING:
    from headroom.storage.report import Figures, Holdout, Needed, OutputArm, OutputGroup, OutputShaping, Report

__all__ = ["perf", "fmt_int", "fmt_pct", "fmt_usd", "fmt_ms", "needed_line", "render_output_shaping", "shaping_line"]


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


# The dashboard (headroom/dashboard/static/app.js) formats with the same rules, so both print the same digits.
def fmt_int(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def fmt_pct(p: float | None) -> str:
    return "–" if p is None else f"{p:.2f} %"


def fmt_usd(x: float | None) -> str:
    return "unknown" if x is None else f"${x:.4f}"


def fmt_ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


CSV_COLUMNS = ["model", "provider", "price_family", "requests", "tokens_before", "tokens_after", "tokens_saved",
               "saved_pct_of_request", "tool_tokens_before", "tool_tokens_after", "tool_tokens_saved",
               "saved_pct_of_tool_outputs", "usage_input", "usage_cache_read", "usage_cache_write", "usage_output",
               "retrievals", "fail_open", "usd_saved", "usd_spent", "tokens_removed", "tokens_removed_new",
               "token_ratio", "cache_breaks_headroom", "cache_breaks_client", "usd_cache_breaks"]


def _csv_row(name: str, provider: str, family: str | None, g: Figures) -> list:
    u = g.usage
    vals = [name, provider, family, g.requests, g.tokens_before, g.tokens_after, g.tokens_saved,
            g.saved_pct_of_request, g.tool_tokens_before, g.tool_tokens_after, g.tool_tokens_saved,
            g.saved_pct_of_tool_outputs, u.input, u.cache_read, u.cache_write, u.output,
            g.retrievals, g.fail_open, g.usd_saved, g.usd_spent, g.tokens_removed, g.tokens_removed_new,
            g.token_ratio, g.cache_breaks_headroom, g.cache_breaks_client, g.usd_cache_breaks]
    return ["" if v is None else v for v in vals]


def render_csv(summary: Report) -> str:
    """The per-model table, one row per model plus an "(all)" row of the totals."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for m in summary.per_model:
        w.writerow(_csv_row(m.model, m.provider, m.price_family, m))
    w.writerow(_csv_row("(all)", "", "", summary.totals))
    return out.getvalue()


def render_table(summary: Report, label: str) -> str:
    from tabulate import tabulate

    t = summary.totals
    period = summary.period
    since = "the beginning" if period.since is None else _when(period.since)
    lines = [f"Headroom savings, {label} ({since} to {_when(period.until)})", ""]
    lines.append(f"Requests: {fmt_int(t.requests)}   compressed: {fmt_int(t.compressed_requests)}   "
                 f"bypassed: {fmt_int(t.bypass)}   fail-open: {fmt_int(t.fail_open)}   "
                 f"errors: {fmt_int(t.errors)}   retrievals: {fmt_int(t.retrievals)}")
    lines.append("")
    lines.append(tabulate(
        [["Whole request", fmt_int(t.tokens_before), fmt_int(t.tokens_after), fmt_int(t.tokens_saved),
          fmt_pct(t.saved_pct_of_request)],
         ["Tool outputs only", fmt_int(t.tool_tokens_before), fmt_int(t.tool_tokens_after),
          fmt_int(t.tool_tokens_saved), fmt_pct(t.saved_pct_of_tool_outputs)]],
        headers=["Tokens", "before", "after", "saved", "saved %"], disable_numparse=True,
        colalign=("left", "right", "right", "right", "right"),
    ))
    lines.append("  saved % of the whole request: of every token the client sent (what the bill sees);")
    lines.append("  saved % of tool outputs: of the tool outputs alone (what Headroom compresses).")
    lines.append("")
    lines.extend(render_needed(summary.needed))
    lines.append("")
    lines.extend(render_bill(summary))
    u = t.usage
    lines.append("")
    lines.append(f"Provider-reported usage ({fmt_int(u.requests)} requests): input {fmt_int(u.input)}, "
                 f"cache read {fmt_int(u.cache_read)} ({fmt_pct(u.cache_read_share_pct)} of input), "
                 f"cache write {fmt_int(u.cache_write)}, output {fmt_int(u.output)}")
    lines.append("")
    lat = summary.latency_ms
    titles = {"compression": "Compression", "overhead": "Proxy overhead", "ttfb": "Time to first byte",
              "upstream": "Upstream"}
    lines.append(tabulate(
        [[titles[k], fmt_ms(d.p50), fmt_ms(d.p95), fmt_ms(d.max), fmt_int(d.count)] for k, d in lat.by_stage()],
        headers=["Latency (ms)", "p50", "p95", "max", "requests"], disable_numparse=True,
        colalign=("left", "right", "right", "right", "right"),
    ))
    if summary.per_model:
        lines.append("")
        lines.append(tabulate(
            [[m.model, fmt_int(m.requests), fmt_int(m.tokens_before), fmt_int(m.tokens_after),
              fmt_pct(m.saved_pct_of_request), fmt_pct(m.saved_pct_of_tool_outputs),
              fmt_pct(m.usage.cache_read_share_pct), fmt_ratio(m.token_ratio), fmt_usd(m.usd_saved)]
             for m in summary.per_model],
            headers=["Model", "requests", "before", "after", "saved % request", "saved % tools", "cache read",
                     "token ratio", "saved on the bill"],
            colalign=("left",) + ("right",) * 8, disable_numparse=True,
        ))
    # Team mode: grouped by the user whose token each request carried; the shared ledger: by proxy replica.
    for title, groups in (("User", [(u.user, u) for u in summary.per_user]),
                          ("Replica", [(r.replica, r) for r in summary.per_replica])):
        if groups:
            lines.append("")
            lines.append(tabulate(
                [[name, fmt_int(g.requests), fmt_int(g.tokens_before), fmt_int(g.tokens_after), fmt_int(g.tokens_saved),
                  fmt_int(g.tool_tokens_before), fmt_int(g.tool_tokens_after), fmt_int(g.retrievals)]
                 for name, g in groups],
                headers=[title, "requests", "before", "after", "saved", "tools before", "tools after", "retrievals"],
                colalign=("left",) + ("right",) * 7, disable_numparse=True,
            ))
    if summary.per_content_type:
        lines.append("")
        lines.append(tabulate(
            [[c.content_type, fmt_int(c.units), fmt_int(c.tokens_before), fmt_int(c.tokens_after),
              fmt_pct(c.saved_pct), fmt_ms(c.ms), ", ".join(c.compressors)]
             for c in summary.per_content_type],
            headers=["Content type", "tool outputs", "before", "after", "saved %", "ms", "compressors"],
            colalign=("left", "right", "right", "right", "right", "right", "left"), disable_numparse=True,
        ))
    holdout = summary.compress_holdout
    if holdout:
        lines.append("")
        lines.extend(render_holdout(holdout))
    if summary.output_shaping:
        lines.append("")
        lines.extend(render_output_shaping(summary.output_shaping))
    dropped = summary.ledger.dropped_total
    if dropped:
        lines.append("")
        lines.append(f"Note: {dropped} ledger row(s) could not be written (disk full or database locked); "
                     "the figures above miss those requests.")
    return "\n".join(lines)


def fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"x{r:.3f}"


def bill_line(t: Figures) -> str:
    """THE line of the saving (the dashboard prints the same words): dollars on the bill and tokens removed,
    two numbers, each with its label."""
    return (f"Saved on the bill: {fmt_usd(t.usd_saved)}   Tokens removed: {fmt_int(t.tokens_removed)} "
            f"({fmt_int(t.tokens_removed_new)} counted once per conversation)   "
            f"$ spent (from provider usage): {fmt_usd(t.usd_spent)}")


def breaks_line(t: Figures) -> str:
    cost = "" if t.usd_cache_breaks is None else f" (cost {fmt_usd(t.usd_cache_breaks)}, taken off the saving)"
    return (f"Cache breaks caused by Headroom: {fmt_int(t.cache_breaks_headroom)}{cost}   "
            f"caused by the client: {fmt_int(t.cache_breaks_client)}")


def render_bill(summary: Report) -> list[str]:
    t = summary.totals
    unpriced = t.unpriced_requests
    note = f"; {unpriced} request(s) of models without a known price not counted" if unpriced else ""
    ratio = ("not calibrated yet (no provider-reported usage): our count as is" if t.token_ratio is None else
             f"calibrated per model from the provider's reported input tokens ({fmt_ratio(t.token_ratio)} over "
             f"{fmt_int(t.token_ratio_requests)} requests)")
    return [bill_line(t), breaks_line(t),
            "  saved on the bill: each removed token priced where it sat, as new input (or a cache write) the first",
            "  time in a conversation and as a cache read after when the client caches, minus the cache breaks",
            f"  Headroom caused; list prices as of {summary.pricing.as_of}{note}; correct them with HEADROOM_PRICING",
            "  (see docs/savings.md).",
            "  exact: provider-reported usage and $ spent; our count (o200k): tokens before, after and removed;",
            f"  calibrated: the dollar saving, {ratio}."]


def needed_line(n: Needed) -> str:
    """THE line of "dropped, then needed" (the dashboard prints the same words)."""
    return (f"Dropped, then needed: {fmt_int(n.total)} (retrieved {fmt_int(n.retrieved)}, "
            f"re-read {fmt_int(n.reread)}, guessed {fmt_int(n.guessed)})   "
            f"re-expanded for a later question: {fmt_int(n.reexpanded)}")


def render_needed(n: Needed) -> list[str]:
    return [needed_line(n),
            "  runs dropped from earlier tool outputs that the model needed: retrieved or re-read, the marker worked;",
            "  guessed, it edited or quoted lines it was never shown (see docs/savings.md)."]


def _fmt_num(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def render_holdout(h: Holdout) -> list[str]:
    """The HEADROOM_COMPRESS_HOLDOUT section: compressed (treatment) vs uncompressed (control) conversations."""
    from tabulate import tabulate

    rows = []
    for name, title in (("treatment", "Compressed (treatment)"), ("control", "Uncompressed (control)")):
        a = getattr(h.arms, name)
        rows.append([title, fmt_int(a.requests), _fmt_num(a.avg_input_tokens),
                     _fmt_num(a.avg_output_tokens), fmt_pct(a.cache_read_share_pct),
                     _fmt_num(a.retrievals_per_request, 3)])
    lines = [tabulate(rows, headers=["Holdout", "requests", "avg input", "avg output", "cache read", "retrievals/req"],
                      colalign=("left",) + ("right",) * 5, disable_numparse=True)]
    diff = h.input_tokens_difference
    if diff is None:
        lines.append("  input tokens, compressed minus uncompressed: – (an arm has no provider-reported usage yet)")
    else:
        pct = h.input_tokens_difference_pct
        lines.append(f"  input tokens per request, compressed minus uncompressed: {diff:+,.1f}"
                     + ("" if pct is None else f" ({pct:+.2f} %)") + " (provider-billed input)")
    r = h.reconcile
    if r is not None:
        lines.append(f"  Reconcile: estimated saving per compressed conversation {fmt_usd(r.estimated_usd_per_conversation)}"
                     f"; measured, billed input per conversation uncompressed minus compressed "
                     f"{fmt_usd(r.measured_usd_per_conversation)} ({fmt_usd(r.control_input_usd_per_conversation)} "
                     f"over {fmt_int(r.control_conversations)} vs {fmt_usd(r.treatment_input_usd_per_conversation)} "
                     f"over {fmt_int(r.treatment_conversations)} conversations)")
    lines.append(f"  {h.note}")
    return lines


def _mean_ci(a: OutputArm) -> str:
    if a.mean is None:
        return "–"
    return f"{a.mean:,.1f} [{a.ci_low:,.1f}, {a.ci_high:,.1f}]"


def shaping_line(g: OutputGroup) -> str:
    """THE words of one group's comparison (the dashboard prints the same): the difference with its
    interval, or that there is not enough data yet. Never a percentage without its interval."""
    if not g.enough:
        return g.status
    line = f"{g.difference:+,.1f} tokens/turn [{g.difference_ci_low:+,.1f}, {g.difference_ci_high:+,.1f}]"
    if g.difference_pct is not None:
        line += f", {g.difference_pct:+.1f} % [{g.difference_pct_ci_low:+.1f}, {g.difference_pct_ci_high:+.1f}]"
    return line


def render_output_shaping(o: OutputShaping) -> list[str]:
    """The HEADROOM_OUTPUT_SHAPER section: output tokens per turn, shaped vs unshaped (HEADROOM_OUTPUT_HOLDOUT)."""
    from tabulate import tabulate

    rows = [[g.model, g.turn_kind, fmt_int(g.shaped.turns), _mean_ci(g.shaped), fmt_pct(g.shaped.cache_read_share_pct),
             fmt_int(g.control.turns), _mean_ci(g.control), fmt_pct(g.control.cache_read_share_pct), shaping_line(g)]
            for g in o.groups]
    lines = [f"Output shaping: {fmt_int(o.shaped_requests)} request(s) shaped; turns with provider-reported usage, "
             f"output tokens per turn (mean [95% CI])"]
    lines.append(tabulate(rows, headers=["Model", "kind", "shaped turns", "mean", "cache read", "control turns",
                                         "mean", "cache read", "shaped minus control"],
                          colalign=("left", "left") + ("right",) * 6 + ("left",), disable_numparse=True))
    if not o.control_requests:
        lines.append("  no control turns: set HEADROOM_OUTPUT_HOLDOUT (e.g. 0.1) to keep some conversations unshaped "
                     "and measure the difference")
    lines.append(f"  {o.interval}; at least {o.min_turns} turns per arm before a figure is shown.")
    lines.append(f"  {o.note}")
    return lines


NO_DATA = ("No requests recorded {label}. Run an agent through the proxy, e.g. `{hr} wrap -- claude` "
           "(or `{hr} proxy` and point a client at it), then run `{hr} perf` again.")


def perf(
    since: Annotated[str, typer.Option("--since", help="How far back: 30m, 24h, 7d, 2w or all.")] = "24h",
    format: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv (the per-model table).",
                                           case_sensitive=False)] = Format.table,
    session: Annotated[Optional[str], typer.Option(
        "--session", help="Only the requests of one wrapped session (the id `headroom wrap` printed).")] = None,
    user: Annotated[Optional[str], typer.Option(
        "--user", help="Only the requests of one team user (`headroom team list`); the table groups by user.")] = None,
    ledger: Annotated[Optional[str], typer.Option(
        "--ledger", help="The team's shared ledger, a postgresql:// URL (HEADROOM_LEDGER of the replicas): every "
                         "replica's requests, per user and per replica, instead of this home's ledger.")] = None,
    ledger_ca: Annotated[Optional[str], typer.Option(
        "--ledger-ca", help="The CA bundle the shared ledger's certificate is checked against (HEADROOM_LEDGER_CA; "
                            "sslmode=verify-full unless the URL sets one).")] = None,
) -> None:
    """Savings, cost and latency of the requests that went through the proxy, and the holdouts' comparisons
    (compressed vs uncompressed; with the output shaper, shaped vs unshaped output tokens per turn)."""
    from headroom.storage.ledger import open_reader
    from headroom.core.pricing import PricingError
    from headroom.storage.report import build_report, parse_period, report_json

    try:
        seconds = parse_period(since)
    except ValueError as e:
        typer.echo(f"headroom perf: {e}", err=True)
        raise typer.Exit(code=2) from None
    now = time.time()
    label = "in total" if seconds is None else f"in the last {since.strip()}"
    if session is not None:
        session = session.strip().lower()
        from headroom.addon.sessions import SESSION_RE

        if not SESSION_RE.match(session):
            typer.echo(f"headroom perf: --session {session!r} is not a session id (8 to 32 hex digits, as "
                       "`headroom wrap` prints it)", err=True)
            raise typer.Exit(code=2)
        label += f" of session {session}"
    if user is not None:
        from headroom.storage.users import NAME_RE

        user = user.strip()
        if not NAME_RE.match(user):
            typer.echo(f"headroom perf: --user {user!r} is not a user name (`headroom team list` shows them)", err=True)
            raise typer.Exit(code=2)
        label += f" of user {user}"
    since_ts = None if seconds is None else now - seconds
    conn: sqlite3.Connection | None = None
    if ledger is not None:
        from headroom.storage.pg_ledger import check_url, error_kind, masked, snapshot

        try:
            check_url(ledger.strip())
        except ValueError as e:
            typer.echo(f"headroom perf: {str(e).replace('HEADROOM_LEDGER=', '--ledger ')}", err=True)
            raise typer.Exit(code=2) from None
        try:
            conn = snapshot(ledger.strip(), since=since_ts, ca_file=(ledger_ca or "").strip())
        except ImportError:
            typer.echo("headroom perf: --ledger needs psycopg: pip install 'headroom[team]'", err=True)
            raise typer.Exit(code=1) from None
        except Exception as e:  # psycopg.Error, OSError: say which database, never its password
            typer.echo(f"headroom perf: cannot read the shared ledger {masked(ledger.strip())} "
                       f"({error_kind(e)})", err=True)
            raise typer.Exit(code=1) from None
        label += " across the shared ledger's replicas"
    try:
        if ledger is None:
            conn = open_reader()
        from headroom.settings import pricing_file

        summary = build_report(conn, since=since_ts, now=now,
                               pricing=pricing_file(), session=session, user=user)
    except PricingError as e:
        typer.echo(f"headroom perf: {e}", err=True)
        raise typer.Exit(code=1) from None
    except sqlite3.DatabaseError as e:
        from headroom.storage.ledger import ledger_path

        typer.echo(f"headroom perf: cannot read the ledger {ledger_path()} ({e}); move it aside to start afresh",
                   err=True)
        raise typer.Exit(code=1) from None
    empty = summary.totals.requests == 0
    if format is Format.json:
        typer.echo(json.dumps(report_json(summary), indent=2))
    elif format is Format.csv:
        typer.echo(render_csv(summary), nl=False)
    elif not empty:
        typer.echo(render_table(summary, label.replace("in the last", "last").replace("in total", "all time")))
    if empty:
        typer.echo(NO_DATA.format(label=label, hr=command()), err=format is not Format.table)
