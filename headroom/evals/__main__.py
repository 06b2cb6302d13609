"""`python -m headroom.evals suite --tier 1`: do answers survive compression? Exit 1 if any fact is lost."""
from __future__ import annotations

from typing import Annotated

import typer

from headroom.cli.main import OneLineGroup

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, cls=OneLineGroup,
                  rich_markup_mode=None, help="Check that compression keeps what an agent needs to answer.")

TIERS = {1: "offline: real-world workloads shipped in the package, the standard-library regression cases "
            "and the agent corpus; facts verbatim, named by a marker, or lost"}


@app.callback()
def _main() -> None:
    pass


@app.command()
def suite(
    tier: Annotated[int, typer.Option(help="Which tier to run. Tier 1 runs offline in seconds.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    section: Annotated[list[str], typer.Option(metavar="SECTION", help="Only these sections: realworld, regression, "
                                               "agents (repeatable; all by default).")] = [],
    kind: Annotated[list[str], typer.Option(metavar="KIND", help="Only workloads of these kinds (repeatable).")] = [],
    cases: Annotated[bool, typer.Option("--cases", help="Also print the per-case table.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the generated regression cases.")] = 1,
    model: Annotated[str, typer.Option(help="Model whose tokenizer counts the tokens.")] = "gpt-4o",
) -> None:
    """Run an eval tier: per kind, tokens saved and facts verbatim, named by a marker, or lost; then
    every lost fact and false marker claim. Exit 1 if any fact is lost or any marker claim is false."""
    from headroom.evals.suite import SECTIONS

    if tier not in TIERS:
        typer.echo(f"headroom.evals: no tier {tier}; available: " +
                   "; ".join(f"{k} ({v})" for k, v in TIERS.items()), err=True)
        raise typer.Exit(code=2)
    if fmt not in ("table", "json"):
        typer.echo("headroom.evals: --format is table or json", err=True)
        raise typer.Exit(code=2)
    bad = [s for s in section if s not in SECTIONS]
    if bad:
        typer.echo(f"headroom.evals: no section {bad[0]}; available: {', '.join(SECTIONS)}", err=True)
        raise typer.Exit(code=2)
    from tabulate import tabulate

    from headroom.evals.suite import SECTION_TITLES, as_json, by_kind, run_tier1, totals

    results = run_tier1(seed=seed, model=model, sections=section or SECTIONS, kinds=kind)
    if not results:
        typer.echo("headroom.evals: no workload matches", err=True)
        raise typer.Exit(code=2)
    t = totals(results)
    if fmt == "json":
        typer.echo(as_json(results))
    else:
        if cases:
            rows = [(r.id, r.kind, r.section + ("*" if r.generated else ""), r.tokens_before, r.tokens_after,
                     f"{r.saved_pct:.1f}%", r.verbatim, r.named, r.lost, len(r.violations), f"{r.ms:.0f}")
                    for r in results]
            typer.echo(tabulate(rows, headers=["case", "kind", "section", "before", "after", "saved", "verbatim",
                                               "named", "lost", "false claims", "ms"]))
            typer.echo("(* generated or edited for the test, not a real output)\n")
        for sec in SECTIONS:
            part = [r for r in results if r.section == sec]
            if not part:
                continue
            st = totals(part)
            krows = [(k.kind, k.cases, k.tokens_before, k.tokens_after, f"{k.saved_pct:.1f}%", k.verbatim, k.named,
                      k.lost, k.violations) for k in by_kind(part)]
            krows.append(("TOTAL", st["cases"], st["tokens_before"], st["tokens_after"], f"{st['saved_pct']:.1f}%",
                          st["verbatim"], st["named"], st["lost"], st["marker_violations"]))
            typer.echo(f"{sec}: {SECTION_TITLES[sec]}")
            typer.echo(tabulate(krows, headers=["kind", "cases", "before", "after", "saved", "verbatim", "named",
                                                "lost", "false claims"]) + "\n")
        f = t["facts"] or 1
        typer.echo(f"tier 1: {t['cases']} cases over {t['kinds']} kinds, tokens {t['tokens_before']} -> "
                   f"{t['tokens_after']} ({t['saved_pct']:.1f}% saved); facts {t['facts']}: "
                   f"{t['verbatim']} verbatim ({100 * t['verbatim'] / f:.1f}%), {t['named']} named, "
                   f"{t['lost']} lost ({t['lost_in_unnamed_drop']} of them inside a marker that does not name "
                   f"them); later-turn facts lost {t['later_lost']}/{t['later_facts']}; marker claims "
                   f"checked {t['marker_claims_checked']}, false {t['marker_violations']} "
                   f"({t['markers_unchecked']} markers with no claim this check reads)")
        for r in results:
            if r.error:
                typer.echo(f"ERROR in {r.id}: {r.error}", err=True)
            for fr in r.facts:
                if fr.category == "lost":
                    where = " (in an unnamed drop)" if fr.in_unnamed_drop else ""
                    typer.echo(f"LOST in {r.id} [{fr.turn}]{where}: {fr.fact}", err=True)
            for v in r.violations:
                typer.echo(f"FALSE CLAIM in {r.id}: {v}", err=True)
    if t["lost"] or t["marker_violations"]:
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
