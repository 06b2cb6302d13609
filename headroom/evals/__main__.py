"""`python -m headroom.evals suite --tier 1`: do answers survive compression? Exit 1 if any fact is lost."""
from __future__ import annotations

from typing import Annotated

import typer

from headroom.cli.main import OneLineGroup

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, cls=OneLineGroup,
                  rich_markup_mode=None, help="Check that compression keeps what an agent needs to answer.")

TIERS = {1: "offline: stdlib code, grep, diff and docs, generated logs and JSON; facts kept or retrievable"}


@app.callback()
def _main() -> None:
    pass


@app.command()
def suite(
    tier: Annotated[int, typer.Option(help="Which tier to run. Tier 1 runs offline in seconds.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    seed: Annotated[int, typer.Option(help="Seed for the generated workloads.")] = 1,
    model: Annotated[str, typer.Option(help="Model whose tokenizer counts the tokens.")] = "gpt-4o",
) -> None:
    """Run an eval tier and print, per case, tokens saved and facts kept, retrievable or lost."""
    if tier not in TIERS:
        typer.echo(f"headroom.evals: no tier {tier}; available: " +
                   "; ".join(f"{k} ({v})" for k, v in TIERS.items()), err=True)
        raise typer.Exit(code=2)
    if fmt not in ("table", "json"):
        typer.echo("headroom.evals: --format is table or json", err=True)
        raise typer.Exit(code=2)
    from tabulate import tabulate

    from headroom.evals.suite import as_json, run_tier1

    results = run_tier1(seed=seed, model=model)
    if fmt == "json":
        typer.echo(as_json(results))
    else:
        rows = [(r.id, r.kind, r.tokens_before, r.tokens_after, f"{r.saved_pct:.1f}%", r.kept, r.retrievable,
                 r.lost, f"{r.ms:.0f}") for r in results]
        typer.echo(tabulate(rows, headers=["case", "kind", "before", "after", "saved", "kept", "retrievable",
                                           "lost", "ms"]))
        before = sum(r.tokens_before for r in results)
        after = sum(r.tokens_after for r in results)
        facts = sum(r.kept + r.retrievable + r.lost for r in results)
        lost = sum(r.lost for r in results)
        typer.echo(f"\ntier 1: {len(results)} cases, tokens {before} -> {after} "
                   f"({100 * (1 - after / before) if before else 0:.1f}% saved), "
                   f"facts {facts - lost}/{facts} kept or retrievable")
        for r in results:
            for f in r.lost_facts:
                typer.echo(f"LOST in {r.id}: {f}", err=True)
    if any(r.lost for r in results):
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
