"""deploy/compose.yaml as the tests read it (Docker does not run here): its replicas' environments, its redis
options, and those environments mapped onto the loopback servers a test starts.

    spec = load()
    env = replica_env(spec, "headroom-a", {"REDIS_PASSWORD": "pw", ...})   # `${NAME:?...}` filled in
    env = on_loopback(env, store=redis_url, ledger=postgres_url, users=path)  # what a test's replica gets

tests/test_deploy.py checks the file against the settings the code reads; tests/e2e/test_team_ledger.py runs
its whole topology with these. ruamel.yaml is mitmproxy's own dependency.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from ruamel.yaml import YAML

__all__ = ["COMPOSE", "REPLICAS", "LAUNCHED", "interpolated", "load", "on_loopback", "redis_options", "replica_env"]

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"
REPLICAS = ("headroom-a", "headroom-b")  # its replica services, also the server names of deploy/haproxy.cfg
# Set in compose.yaml, given otherwise by tests/support/proxy.py's launch_proxy: a home of the test's, --port 0
# and loopback (team mode then by HEADROOM_TEAM=1, which compose.yaml sets too).
LAUNCHED = frozenset({"HEADROOM_HOST", "HEADROOM_PORT", "HEADROOM_HOME"})


def load(path: Path = COMPOSE) -> dict:
    return YAML(typ="safe").load(path.read_text())


def interpolated(value: str, values: Mapping[str, str] | None = None) -> str:
    """Compose's `${NAME:?message}` (or `${NAME}`, `${NAME:-default}`) filled from `values`, as `docker compose
    config` would from deploy/.env; without `values`, a placeholder `name-value`."""
    def fill(m: re.Match) -> str:
        return values[m.group(1)] if values is not None else f"{m.group(1).lower()}-value"

    return re.sub(r"\$\{(\w+)(:?[?-][^}]*)?\}", fill, value)


def replica_env(spec: dict, name: str, values: Mapping[str, str] | None = None) -> dict[str, str]:
    return {k: interpolated(str(v), values) for k, v in spec["services"][name]["environment"].items()}


def redis_options(spec: dict, values: Mapping[str, str] | None = None) -> dict[str, str]:
    """The redis service's `redis-server --NAME VALUE ...` command as {NAME: VALUE}."""
    exe, *args = [interpolated(str(a), values) for a in spec["services"]["redis"]["command"]]
    assert exe == "redis-server" and len(args) % 2 == 0 and all(a.startswith("--") for a in args[::2]), args
    return {k[2:]: v for k, v in zip(args[::2], args[1::2])}


def _moved(url: str, to: str) -> str:
    """`url` (a compose service's address, e.g. redis://:pw@redis:6379/0) at `to`'s host and port, and it must
    then be `to`: the test's server is the service as compose configures it (user, password, database)."""
    old, new = urlsplit(url), urlsplit(to)
    moved = url.replace(f"@{old.hostname}:{old.port}/", f"@{new.hostname}:{new.port}/", 1)
    assert moved == to, f"the test's server is not compose's: {old.scheme} {old.path!r} vs {new.path!r}"
    return moved


def on_loopback(env: Mapping[str, str], *, store: str, ledger: str, users: Path) -> dict[str, str]:
    """A replica's compose environment for `launch_proxy`: without what it gives (LAUNCHED), the store and the
    ledger at the test's loopback servers, the users file at the test's path; every other value as it is."""
    out = {k: v for k, v in env.items() if k not in LAUNCHED}
    out["HEADROOM_STORE"] = _moved(out["HEADROOM_STORE"], store)
    out["HEADROOM_LEDGER"] = _moved(out["HEADROOM_LEDGER"], ledger)
    out["HEADROOM_TEAM_USERS"] = str(users)
    return out
