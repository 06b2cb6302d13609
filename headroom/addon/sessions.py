"""Sessions: settings per wrapped session, on one shared proxy.

`headroom wrap` registers its session's settings (settings.SessionSettings) through the admin API and hands
its child a proxy URL carrying a credential, `http://headroom:SESSION@127.0.0.1:PORT`, which clients send as
Proxy-Authorization on CONNECT (docs/wrap.md says which clients were measured to). The credential ties the
client connection to the session; each LLM flow then resolves its settings once (Intercept asks
`settings_for`). A flow with no credential, or one the proxy does not know (any longer), gets the proxy's
own settings, whole: never half of each.

Registrations are kept as files under <home>/run/sessions/ (0600), so a proxy restarted on the same home
takes them back as it loads, before it listens. A session ends when its wrap deletes it (its child exited) or
when the wrap's process is gone (checked at each lookup: a killed wrap cannot leave one behind).
The credential is not a secret (any local process may use the proxy); it only names a session.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from headroom.procs import alive
from headroom.settings import SessionSettings

if TYPE_CHECKING:
    from mitmproxy import connection, http

__all__ = ["SESSION_RE", "USER", "Session", "Sessions", "credential", "parse_credential", "sessions_dir"]

log = logging.getLogger("headroom.sessions")

USER = "headroom"  # the credential's user name; the session id is its password (undici drops a lone user name)
SESSION_RE = re.compile(r"^[0-9a-f]{8,32}$")
_HEADER = "proxy-authorization"
# How long a wrap seen alive is taken to be (a check reads /proc: ~50 us, on the event loop); a session whose wrap
# died is still ended within this long of its next request.
ALIVE_FOR_S = 1.0


def credential(session_id: str | None, team_token: str | None = None) -> str | None:
    """The userinfo a wrapped child's proxy URL carries: `headroom:SESSION`; with a team user's token
    (HEADROOM_TEAM_TOKEN=NAME:TOKEN, for a proxy in team mode) `NAME:TOKEN.SESSION`, or `NAME:TOKEN` when the
    proxy took no session. None: neither."""
    if team_token:
        return f"{team_token}.{session_id}" if session_id else team_token
    return f"{USER}:{session_id}" if session_id else None


def parse_credential(header: str | None) -> str | None:
    """The session id of a `Basic base64(headroom:SESSION)` Proxy-Authorization value (or a team user's
    `NAME:TOKEN.SESSION`), else None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not sep:
        return None
    if user == USER:
        return password if SESSION_RE.match(password) else None
    # A team user's credential (addon/team.py): NAME:TOKEN, or NAME:TOKEN.SESSION from a wrap against a team
    # proxy (a token never holds a '.').
    _, dot, sid = password.rpartition(".")
    return sid if dot and SESSION_RE.match(sid) else None


def sessions_dir(home: Path) -> Path:
    return home / "run" / "sessions"


@dataclass(frozen=True)
class Session:
    id: str
    settings: SessionSettings
    pid: int | None = None  # the wrap's process: the session ends with it (always given through the admin API)
    token: str | None = None  # procs.start_token of that pid (a reused pid is not the wrap)
    started: float = 0.0

    def to_json(self) -> dict:
        return {"id": self.id, "pid": self.pid, "token": self.token, "started": self.started,
                "settings": self.settings.to_json()}

    @classmethod
    def from_json(cls, data: object) -> Session:
        """A registration as wrap sends it; ValueError (one line) for anything else."""
        if not isinstance(data, dict):
            raise ValueError("a session is a JSON object: id, pid, settings")
        sid, pid, token = data.get("id"), data.get("pid"), data.get("token")
        if not isinstance(sid, str) or not SESSION_RE.match(sid):
            raise ValueError("session id must be 8 to 32 lowercase hex digits")
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:  # else it could outlive its wrap
            raise ValueError("session pid must be the wrap's process id")
        if token is not None and not isinstance(token, str):
            raise ValueError("session token must be a string")
        started = data.get("started")
        return cls(sid, SessionSettings.from_json(data.get("settings", {})), pid, token,
                   float(started) if isinstance(started, (int, float)) else time.time())


class Sessions:
    """The registry (written by the admin thread, read on the event loop) and the credential's hooks."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root  # the headroom home (None: headroom.home.home(), read when first needed)
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._conns: dict[str, str] = {}  # client connection id -> the session id its credential named
        self.flows: Counter[str] = Counter()  # LLM flows resolved per session
        self.unknown = 0  # LLM flows whose credential named no live session (they got the proxy's settings)
        self._logged_unknown: set[str] = set()
        self._seen_alive: dict[str, float] = {}  # session id -> when its wrap was last seen alive (monotonic)
        # Called (from the admin thread) with each session registered: Intercept warms the compressor for a
        # session that compresses on a proxy that does not.
        self.on_register: Callable[[Session], None] | None = None

    def _dir(self) -> Path:
        if self._root is None:
            from headroom.home import home

            self._root = home()
        return sessions_dir(self._root)

    # --- the registry --------------------------------------------------------------------------------

    def load(self, loader) -> None:
        # Before the servers listen (mitmproxy's `running` comes after): no request meets a registry not yet
        # taken back.
        self.restore()

    def restore(self) -> int:
        """Take back the sessions a previous proxy on this home registered whose wraps still run."""
        d = self._dir()
        n = 0
        for f in sorted(d.glob("*.json")) if d.is_dir() else []:
            try:
                s = Session.from_json(json.loads(f.read_text()))
            except (OSError, ValueError) as e:
                log.warning("ignored the session file %s: %s", f.name, e)
                continue
            if s.pid is not None and not alive(s.pid, s.token):
                f.unlink(missing_ok=True)
                continue
            with self._lock:
                self._sessions[s.id] = s
            n += 1
        if n:
            log.info("took back %d wrapped session(s) from %s", n, d)
        return n

    def register(self, session: Session) -> None:
        """Add (or replace) a session, and keep it on disk for a restarted proxy."""
        d = self._dir()
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = d / f".{session.id}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(session.to_json(), out)
        os.replace(tmp, d / f"{session.id}.json")
        with self._lock:
            self._sessions[session.id] = session
        log.info("session %s registered (wrap pid %s)", session.id, session.pid)
        if self.on_register is not None:
            self.on_register(session)

    def end(self, session_id: str) -> bool:
        with self._lock:
            gone = self._sessions.pop(session_id, None)
            self._seen_alive.pop(session_id, None)
        (self._dir() / f"{session_id}.json").unlink(missing_ok=True)
        return gone is not None

    def get(self, session_id: str) -> Session | None:
        """The live session of that id; one whose wrap is gone is ended here."""
        with self._lock:
            s = self._sessions.get(session_id)
        if s is None or s.pid is None:
            return s
        now = time.monotonic()
        if now - self._seen_alive.get(session_id, -ALIVE_FOR_S) < ALIVE_FOR_S:
            return s
        if not alive(s.pid, s.token):
            self.end(session_id)
            return None
        self._seen_alive[session_id] = now
        return s

    def all(self) -> list[Session]:
        with self._lock:
            ids = list(self._sessions)
        return [s for s in (self.get(i) for i in ids) if s is not None]

    # --- flows ---------------------------------------------------------------------------------------

    def http_connect(self, flow: http.HTTPFlow) -> None:
        sid = parse_credential(flow.request.headers.get(_HEADER))
        if sid is not None:
            self._conns[flow.client_conn.id] = sid

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # A plain-HTTP request through the proxy carries the credential itself: ours, so it goes no further.
        if flow.request.method == "CONNECT":
            return
        sid = parse_credential(flow.request.headers.get(_HEADER))
        if sid is not None:
            flow.request.headers.pop(_HEADER, None)
            self._conns[flow.client_conn.id] = sid

    def client_disconnected(self, client: connection.Client) -> None:
        self._conns.pop(client.id, None)

    def claimed(self, flow: http.HTTPFlow) -> str | None:
        """The session id the flow's connection named (live or not)."""
        return self._conns.get(flow.client_conn.id)

    def settings_for(self, flow: http.HTTPFlow, own: SessionSettings) -> tuple[str | None, SessionSettings]:
        """(session id, its settings) for a flow of a live session, else (None, the proxy's own)."""
        sid = self.claimed(flow)
        if sid is None:
            return None, own
        s = self.get(sid)
        if s is None:
            self.unknown += 1
            if sid not in self._logged_unknown:  # once per id: a client retrying must not flood the log
                self._logged_unknown.add(sid)
                log.warning("a request named session %s, which this proxy does not know (its wrap ended, or "
                            "registered with another proxy): it gets the proxy's own settings", sid)
            return None, own
        self.flows[sid] += 1
        return sid, s.settings

    def report(self) -> dict:
        """For the admin API (GET /sessions) and doctor: ids, settings and counts; no content."""
        return {"sessions": [{**s.to_json(), "flows": self.flows.get(s.id, 0)} for s in self.all()],
                "unknown_flows": self.unknown}
