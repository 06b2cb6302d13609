"""The `headroom` command line: composes one module per sub-command.

Sub-command modules keep heavy imports (mitmproxy, onnxruntime) inside their functions, so
`headroom --help` and the light commands start fast.
"""
from __future__ import annotations

import typer

from headroom import __version__
from headroom.cli import certs, compress, dashboard, doctor, perf, proxy, retrieve, wrap

app = typer.Typer(
    name="headroom",
    help="A local, transparent proxy that makes LLM requests smaller: tool outputs compressed, nothing lost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"headroom {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    pass


app.command("proxy")(proxy.proxy)
app.command(
    "wrap",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False},
)(wrap.wrap)
app.command("doctor")(doctor.doctor)
app.add_typer(certs.app, name="certs")
app.command("compress")(compress.compress)
app.command("retrieve")(retrieve.retrieve)
app.command("perf")(perf.perf)
app.command("dashboard")(dashboard.dashboard)


def run() -> None:
    app()
