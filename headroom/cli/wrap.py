"""`headroom wrap [--port N] [--keep] [--] CMD [ARGS...]`: run an agent through the proxy, nothing edited.

The child gets, in its environment only, the proxy variables and CA variables of certs.clientenv. The proxy
on the port is reused when it is a healthy headroom proxy (checked by its /health identity, not assumed),
else started in the background. Proxies are shared through lease files under <home>/run/: one per running
wrap, holding its pid; a wrap that started a proxy records that in an owner file. Whoever leaves last
stops a proxy a wrap started (unless --keep); a proxy started by hand is never stopped. All decisions are
taken under one lock file per port, so two wraps starting or leaving together cannot race.

Each wrap is a session of the proxy (docs/wrap.md): it registers the per-session part of its shell's
settings (HEADROOM_COMPRESS, HEADROOM_BYPASS, the holdout, ...) through the proxy's admin API and gives the
child a proxy URL carrying the session's credential, so that agent's traffic runs with them whatever the
proxy was started with, and other wraps' traffic does not. It ends the session when the child exits. A proxy
that cannot take the registration leaves the child on the proxy's own settings, and wrap says so.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator

import typer

from headroom.command import command
from headroom.procs import alive, start_token
from headroom.proxyinfo import DEFAULT_PORT, effective_settings, port_in_use, probe_health, suggest_port

if TYPE_CHECKING:
    from headroom.core.proxychain import UpstreamProxy
    from headroom.settings import SessionSettings

__all__ = [
    "ProxyLease", "acquire", "chain_mismatch", "chain_of", "child_exit_code", "end_session", "live_leases", "owner_of", "register_session", "release",
    "run_child", "settings_diff", "wrap",
]

USAGE = "usage: headroom wrap [--port N] [--keep] [-q] [--] CMD [ARGS...]   e.g. headroom wrap claude"
START_TIMEOUT = 30.0  # seconds for a started proxy to answer /health (cold start is 1-3 s; slow disks more)
STOP_TIMEOUT = 10.0
ADMIN_TIMEOUT = 5.0  # seconds for the proxy's admin API to take or end a session (it answers in ms)
# A short note for agents that are not installed, so the one error line says what to do.
INSTALL_HINTS = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "aider": "pipx install aider-chat",
}


class WrapError(Exception):
    """A one-line problem for the user; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _say(message: str) -> None:
    typer.echo(f"headroom: {message}", err=True)


# --- leases ------------------------------------------------------------------------------------------


def _run_dir(home: Path) -> Path:
    d = home / "run"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


_start_token = start_token
_alive = alive


@contextlib.contextmanager
def _locked(home: Path, port: int) -> Iterator[None]:
    path = _run_dir(home) / f"proxy-{port}.lock"
    with open(path, "a+") as f:
        try:
            import fcntl
        except ImportError:  # Windows: msvcrt locks a byte range
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]  # Windows only
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _leases_dir(home: Path, port: int) -> Path:
    d = _run_dir(home) / f"proxy-{port}.leases"
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def _owner_file(home: Path, port: int) -> Path:
    return _run_dir(home) / f"proxy-{port}.owner.json"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def owner_of(home: Path, port: int) -> dict | None:
    """What the wrap that started the proxy on `port` recorded (pid, keep), or None (not started by wrap)."""
    return _read_json(home / "run" / f"proxy-{port}.owner.json")


def live_leases(home: Path, port: int) -> list[int]:
    """Pids of the wraps using the proxy on `port`; stale lease files (dead wraps) are removed."""
    out = []
    for f in _leases_dir(home, port).glob("*.json"):
        data = _read_json(f) or {}
        pid = data.get("pid")
        if isinstance(pid, int) and _alive(pid, data.get("token")):
            out.append(pid)
        else:
            f.unlink(missing_ok=True)
    return sorted(out)


@dataclass
class ProxyLease:
    port: int
    home: Path
    info: dict  # the proxy's /health identity
    started: bool  # this wrap started the proxy
    keep: bool
    lease_file: Path


def _proxy_log(home: Path, port: int) -> Path:
    d = home / "logs"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d / f"proxy-{port}.log"


_LOG_HEADER = "--- started by headroom wrap"


def _tail(path: Path, lines: int = 5) -> str:
    """The last lines this start wrote: the log is appended to across starts, and an older run's lines
    (or the header) would say something untrue about this one."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    starts = [i for i, line in enumerate(text) if line.startswith(_LOG_HEADER)]
    if starts:
        text = text[starts[-1] + 1:]
    return " | ".join(text[-lines:]) or "it printed nothing"


def _start_proxy(home: Path, port: int, timeout: float, chain: UpstreamProxy | None = None) -> dict:
    log = _proxy_log(home, port)
    env = dict(os.environ)  # HEADROOM_HOME unset stays unset: the proxy resolves the same default home
    if env.get("HEADROOM_HOME"):
        env["HEADROOM_HOME"] = str(home.resolve())  # the proxy runs in another directory
    env.pop("HEADROOM_PORT", None)  # --port says it; the variable could only disagree
    # The upstream proxy this shell found (its HTTPS_PROXY, ALL_PROXY or HEADROOM_UPSTREAM_PROXY), decided here
    # once; in the environment, not on the command line, where any local user could read its password.
    env["HEADROOM_UPSTREAM_PROXY"] = chain.url if chain is not None else "none"
    cmd = [sys.executable, "-m", "headroom", "proxy", "--port", str(port)]
    kwargs: dict = {}
    if os.name == "posix":
        kwargs["start_new_session"] = True  # the terminal's Ctrl-C is for the agent, not the shared proxy
    else:
        kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    with open(log, "ab") as out:
        out.write(f"\n{_LOG_HEADER} (pid {os.getpid()}) at {time.ctime()}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=str(home), **kwargs)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WrapError(f"the proxy exited at start (code {proc.returncode}): {_tail(log)} (log: {log})")
        info = probe_health(port, timeout=1.0)
        if info and info.get("pid") == proc.pid:
            return info
        time.sleep(delay)
        delay = min(delay * 1.5, 0.3)
    proc.terminate()
    raise WrapError(f"the proxy did not answer within {timeout:.0f} s; see {log}")


def settings_diff(mine: dict, theirs: dict, *, skip: frozenset[str] = frozenset()) -> list[str]:
    """One 'NAME: here X, proxy Y' line per HEADROOM_* setting that differs (but those in `skip`)."""
    out = []
    for name in sorted((set(mine) | set(theirs)) - {"HEADROOM_HOME"} - skip):  # homes: compared as resolved paths
        a, b = mine.get(name) or None, theirs.get(name) or None
        if a != b:
            out.append(f"{name}: {a if a is not None else 'unset'} here, {b if b is not None else 'unset'} in the proxy")
    return out


def proxy_diff(info: dict, *, skip: frozenset[str] = frozenset(), only: frozenset[str] | None = None) -> list[str]:
    """settings_diff of what a proxy started from this environment would do and what the running one does
    (its identity's "effective": from its flags or its environment, canonical), so a proxy started with
    `--extra-host H` matches a shell with HEADROOM_EXTRA_HOSTS=H, and `1`, `on` or unset-by-default are one
    value. Compared: the settings this shell sets, and those the proxy took from its environment (a wrap
    that started it passed them on); a flag of a proxy started by hand, which this shell says nothing
    about, is that proxy's choice, not a mismatch. A proxy older than that reports only its HEADROOM_*
    variables: those are compared."""
    from headroom.settings import reported_settings

    theirs = info.get("effective")
    if isinstance(theirs, dict) and theirs:
        mine = effective_settings()
        asked = (set(reported_settings(os.environ)) | set(info.get("settings") or {})) & set(mine) & set(theirs)
        mine = {k: v for k, v in mine.items() if k in asked}
        theirs = {k: v for k, v in theirs.items() if k in asked}
    else:
        mine, theirs = reported_settings(os.environ), info.get("settings") or {}
    if only is not None:
        mine = {k: v for k, v in mine.items() if k in only}
        theirs = {k: v for k, v in theirs.items() if k in only}
    return settings_diff(mine, theirs, skip=skip)


def chain_of(env=None, port: int | None = None) -> UpstreamProxy | None:
    """The user's proxy this shell names (HEADROOM_UPSTREAM_PROXY, else HTTPS_PROXY / ALL_PROXY unless it is a
    headroom proxy), with NO_PROXY: what a proxy wrap starts chains to. WrapError (exit 2) for a bad one."""
    from headroom.proxyinfo import upstream_proxy_for

    env = os.environ if env is None else env
    try:
        return upstream_proxy_for(env, env.get("HEADROOM_UPSTREAM_PROXY"), own_port=port)
    except ValueError as e:
        raise WrapError(str(e), code=2) from None


def chain_mismatch(chain: UpstreamProxy | None, info: dict, port: int) -> str | None:
    """Why the running proxy `info` describes is not one this shell's traffic may use (it chains elsewhere, or
    not at all, or with other exemptions), in one line with the fix; None when they agree."""
    mine = chain.describe() if chain is not None else None
    theirs = info.get("upstream_proxy") or None
    if mine == theirs:
        return None

    def say(d: dict | None) -> str:
        if not d:
            return "connects directly"
        exempt = ",".join(d.get("no_proxy") or []) or "none"
        return f"chains to {d.get('url')} (NO_PROXY {exempt})"

    return (f"the proxy on port {port} (pid {info.get('pid')}) {say(theirs)}, this shell {say(mine)}: stop it once its "
            f"other users are done (kill {info.get('pid')}) and run wrap again, or use another port: "
            f"headroom wrap --port {suggest_port(port) or 'N'} ...")


def acquire(port: int, *, keep: bool = False, home: Path | None = None, timeout: float = START_TIMEOUT,
            quiet: bool = False, per_session: frozenset[str] = frozenset(),
            chain: UpstreamProxy | None = None) -> ProxyLease:
    """Reuse or start the proxy on `port` and register this process as one of its users. The settings named
    in `per_session` are not compared: this wrap's session carries them. `chain` is the upstream proxy this
    shell's traffic must go through: a running proxy is reused only if it chains the same way."""
    from headroom.home import ensure_home

    home = home or ensure_home()
    with _locked(home, port):
        info = probe_health(port)
        started = False
        if info is not None:
            mismatch = chain_mismatch(chain, info, port)
            if mismatch:
                raise WrapError(mismatch)
        if info is None:
            if port_in_use(port):
                raise WrapError(
                    f"port {port} is in use by something that is not a headroom proxy; stop it or pick another "
                    f"port: {command()} wrap --port {suggest_port(port) or 'N'} ..."
                )
            info = _start_proxy(home, port, timeout, chain)
            started = True
            _owner_file(home, port).write_text(json.dumps(
                {"pid": info["pid"], "token": _start_token(info["pid"]), "wrap_pid": os.getpid(), "keep": keep}
            ))
            if not quiet:
                _say(f"started a proxy on 127.0.0.1:{port} (pid {info['pid']}, log {_proxy_log(home, port)})")
        else:
            # The upstream proxy was compared above, as the identity reports it (from a flag or any variable).
            diff = proxy_diff(info, skip=per_session | {"HEADROOM_UPSTREAM_PROXY"})
            if diff:
                _say(f"reusing the proxy on port {port} (pid {info.get('pid')}), whose proxy-wide settings differ "
                     "from this shell's:")
                for line in diff:
                    typer.echo(f"  {line}", err=True)
                typer.echo(f"  to apply them, stop that proxy once its other users are done (kill {info.get('pid')}) "
                           f"and run wrap again, or use another port: {command()} wrap --port {suggest_port(port) or 'N'} ...", err=True)
            elif not quiet:
                _say(f"using the proxy on 127.0.0.1:{port} (pid {info.get('pid')})")
        lease = _leases_dir(home, port) / f"{os.getpid()}.json"
        lease.write_text(json.dumps({"pid": os.getpid(), "token": _start_token(os.getpid()), "keep": keep,
                                     "started": time.time()}))
        return ProxyLease(port, home, info, started, keep, lease)


def release(lease: ProxyLease) -> bool:
    """Drop this wrap's lease; stop the proxy if a wrap started it, nobody else uses it and --keep was not
    given. Returns True if it stopped the proxy."""
    with _locked(lease.home, lease.port):
        lease.lease_file.unlink(missing_ok=True)
        if live_leases(lease.home, lease.port):
            return False
        owner_path = _owner_file(lease.home, lease.port)
        owner = _read_json(owner_path)
        if owner is None or lease.keep or owner.get("keep"):
            return False
        pid = owner.get("pid")
        current = probe_health(lease.port)
        # Only the very process a wrap started: a proxy restarted by hand since then is not ours to stop.
        if not isinstance(pid, int) or current is None or current.get("pid") != pid \
                or not _alive(pid, owner.get("token")):
            owner_path.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        owner_path.unlink(missing_ok=True)
        return True


# --- the session -------------------------------------------------------------------------------------


def _admin(info: dict, method: str, path: str, body: dict | None = None) -> dict:
    """One call to the proxy's loopback admin API; OSError / ValueError saying why it failed."""
    import urllib.error
    import urllib.request

    base = info.get("admin_url")
    if not isinstance(base, str) or not base.startswith("http://127.0.0.1:"):
        raise OSError("it has no admin address (HEADROOM_ADMIN_PORT=-1, or a version before sessions)")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a shell's own proxy
    try:
        with opener.open(req, timeout=ADMIN_TIMEOUT) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            why = json.loads(e.read()).get("error") or e.reason
        except ValueError:
            why = e.reason
        raise OSError(f"its admin API answered {e.code}: {why}") from None


def _with_admin(info: dict, port: int, timeout: float = ADMIN_TIMEOUT) -> dict:
    """`info`, or a newer identity naming the admin address: a proxy answers /health a moment before its admin
    server is up (it starts once the proxy runs). Unchanged when the proxy has none (-1)."""
    deadline = time.monotonic() + timeout
    while not info.get("admin_url") and (info.get("options") or {}).get("headroom_admin_port") != -1 \
            and time.monotonic() < deadline:
        time.sleep(0.05)
        newer = probe_health(port, timeout=1.0)
        if newer is None or newer.get("pid") != info.get("pid"):
            break
        info = newer
    return info


def register_session(info: dict, settings: SessionSettings, session_id: str | None = None) -> str:
    """Register this wrap's session with the proxy `info` describes; its id. OSError saying why it could not."""
    sid = session_id or secrets.token_hex(8)
    _admin(info, "POST", "/sessions", {"id": sid, "pid": os.getpid(), "token": start_token(os.getpid()),
                                       "started": time.time(), "settings": settings.to_json()})
    return sid


def end_session(info: dict, session_id: str) -> None:
    """Best effort: the proxy also ends a session whose wrap is gone."""
    with contextlib.suppress(OSError, ValueError):
        _admin(info, "DELETE", f"/sessions/{session_id}")


def _session_note(settings: SessionSettings, options: dict) -> str:
    """This session's settings that differ from the proxy's own (its identity's options), as 'NAME=value'."""
    theirs = {"compress": options.get("headroom_compress", True), "bypass": options.get("headroom_bypass", False),
              "compress_holdout": options.get("headroom_compress_holdout", 0.0),
              "min_tokens": options.get("headroom_min_tokens", settings.min_tokens),
              "output_shaper": options.get("headroom_output_shaper", False),
              "output_shaper_level": options.get("headroom_output_shaper_level", settings.output_shaper_level),
              "output_shaper_effort": options.get("headroom_output_shaper_effort", True),
              "output_holdout": options.get("headroom_output_holdout", 0.0)}
    names = {"compress": "HEADROOM_COMPRESS", "bypass": "HEADROOM_BYPASS",
             "compress_holdout": "HEADROOM_COMPRESS_HOLDOUT", "min_tokens": "HEADROOM_MIN_TOKENS",
             "output_shaper": "HEADROOM_OUTPUT_SHAPER", "output_shaper_level": "HEADROOM_OUTPUT_SHAPER_LEVEL",
             "output_shaper_effort": "HEADROOM_OUTPUT_SHAPER_EFFORT", "output_holdout": "HEADROOM_OUTPUT_HOLDOUT"}
    mine = settings.to_json()

    def word(v: object) -> str:
        return ("1" if v else "0") if isinstance(v, bool) else str(v)

    return ", ".join(f"{env}={word(mine[k])}" for k, env in names.items() if mine[k] != theirs[k])


# --- the child --------------------------------------------------------------------------------------


def child_exit_code(returncode: int) -> int:
    """The shell convention: a child killed by signal N makes us exit 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def _tty_delivers_sigint() -> bool:
    """Is Ctrl-C from the terminal reaching the child directly (same foreground process group)?"""
    if not hasattr(os, "tcgetpgrp"):
        return True  # Windows: the console delivers Ctrl-C to every process attached to it
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def run_child(cmd: list[str], env: dict) -> int:
    """Run `cmd` with the terminal (inherited stdio, same process group), forwarding SIGTERM/SIGHUP (and
    SIGINT when it did not come from the terminal, which already sent it to the child); its exit code."""
    proc = subprocess.Popen(cmd, env=env)
    forwarded = [s for s in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, s)]
    previous = {}

    def forward(signum, _frame):
        if signum == signal.SIGINT and _tty_delivers_sigint():
            return  # the child got this Ctrl-C from the terminal; a second one would be a double press
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    for name in forwarded:
        sig = getattr(signal, name)
        previous[sig] = signal.signal(sig, forward)
    try:
        while True:
            try:
                return child_exit_code(proc.wait())
            except KeyboardInterrupt:  # only if a handler was replaced under us; keep waiting for the child
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _resolve(cmd: list[str], env: dict) -> list[str]:
    exe = shutil.which(cmd[0], path=env.get("PATH"))
    if exe is None:
        hint = INSTALL_HINTS.get(Path(cmd[0]).name)
        more = f"; install it with `{hint}`" if hint else ""
        raise WrapError(f"{cmd[0]}: command not found{more}", code=127)
    return cmd


def wrap(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", envvar="HEADROOM_PORT", help="Proxy port to use or start.")] = DEFAULT_PORT,
    keep: Annotated[bool, typer.Option("--keep", help="Leave a proxy this wrap started running after it exits.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No note about which proxy is used.")] = False,
) -> None:
    """Run CMD (an agent: claude, codex, aider, a script...) through the headroom proxy.

    The proxy on --port is reused if it is running, else started in the background. \
CMD gets HTTPS_PROXY and the CA variables in its own environment only; nothing else is changed. \
Behind a proxy of your own (HTTPS_PROXY, ALL_PROXY or HEADROOM_UPSTREAM_PROXY in this shell), the headroom \
proxy chains to it, with its credentials and NO_PROXY, and CMD's NO_PROXY keeps your exemptions. \
This shell's per-session settings (HEADROOM_COMPRESS, HEADROOM_BYPASS, HEADROOM_COMPRESS_HOLDOUT, \
HEADROOM_MIN_TOKENS, HEADROOM_OUTPUT_SHAPER and its _LEVEL and _EFFORT, HEADROOM_OUTPUT_HOLDOUT) apply to CMD's \
traffic even on a proxy running with others. \
Wrap's options go before CMD; everything after CMD is CMD's.
    """
    from headroom.addon.sessions import credential
    from headroom.certs.ca import CAError, ca_files, ensure_ca
    from headroom.certs.clientenv import client_env

    cmd = list(ctx.args)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    elif cmd and cmd[0].startswith("-"):
        # Unknown options reach here as the "command" (ignore_unknown_options); no agent is called "--x".
        typer.echo(f"headroom wrap: no such option {cmd[0]}; wrap's options are --port, --keep and -q, "
                   f"the agent's go after it: {USAGE[len('usage: '):]}", err=True)
        raise typer.Exit(code=2)
    if not cmd:
        typer.echo(f"headroom wrap: no command given; {USAGE}", err=True)
        raise typer.Exit(code=2)
    if not 0 < port < 65536:
        typer.echo(f"headroom wrap: --port {port} is not a TCP port (1-65535)", err=True)
        raise typer.Exit(code=2)
    from headroom.settings import PER_SESSION, Settings, SettingsError

    try:
        settings = Settings.from_env(os.environ)  # the proxy's one-line errors, also when it is reused
    except SettingsError as e:
        typer.echo(f"headroom wrap: {e}", err=True)
        raise typer.Exit(code=2) from None
    team_token = os.environ.get("HEADROOM_TEAM_TOKEN", "").strip() or None  # NAME:TOKEN (docs/team.md)
    if team_token is not None:
        from headroom.storage.users import NAME_RE

        name, sep, secret = team_token.partition(":")
        if not sep or not NAME_RE.match(name) or not secret or "." in secret:
            typer.echo("headroom wrap: HEADROOM_TEAM_TOKEN must be NAME:TOKEN, as `headroom team add NAME` printed it",
                       err=True)
            raise typer.Exit(code=2)
    try:
        _resolve(cmd, dict(os.environ))
        chain = chain_of(os.environ, port)
        from headroom.settings import intercepted_hosts

        files = ensure_ca(hosts=intercepted_hosts(os.environ))
        lease = acquire(port, keep=keep, quiet=quiet, per_session=PER_SESSION, chain=chain)
    except CAError as e:
        typer.echo(f"headroom wrap: {e}", err=True)
        raise typer.Exit(code=1) from None
    except WrapError as e:
        typer.echo(f"headroom wrap: {e}", err=True)
        raise typer.Exit(code=e.code) from None
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        typer.echo(f"headroom wrap: cannot write{where}: {e.strerror or e}; set HEADROOM_HOME to a writable folder",
                   err=True)
        raise typer.Exit(code=1) from None
    try:
        proxy_home = Path(lease.info.get("home") or "")
        if lease.info.get("home") and proxy_home.resolve() != lease.home.resolve():
            # A proxy with another home signs with another CA: trust that one, or nothing would verify.
            other = ca_files(proxy_home)
            if other.cert.is_file():
                files = other
            _say(f"the proxy on port {port} uses the headroom home {proxy_home}; trusting its CA")
        session: str | None = None
        lease.info = _with_admin(lease.info, port)
        try:
            session = register_session(lease.info, settings.session())
        except (OSError, ValueError) as e:
            diff = proxy_diff(lease.info, only=PER_SESSION)
            _say(f"the proxy on port {port} takes no per-session settings ({e}): this wrap's traffic runs with "
                 "the proxy's own" + (", which differ: " + "; ".join(diff) if diff else ""))
        if session is not None and not quiet:
            note = _session_note(settings.session(), lease.info.get("options") or {})
            _say(f"session {session}" + (f": {note} for this wrap's traffic only" if note else ""))
        env = dict(os.environ)
        env.update(client_env(os.environ, port, files, userinfo=credential(session, team_token)))
        if chain is not None:  # HTTPS_PROXY is now ours: a wrap or proxy started inside CMD still knows the user's
            env["HEADROOM_UPSTREAM_PROXY"] = chain.url
        try:
            code = run_child(cmd, env)
        except OSError as e:
            typer.echo(f"headroom wrap: cannot run {cmd[0]}: {e.strerror or e}", err=True)
            code = 126
        if session is not None:
            end_session(lease.info, session)
    finally:
        try:
            release(lease)
        except OSError as e:
            _say(f"could not release the proxy lease: {e}")
    raise typer.Exit(code=code)
