"""`headroom certs`: the local CA that wrapped agents trust: create, show, export, install, rotate."""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from headroom.command import command
from headroom.proxyinfo import DEFAULT_PORT

app = typer.Typer(help="Manage the local CA that agents trust.", no_args_is_help=True, rich_markup_mode=None)

SHELLS = ("bash", "zsh", "fish", "powershell")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"headroom certs: {message}", err=True)
    return typer.Exit(code=code)


def _ca():
    from headroom.certs.ca import CAError, ensure_ca
    from headroom.settings import intercepted_hosts

    try:
        return ensure_ca(hosts=intercepted_hosts(os.environ))
    except CAError as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(f"cannot create the headroom home: {e.strerror}; set HEADROOM_HOME to a writable folder") from None


@app.command("init")
def init() -> None:
    """Create the CA if there is none (an existing CA is kept), and print where it is."""
    from headroom.certs.ca import ca_files, inspect_ca

    existed = ca_files().key_and_cert.exists()
    files = _ca()
    st = inspect_ca(files)
    if st.error:
        raise _fail(st.error)
    typer.echo(f"{'CA already present' if existed else 'created CA'}: {files.cert}")
    typer.echo(f"  {st.subject}, valid until {st.not_after:%Y-%m-%d}, sha256 {st.sha256}")


@app.command("path")
def path(
    key: Annotated[bool, typer.Option("--key", help="Print the key file mitmproxy uses instead (keep it private).")] = False,
) -> None:
    """Print the path of the CA certificate to trust."""
    files = _ca()
    typer.echo(str((files.key_and_cert if key else files.cert).resolve()))


def _detect_shell() -> str:
    if os.name == "nt":
        return "powershell"
    name = Path(os.environ.get("SHELL", "bash")).name
    return name if name in SHELLS else "bash"


def _line(shell: str, name: str, value: str) -> str:
    if shell == "fish":
        return f"set -gx {name} {shlex.quote(value)}"
    if shell == "powershell":
        return f"$env:{name} = '{value.replace(chr(39), chr(39) * 2)}'"
    return f"export {name}={shlex.quote(value)}"


@app.command("env")
def env(
    shell: Annotated[Optional[str], typer.Option("--shell", help="bash, zsh, fish or powershell (default: from $SHELL).")] = None,
    port: Annotated[int, typer.Option("--port", envvar="HEADROOM_PORT", help="The proxy port to point at.")] = DEFAULT_PORT,
) -> None:
    """Print the lines that route this shell through the proxy (what `wrap` sets for its child).

    \b
    bash/zsh:   eval "$(headroom certs env)"
    fish:       headroom certs env --shell fish | source
    PowerShell: headroom certs env --shell powershell | Invoke-Expression
    """
    from headroom.certs.clientenv import client_env

    shell = (shell or _detect_shell()).lower()
    if shell not in SHELLS:
        raise _fail(f"unknown shell {shell!r}; use one of {', '.join(SHELLS)}", code=2)
    if not 0 < port < 65536:
        raise _fail(f"--port {port} is not a TCP port (1-65535)", code=2)
    files = _ca()
    changes = client_env(os.environ, port, files)
    for name in sorted(changes):
        typer.echo(_line(shell, name, changes[name]))


@app.command("bundle")
def bundle(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also copy the bundle to this file.")] = None,
) -> None:
    """Write the client bundle (the roots you trust now plus the headroom CA) and print its path."""
    from headroom.certs.clientenv import client_bundle, user_roots

    files = _ca()
    path_ = client_bundle(os.environ, files)
    if out:
        try:
            out.expanduser().write_bytes(path_.read_bytes())
        except OSError as e:
            raise _fail(f"cannot write {out}: {e.strerror}") from None
        path_ = out.expanduser()
    _, source = user_roots(os.environ)
    typer.echo(str(path_))
    typer.echo(f"  roots from {source} + the headroom CA", err=True)


def _plan(action: str, platform: Optional[str], cert: Optional[Path] = None):
    from headroom.certs import osstore

    if platform is not None and platform not in osstore.PLATFORMS:  # misuse: exit 2 like an unknown --shell
        raise _fail(f"unknown platform {platform!r}; use one of {', '.join(osstore.PLATFORMS)}", code=2)
    if cert is None:
        cert = _ca().cert
    elif not cert.is_file():
        raise _fail(f"{cert} does not exist", code=2)
    try:
        make = osstore.install_plan if action == "install" else osstore.uninstall_plan
        return make(cert, platform)
    except osstore.OSStoreError as e:
        raise _fail(str(e)) from None


def _run(action: str, platform: Optional[str], dry_run: bool, cert: Optional[Path] = None) -> None:
    from headroom.certs import osstore

    plan = _plan(action, platform, cert)
    if dry_run:
        for cmd in plan.commands:
            typer.echo(shlex.join(cmd))
        return
    if plan.note:
        typer.echo(plan.note, err=True)
    try:
        osstore.run_plan(plan)
    except osstore.OSStoreError as e:
        raise _fail(str(e)) from None
    typer.echo(f"headroom CA {'added to' if action == 'install' else 'removed from'} the {plan.platform} trust store")


PlatformOpt = Annotated[
    Optional[str], typer.Option("--platform", help="debian, fedora, macos or windows (default: this machine).")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the commands instead of running them.")]


@app.command("install")
def install(platform: PlatformOpt = None, dry_run: DryRunOpt = False) -> None:
    """Add the headroom CA to the OS trust store (never done implicitly; wrap does not need it)."""
    _run("install", platform, dry_run)


@app.command("uninstall")
def uninstall(
    platform: PlatformOpt = None,
    dry_run: DryRunOpt = False,
    cert: Annotated[Optional[Path], typer.Option("--cert", help="A retired CA certificate to remove instead.")] = None,
) -> None:
    """Remove the headroom CA from the OS trust store."""
    _run("uninstall", platform, dry_run, cert)


def _interactive() -> bool:
    return sys.stdin.isatty()


@app.command("rotate")
def rotate(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the CA with a new one (the old one is kept under ca/retired/)."""
    from headroom.certs.ca import CAError, rotate_ca

    if not yes:
        if not _interactive():  # a script: a prompt would read EOF and stop with a bare "Aborted!"
            raise _fail("rotate replaces the CA every wrapped agent trusts and asks first; pass --yes to run it "
                        "without a terminal", code=2)
        if not typer.confirm("Replace the headroom CA? Running proxies must be restarted", default=False):
            raise _fail("not rotated; the CA is unchanged")
    from headroom.settings import intercepted_hosts

    try:
        files, retired = rotate_ca(hosts=intercepted_hosts(os.environ))
    except CAError as e:
        raise _fail(str(e)) from None
    typer.echo(f"new CA: {files.cert}")
    if retired:
        typer.echo(f"old CA moved to {retired}")
    old = f" --cert {retired / 'mitmproxy-ca-cert.pem'}" if retired else ""
    typer.echo("restart running proxies and wrapped agents; if the old CA was in the OS store, run "
               f"`{command()} certs uninstall{old}` then `{command()} certs install`", err=True)
