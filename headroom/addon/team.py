"""Team: the users of a shared proxy. In team mode (on by itself off loopback, HEADROOM_TEAM=1 on loopback)
every CONNECT, and every plain-HTTP proxy request, must carry `Proxy-Authorization: Basic base64(NAME:TOKEN)`
of a user `headroom team add` issued (storage/users.py); anything else is answered 407 with
`Proxy-Authenticate` and a one-line reason, and nothing of it is decrypted or tunnelled.

A wrapped session run against a team proxy carries both: `NAME:TOKEN.SESSION` (a token never holds a '.'),
which Sessions reads for the session and this addon for the user. The user of an accepted connection is
kept per client connection (`user_for`), for the ledger's `user` column, /metrics and the retrieval scope.
Off team mode nothing changes: the addon answers nothing and names no user.
"""
from __future__ import annotations

import base64
import binascii
import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from mitmproxy import ctx, http

from headroom.proxyinfo import HEALTH_HOST
from headroom.storage.users import NAME_RE, Users, users_path

if TYPE_CHECKING:
    from mitmproxy import connection

__all__ = ["REALM", "Team", "parse_user"]

log = logging.getLogger("headroom.team")

REALM = "headroom"
_HEADER = "proxy-authorization"


def parse_user(header: str | None) -> tuple[str, str] | None:
    """(name, token) of a `Basic base64(NAME:TOKEN[.SESSION])` value (the session part dropped), else None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not sep or not NAME_RE.match(name) or not password:
        return None
    return name, password.partition(".")[0]


def _loopback_peer(flow: http.HTTPFlow) -> bool:
    from headroom.addon.admin import is_loopback

    peer = flow.client_conn.peername
    return bool(peer) and is_loopback(str(peer[0]))


def _refusal(http_version: str, reason: str) -> http.Response:
    resp = http.Response.make(407, f"headroom: {reason}\n".encode(), {
        "Proxy-Authenticate": f'Basic realm="{REALM}"', "Content-Type": "text/plain; charset=utf-8",
        "Connection": "close"})
    resp.http_version = http_version
    return resp


class Team:
    def __init__(self) -> None:
        self.enabled = False
        self.users: Users | None = None
        self._conns: dict[str, str] = {}  # client connection id -> its user
        self.refused: Counter[str] = Counter()  # refusals by reason (doctor, tests)
        self._logged: set[str] = set()

    def load(self, loader) -> None:
        loader.add_option("headroom_team", bool, False,
                          "Require a user token (headroom team add) on every connection; on by itself off loopback.")
        loader.add_option("headroom_team_users", str, "",
                          "The users file (names and token hashes); empty is <home>/team/users.json.")

    def configure(self, updated) -> None:
        if "headroom_team" in updated:
            self.enabled = bool(ctx.options.headroom_team)
        if updated & {"headroom_team", "headroom_team_users"}:
            raw = ctx.options.headroom_team_users
            self.users = Users(Path(raw) if raw else users_path()) if self.enabled else None
            if self.users is not None:
                n = len(self.users.all())
                log.info("team mode: %d user(s) in %s", n, self.users.path)
                if self.users.error:
                    log.warning("%s", self.users.error)

    def _check(self, flow: http.HTTPFlow) -> str | None:
        """The user the request's credential names, or None after answering 407."""
        assert self.users is not None
        found = parse_user(flow.request.headers.get(_HEADER))
        if found is None:
            reason = ("this proxy requires a user token: set HTTPS_PROXY=http://NAME:TOKEN@HOST:PORT "
                      "(`headroom team add NAME` issues one)")
            kind = "missing"
        else:
            ok, why = self.users.check(*found)
            if ok:
                return found[0]
            reason, kind = f"{why} for user {found[0]!r}: ask for a new token (`headroom team add`)", why
        self.refused[kind] += 1
        if kind not in self._logged:  # once per kind: a client retrying must not flood the log
            self._logged.add(kind)
            log.warning("refused a client without a valid user token (%s; counted, logged once per kind)", kind)
        flow.response = _refusal(flow.request.http_version, reason)
        return None

    def http_connect(self, flow: http.HTTPFlow) -> None:
        if not self.enabled or flow.response:
            return
        user = self._check(flow)
        if user is not None:
            self._conns[flow.client_conn.id] = user

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # A plain-HTTP request through the proxy carries its credential itself (a CONNECT's tunnel was checked
        # above, and what comes through it is the client's own).
        if not self.enabled or flow.response or flow.request.method == "CONNECT":
            return
        if flow.client_conn.id in self._conns and _HEADER not in flow.request.headers:
            return  # inside an accepted tunnel
        if flow.request.pretty_host.lower() == HEALTH_HOST and _loopback_peer(flow):
            return  # the proxy's identity (addon/health.py), for wrap and doctor on its own machine
        user = self._check(flow)
        if user is not None:
            self._conns[flow.client_conn.id] = user

    def request(self, flow: http.HTTPFlow) -> None:
        # Ours: it goes no further (Sessions, before this hook, took a session's part and removed it already).
        if self.enabled and flow.request.method != "CONNECT":
            flow.request.headers.pop(_HEADER, None)

    def client_disconnected(self, client: connection.Client) -> None:
        self._conns.pop(client.id, None)

    def user_for(self, flow: http.HTTPFlow) -> str | None:
        """The user whose token the flow's connection carried; None off team mode."""
        return self._conns.get(flow.client_conn.id) if self.enabled else None

    def report(self) -> dict:
        users = self.users.all() if self.users is not None else []
        return {"team": self.enabled, "users": len([u for u in users if u.revoked is None]),
                "refused": dict(self.refused), "error": self.users.error if self.users is not None else None}
