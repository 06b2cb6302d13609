"""The team's users: one JSON file of names and token hashes that every replica of a team proxy reads.

`headroom team add NAME` writes a user's SHA-256 token hash (never the token), `team revoke NAME` marks it
revoked; the proxy (addon/team.py) checks a `Proxy-Authorization` against it and takes a changed file back
without a restart (a stat per check; a reload only when its inode, size or mtime changed).

Why a file and not the shared store: several replicas must see the same users, and a file both mount (a
ConfigMap, an NFS or volume mount, or one written by configuration management) is the shape every
deployment already has for secrets; the retrieval store is a cache with a TTL and an eviction policy
(the Redis one may evict under memory pressure), the wrong place for credentials, and a proxy whose store
is down would otherwise refuse every user instead of compressing less.

Why SHA-256 and not a slow password hash: the tokens are 256 random bits (secrets.token_urlsafe(32)), not
passwords a person chose: nobody can guess one or try a dictionary on its hash, so a slow KDF would buy
nothing and cost its work on every CONNECT. Comparison is hmac.compare_digest over the hashes.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NAME_RE", "TOKEN_BYTES", "User", "Users", "UsersError", "hash_token", "new_token", "users_path"]

TOKEN_BYTES = 32  # 256 bits of randomness: nothing to guess, so a fast hash is the right one
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
RESERVED = frozenset({"headroom"})  # a wrapped session's credential user (addon/sessions.py)
USERS_FILENAME = "users.json"
_FORMAT = 1


class UsersError(ValueError):
    """The users file cannot be read or written, or a name is not usable; one line saying what to do."""


def users_path(root: Path | None = None) -> Path:
    """The default users file: <home>/team/users.json (HEADROOM_TEAM_USERS names another)."""
    from headroom.home import home

    return (root if root is not None else home()) / "team" / USERS_FILENAME


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    if not NAME_RE.match(name) or name in RESERVED:
        raise UsersError(f"user name {name!r}: use 1 to 63 lowercase letters, digits, '.', '_' or '-' "
                         f"(not {', '.join(sorted(RESERVED))})")
    return name


@dataclass(frozen=True)
class User:
    name: str
    sha256: str
    created: float
    revoked: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"sha256": self.sha256, "created": self.created, "revoked": self.revoked}


class Users:
    """The users of one file, reread when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}
        self.error: str | None = None  # why the last read failed (the previous users are kept)

    # --- reading --------------------------------------------------------------------------------------

    def _read(self) -> dict[str, User]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise UsersError(f"cannot read the users file {self.path}: {e}; fix it or run `headroom team add`") from e
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise UsersError(f"the users file {self.path} has no \"users\" object; rewrite it with `headroom team add`")
        out = {}
        for name, u in users.items():
            if not isinstance(u, dict) or not isinstance(u.get("sha256"), str) or len(u["sha256"]) != 64:
                raise UsersError(f"the users file {self.path}: user {name!r} has no sha256; revoke and add it again")
            revoked = u.get("revoked")
            out[name] = User(name, u["sha256"], float(u.get("created") or 0.0),
                             float(revoked) if isinstance(revoked, (int, float)) else None)
        return out

    def refresh(self) -> None:
        """Reread the file if it changed since the last read (one stat otherwise)."""
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        except OSError as e:
            self.error = f"cannot read the users file {self.path}: {e.strerror}"
            return
        if stamp == self._stamp and stamp is not None:
            return
        try:
            self._users = self._read()
            self.error = None
        except UsersError as e:
            self.error = str(e)  # keep the users of the last good read: a half-written edit must not lock all out
            return
        self._stamp = stamp

    def all(self) -> list[User]:
        self.refresh()
        return sorted(self._users.values(), key=lambda u: u.name)

    def check(self, name: str, token: str) -> tuple[bool, str]:
        """(accepted, reason): the reason is one line without the token ("unknown user", "revoked", ...)."""
        self.refresh()
        user = self._users.get(name)
        # Compared even for an unknown name, against a hash nobody has: the answer's time does not say which.
        expected = user.sha256 if user is not None else "0" * 64
        matches = hmac.compare_digest(hash_token(token), expected)
        if user is None:
            return False, "unknown user"
        if user.revoked is not None:
            return False, "token revoked"
        if not matches:
            return False, "wrong token"
        return True, ""

    # --- writing (the `headroom team` command) ------------------------------------------------------------

    def _write(self, users: dict[str, User]) -> None:
        data = {"format": _FORMAT, "users": {n: u.to_json() for n, u in sorted(users.items())}}
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=1)
            os.replace(tmp, self.path)  # atomic: a proxy reading it sees the old file or the new one
        except OSError as e:
            raise UsersError(f"cannot write the users file {self.path}: {e.strerror}; make its folder writable "
                             "or set HEADROOM_TEAM_USERS to a writable path") from e
        self._stamp = None

    def add(self, name: str) -> str:
        """A new user's token (printed once by the CLI; only its hash is kept). UsersError if the name is taken."""
        check_name(name)
        users = self._read()
        if name in users and users[name].revoked is None:
            raise UsersError(f"user {name!r} already exists; `headroom team revoke {name}` first to issue a new token")
        token = new_token()
        users[name] = User(name, hash_token(token), time.time())
        self._write(users)
        return token

    def revoke(self, name: str) -> User:
        users = self._read()
        user = users.get(name)
        if user is None:
            raise UsersError(f"no user {name!r} in {self.path}; `headroom team list` shows them")
        if user.revoked is None:
            user = User(user.name, user.sha256, user.created, time.time())
            users[name] = user
            self._write(users)
        return user
