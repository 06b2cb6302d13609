"""The `headroom` command line: composes one module per sub-command.

Sub-command modules keep heavy imports (mitmproxy, onnxruntime) inside their functions, so
`headroom --help` and the light commands start fast.
"""
from __future__ import annotations

import errno
import sys
from typing import Any

import typer
import typer.core

from headroom import __version__
from headroom.cli import certs, compress, dashboard, doctor, perf, proxy, retrieve, team, wrap

def _click_classes() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(ClickException classes, Abort classes): typer >= 0.20 vendors click as typer._click, older typer uses
    click itself; catch whichever the installed typer raises (click itself may not be installed)."""
    exc: list[type] = []
    abort: list[type] = []
    if hasattr(typer, "Abort"):
        abort.append(typer.Abort)
    try:
        from typer._click import exceptions as vendored

        exc.append(vendored.ClickException)
    except ImportError:
        pass
    try:
        import click

        exc.append(click.ClickException)
        abort.append(click.exceptions.Abort)
    except ImportError:
        pass
    return tuple(exc), tuple(abort)


_CLICK_ERRORS, _ABORTS = _click_classes()


def _one_line(e: Exception, fallback: str = "headroom") -> str:
    """A click error as one line naming the command and where to read its usage (typer's default is a
    boxed, multi-line panel)."""
    ctx = getattr(e, "ctx", None)
    where = ctx.command_path if ctx is not None else fallback
    message = " ".join(e.format_message().split()).rstrip(".")  # type: ignore[attr-defined]
    from headroom.command import command

    return f"{where}: {message}; see `{command(where.partition(' ')[2])} --help`"


class OneLineGroup(typer.core.TyperGroup):
    """The top-level group: every misuse (unknown option, missing argument, bad value or env var) is ONE line
    on stderr with exit code 2, and an unexpected OSError is one line with code 1, never a traceback."""

    def format_commands(self, ctx, formatter) -> None:
        """Each command with its whole first paragraph, wrapped (click cuts it at the terminal width with
        '...', which dropped e.g. dashboard's "(proxy must be running)")."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            text = cmd.short_help or (cmd.help or "").split("\n\n", 1)[0]
            rows.append((name, " ".join(text.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def _command_path(self, args) -> str:
        """'headroom SUB' from the command line, for errors raised before click made SUB's context (an
        option missing its value)."""
        words = list(sys.argv[1:] if args is None else args)
        path = [self.name or "headroom"]
        group: Any = self  # a click group, then each subcommand
        for w in words:
            sub = group.commands.get(w) if hasattr(group, "commands") else None
            if sub is None:
                break
            path.append(w)
            group = sub
        return " ".join(path)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        if not standalone_mode:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except _CLICK_ERRORS as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # `headroom` or `headroom certs` alone: the help
                typer.echo(e.format_message(), err=True)
            elif " ".join(e.format_message().split()):
                typer.echo(_one_line(e, self._command_path(args)), err=True)
            sys.exit(getattr(e, "exit_code", 2))
        except _ABORTS:
            typer.echo("headroom: aborted", err=True)
            sys.exit(1)
        except OSError as e:
            if e.errno == errno.EPIPE:  # `headroom perf | head`: the reader left, nothing to say
                sys.exit(1)
            from headroom.home import home

            what = f"{e.filename}: " if e.filename else ""
            hint = ""
            if e.filename and str(e.filename).startswith(str(home())):
                hint = "; set HEADROOM_HOME to a writable folder"
            typer.echo(f"headroom: {what}{e.strerror or e}{hint}", err=True)
            sys.exit(1)
        # Non-standalone mode returns typer.Exit's code (or the command's None).
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=OneLineGroup,
    name="headroom",
    help="A local, transparent proxy that makes LLM requests smaller: tool outputs compressed, nothing lost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich panels label every flag with its type (`--keep <bool>`), which reads as if
    # it took a value (`headroom wrap --keep true` would then run `true` as the agent).
    rich_markup_mode=None,
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
    options_metavar="[OPTIONS] [--] CMD [ARGS]...",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False},
)(wrap.wrap)
app.command("doctor")(doctor.doctor)
app.add_typer(certs.app, name="certs", cls=OneLineGroup)
app.command("compress")(compress.compress)
app.command("retrieve")(retrieve.retrieve)
app.command("perf")(perf.perf)
app.command("dashboard")(dashboard.dashboard)
app.add_typer(team.app, name="team", cls=OneLineGroup)


def run() -> None:
    import os

    from headroom.settings import SettingsError, apply_config_file

    try:  # before any command reads its variables (typer's envvar options too): the environment wins
        apply_config_file(os.environ)
    except SettingsError as e:
        typer.echo(f"headroom: {e}", err=True)
        sys.exit(2)
    app()
