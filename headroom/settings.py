"""The proxy's settings: one frozen object built once from the environment, validated once, passed explicitly.

`Settings.from_env(os.environ)` is the one place the HEADROOM_* variables that tune the proxy are read (the
CLI calls it; the typer options read their own variables: host, port, routes, upstream CAs, extra hosts,
compress). A value the proxy would misread raises SettingsError with the one line `headroom proxy` prints;
a value it can work around becomes a warning the CLI logs at start. `options()` maps the settings onto the
mitmproxy options the addons declare: addons read their options in `configure`, never the environment.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, MutableMapping

from headroom.core.compressors import MIN_TOKENS as DEFAULT_MIN_TOKENS
from headroom.core.shaper import DEFAULT_LEVEL as DEFAULT_SHAPER_LEVEL
from headroom.storage.store import DEFAULT_MAX_BYTES as DEFAULT_CCR_MAX_BYTES
from headroom.storage.store import DEFAULT_TTL_SECONDS as DEFAULT_CCR_TTL_SECONDS
from headroom.storage.store import Store

__all__ = [
    "ADMIN_AUTO", "CONFIG_VARIABLE", "OFF_WORDS", "VARIABLES", "apply_config_file", "config_file",
    "intercepted_hosts", "is_loopback_host", "ON_WORDS", "PER_SESSION", "SWITCH_WORDS", "WEBSOCKET_MODES", "SessionSettings", "Settings",
    "SettingsError", "is_off",
    "is_on", "open_user_store", "parse_max_bytes", "parse_ttl", "pipeline_env", "pricing_file", "proxy_lists",
    "reported_settings",
    "store_limits", "store_url",
]

OFF_WORDS = frozenset({"0", "false", "no", "off"})
ON_WORDS = frozenset({"1", "true", "yes", "on"})
SWITCH_WORDS = OFF_WORDS | ON_WORDS
WEBSOCKET_MODES = ("http", "pass")
ADMIN_AUTO = 0  # the admin port option's "proxy port + 1, or any free port if taken"

DEFAULT_TIMEOUT_MS = 2000

# On/off variables: each used to treat anything but an "off" word as on, so a typo would silently mean
# "on". They are refused instead.
RETRIEVE_FROM = ("first", "marker")  # HEADROOM_RETRIEVE_FROM's values
_SWITCHES = ("HEADROOM_TLS_STRICT", "HEADROOM_RETRIEVE", "HEADROOM_RELEVANCE_MODEL")
# What the proxy reports of its environment (wrap compares it with its own). HOST/PORT are reported as `port`;
# anything secret-looking is masked because the identity is easy to read.
_NOT_REPORTED = frozenset({"HEADROOM_HOST", "HEADROOM_PORT"})
# The variables one wrapped session sets for its own traffic (SessionSettings); every other HEADROOM_* variable
# is the proxy's alone (ports, hosts, routes, TLS, the store and ledger, the model): docs/wrap.md.
PER_SESSION = frozenset({"HEADROOM_COMPRESS", "HEADROOM_BYPASS", "HEADROOM_COMPRESS_HOLDOUT", "HEADROOM_MIN_TOKENS",
                         "HEADROOM_OUTPUT_SHAPER", "HEADROOM_OUTPUT_SHAPER_LEVEL", "HEADROOM_OUTPUT_SHAPER_EFFORT",
                         "HEADROOM_OUTPUT_HOLDOUT"})
# A word of the name, not a part of one: HEADROOM_MIN_TOKENS is a number, HEADROOM_TEAM_TOKEN a secret.
_SECRET = re.compile(r"(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIALS?)(?:_|$)", re.I)


# Every HEADROOM_* variable (docs/configuration.md has a row for each; tests/test_settings.py checks both ways):
# the keys a HEADROOM_CONFIG file may hold.
VARIABLES = (
    "HEADROOM_HOME", "HEADROOM_HOST", "HEADROOM_PORT", "HEADROOM_ROUTE", "HEADROOM_UPSTREAM_CA", "HEADROOM_CA_BUNDLE",
    "HEADROOM_TLS_STRICT", "HEADROOM_UPSTREAM_PROXY", "HEADROOM_STORE", "HEADROOM_STORE_CA", "HEADROOM_EXTRA_HOSTS",
    "HEADROOM_COMPRESS", "HEADROOM_BYPASS",
    "HEADROOM_COMPRESS_TIMEOUT_MS", "HEADROOM_MIN_TOKENS", "HEADROOM_RELEVANCE_MODEL", "HEADROOM_MODEL_DIR",
    "HEADROOM_RETRIEVE_FROM", "HEADROOM_RETRIEVE", "HEADROOM_RESPONSES_WEBSOCKET", "HEADROOM_CCR_TTL",
    "HEADROOM_CCR_MAX_MB", "HEADROOM_COMPRESS_HOLDOUT", "HEADROOM_OUTPUT_SHAPER", "HEADROOM_OUTPUT_SHAPER_LEVEL",
    "HEADROOM_OUTPUT_SHAPER_EFFORT", "HEADROOM_OUTPUT_HOLDOUT", "HEADROOM_LEDGER", "HEADROOM_LEDGER_CA",
    "HEADROOM_REPLICA", "HEADROOM_ADMIN_PORT",
    "HEADROOM_PRICING", "HEADROOM_TEAM", "HEADROOM_TEAM_USERS", "HEADROOM_TEAM_TOKEN", "HEADROOM_DRAIN_SECONDS",
    "HEADROOM_DRAIN_NOTICE_SECONDS", "HEADROOM_MODELS_IDLE_SECONDS",
)
CONFIG_VARIABLE = "HEADROOM_CONFIG"


class SettingsError(ValueError):
    """A setting the proxy would misread; the message is one line naming the variable and the fix."""


def is_off(raw: str | None) -> bool:
    """An explicit "off" word (0, false, no, off; any case, surrounding space ignored)."""
    return (raw or "").strip().lower() in OFF_WORDS


def is_on(raw: str | None) -> bool:
    """An explicit "on" word (1, true, yes, on)."""
    return (raw or "").strip().lower() in ON_WORDS


def config_file(path: str) -> dict[str, str]:
    """The variables a HEADROOM_CONFIG file sets: a TOML table of the HEADROOM_* names (or the same names without
    the prefix, any case: `min_tokens = 400`), values as strings the environment would hold (true/false are
    1/0, a list is joined with spaces). SettingsError (one line) for an unreadable file or an unknown key."""
    import tomllib

    where = f"{CONFIG_VARIABLE}={path}"
    try:
        with open(Path(path).expanduser(), "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise SettingsError(f"{where}: {e.strerror}; give the path of a TOML file of HEADROOM_* settings") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{where}: not TOML ({e}); write one `HEADROOM_NAME = value` per line") from None
    known = set(VARIABLES)
    out: dict[str, str] = {}
    for key, value in data.items():
        name = key.upper() if key.upper().startswith("HEADROOM_") else f"HEADROOM_{key.upper()}"
        if name not in known:
            raise SettingsError(f"{where}: unknown key {key!r}; the keys are the HEADROOM_* variables of "
                                "docs/configuration.md, e.g. HEADROOM_MIN_TOKENS = 400")
        if isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif isinstance(value, (str, int, float)):
            out[name] = str(value)
        elif isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
            out[name] = " ".join(str(v) for v in value)
        else:
            raise SettingsError(f"{where}: {key} must be a string, a number, true/false or a list of strings")
    return out


def apply_config_file(env: MutableMapping[str, str]) -> list[str]:
    """Fill `env` (the process environment, before the CLI reads it) from the HEADROOM_CONFIG file it names:
    a variable already set wins over the file. The names it set; SettingsError (one line) as config_file."""
    path = env.get(CONFIG_VARIABLE, "").strip()
    if not path:
        return []
    applied = []
    for name, value in config_file(path).items():
        if name not in env:
            env[name] = value
            applied.append(name)
    return applied


def reported_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The HEADROOM_* variables of `env` that change what a proxy does, secrets masked."""
    from headroom.core.proxychain import mask_url

    out = {}
    for name in sorted(env):
        if name.startswith("HEADROOM_") and name not in _NOT_REPORTED:
            # A URL's password too (HEADROOM_UPSTREAM_PROXY=http://user:password@corp:3128).
            out[name] = "***" if _SECRET.search(name[len("HEADROOM_"):]) else mask_url(env[name])
    return out


def proxy_lists(env: Mapping[str, str]) -> tuple[list[str], list[Path], list[str]]:
    """(routes, upstream CA files, extra hosts) that `headroom proxy` takes from `env` when its --route,
    --upstream-ca and --extra-host flags are not given (HEADROOM_ROUTE, HEADROOM_UPSTREAM_CA or
    HEADROOM_CA_BUNDLE, HEADROOM_EXTRA_HOSTS), split as the proxy splits them; the hosts unparsed."""
    def split(raw: str) -> list[str]:
        return [t for t in re.split(r"[\s,]+", raw) if t]

    cas = [Path(p) for p in env.get("HEADROOM_UPSTREAM_CA", "").split()]
    if not cas and env.get("HEADROOM_CA_BUNDLE", "").strip():
        cas = [Path(env["HEADROOM_CA_BUNDLE"].strip())]
    return split(env.get("HEADROOM_ROUTE", "")), cas, split(env.get("HEADROOM_EXTRA_HOSTS", ""))


def is_loopback_host(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback one (127.0.0.0/8, ::1); an unresolvable
    name is not (the proxy refuses it anyway)."""
    import ipaddress
    import socket

    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except OSError:
        return False
    return bool(addrs) and all(ipaddress.ip_address(str(a).split("%", 1)[0]).is_loopback for a in addrs)


def intercepted_hosts(env: Mapping[str, str]) -> list[str]:
    """The hosts beyond the built-in ones a proxy started with `env` decrypts (HEADROOM_EXTRA_HOSTS and the
    routed hosts of HEADROOM_ROUTE), for a CA made outside the proxy (wrap, `headroom certs`); unreadable
    entries are left out (the proxy refuses them)."""
    from headroom.core.hosts import parse_host_list

    routes, _, extra = proxy_lists(env)
    out = []
    for item in [*extra, *(r.split("=", 1)[0] for r in routes if "=" in r)]:
        try:
            out += parse_host_list(item)
        except ValueError:
            continue
    return out


def _path(raw: str | Path) -> str:
    return str(Path(raw).expanduser().resolve()) if str(raw) else ""


def _switch(env: Mapping[str, str], name: str, default: bool = True) -> bool:
    raw = env.get(name, "").strip()
    if raw and raw.lower() not in SWITCH_WORDS:
        raise SettingsError(f"{name}={raw!r}: use 1 (on) or 0 (off)")
    return is_on(raw) if not default else not is_off(raw)


def parse_ttl(raw: str) -> int:
    """HEADROOM_CCR_TTL's seconds (empty: the default). ValueError saying what is accepted otherwise."""
    try:
        value = int(raw) if raw.strip() else DEFAULT_CCR_TTL_SECONDS
    except ValueError:
        raise ValueError(f"HEADROOM_CCR_TTL must be a whole number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"HEADROOM_CCR_TTL must be a positive number of seconds, not {raw!r}")
    return value


def parse_max_bytes(raw: str) -> int:
    """HEADROOM_CCR_MAX_MB in bytes (empty: the default). ValueError saying what is accepted otherwise."""
    try:
        mb = float(raw) if raw.strip() else DEFAULT_CCR_MAX_BYTES / (1024 * 1024)
    except ValueError:
        raise ValueError(f"HEADROOM_CCR_MAX_MB must be a number of megabytes, not {raw!r}") from None
    if mb <= 0:
        raise ValueError(f"HEADROOM_CCR_MAX_MB must be positive, not {raw!r}")
    return int(mb * 1024 * 1024)


def store_limits(env: Mapping[str, str]) -> tuple[int, int]:
    """(TTL seconds, size cap in bytes) of the store from HEADROOM_CCR_TTL / HEADROOM_CCR_MAX_MB; ValueError
    naming the variable for a value that cannot be read."""
    return parse_ttl(env.get("HEADROOM_CCR_TTL", "")), parse_max_bytes(env.get("HEADROOM_CCR_MAX_MB", ""))


def store_url(env: Mapping[str, str]) -> str:
    """HEADROOM_STORE: a redis:// or rediss:// URL (the team's shared store), or "" for the embedded SQLite
    store; ValueError (one line, password masked) for anything else."""
    raw = env.get("HEADROOM_STORE", "").strip()
    if not raw:
        return ""
    from headroom.storage.redis_store import check_url

    return check_url(raw)


def ledger_setting(env: Mapping[str, str]) -> tuple[bool, str]:
    """HEADROOM_LEDGER: (on, shared URL). 1/0 (or unset: on) switch the local SQLite ledger; a postgresql://
    URL keeps it on and copies every row to the team's shared ledger too (docs/team.md). ValueError (one line,
    password masked) for anything else."""
    raw = env.get("HEADROOM_LEDGER", "").strip()
    if "://" in raw:
        from headroom.storage.pg_ledger import check_url

        return True, check_url(raw)
    if raw and raw.lower() not in SWITCH_WORDS:
        raise ValueError(f"HEADROOM_LEDGER={raw!r}: use 1 (on) or 0 (off), or a postgresql://user:pass@host/db URL "
                         "(the team's shared ledger)")
    return not is_off(raw), ""


def replica_name(env: Mapping[str, str]) -> str:
    """HEADROOM_REPLICA, default this machine's host name: the shared ledger's and /metrics' replica label."""
    import socket

    return env.get("HEADROOM_REPLICA", "").strip() or socket.gethostname() or "headroom"


def open_user_store(env: Mapping[str, str] | None = None, root: Path | None = None) -> Store:
    """The user's store with the limits of `env` (the process environment by default): for the CLI and the
    library, which run outside the proxy and so without its options. HEADROOM_STORE picks a shared one."""
    from headroom.storage.store import open_store

    env = os.environ if env is None else env
    ttl, max_bytes = store_limits(env)
    return open_store(root, ttl_seconds=ttl, max_bytes=max_bytes, url=store_url(env),
                      ca_file=env.get("HEADROOM_STORE_CA", "").strip())


def pipeline_env(env: Mapping[str, str] | None = None) -> int:
    """For the pipeline run outside the proxy (the library, `headroom compress`): point the relevance model
    at HEADROOM_RELEVANCE_MODEL / HEADROOM_MODEL_DIR and return HEADROOM_MIN_TOKENS. These commands never
    refused a bad value: an unreadable one keeps its default, as it always did."""
    from headroom.core import relevance

    env = os.environ if env is None else env
    relevance.configure(enabled=not is_off(env.get("HEADROOM_RELEVANCE_MODEL")),
                        directory=env.get("HEADROOM_MODEL_DIR", "").strip() or None)
    raw = env.get("HEADROOM_MIN_TOKENS", "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_MIN_TOKENS
    except ValueError:
        return DEFAULT_MIN_TOKENS


def pricing_file(env: Mapping[str, str] | None = None) -> str | None:
    """HEADROOM_PRICING: the user's price file, for `headroom perf` (the proxy has it in its Settings)."""
    return (os.environ if env is None else env).get("HEADROOM_PRICING") or None


@dataclass(frozen=True)
class SessionSettings:
    """What one LLM flow runs with: the proxy's own (Settings.session()) or its wrapped session's, which wrap
    registers (addon/sessions.py). Only what is safe to differ between the flows of one proxy is here."""

    compress: bool = True  # HEADROOM_COMPRESS (the proxy's --compress/--no-compress)
    bypass: bool = False  # HEADROOM_BYPASS: forward every request untouched, counted as bypassed
    compress_holdout: float = 0.0  # the compression control group: HEADROOM_COMPRESS_HOLDOUT
    min_tokens: int = DEFAULT_MIN_TOKENS  # HEADROOM_MIN_TOKENS
    # The output shaper's (addon/shape.py reads them from here):
    output_shaper: bool = False  # HEADROOM_OUTPUT_SHAPER
    output_shaper_level: int = 2  # HEADROOM_OUTPUT_SHAPER_LEVEL (core.shaper.DEFAULT_LEVEL there)
    output_shaper_effort: bool = True  # HEADROOM_OUTPUT_SHAPER_EFFORT
    output_holdout: float = 0.0  # the shaper's control group: HEADROOM_OUTPUT_HOLDOUT

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> SessionSettings:
        """Settings a wrap sent (its to_json); ValueError (one line) for anything else."""
        if not isinstance(data, dict):
            raise ValueError("session settings must be a JSON object")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown session setting {sorted(unknown)[0]!r}")
        out: dict[str, object] = {}
        for name, f in cls.__dataclass_fields__.items():
            if name not in data:
                continue
            value, kind = data[name], f.type
            if kind == "bool" and not isinstance(value, bool):
                raise ValueError(f"session setting {name} must be true or false")
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"session setting {name} must be a whole number, 0 or more")
            if kind == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                    raise ValueError(f"session setting {name} must be a number from 0 to 1")
                value = float(value)
            if kind == "str" and not isinstance(value, str):
                raise ValueError(f"session setting {name} must be a string")
            out[name] = value
        return cls(**out)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Settings:
    """What the proxy was told, typed. The defaults are the proxy's defaults (docs/configuration.md)."""

    tls_strict: bool = True  # HEADROOM_TLS_STRICT
    retrieve: bool = True  # HEADROOM_RETRIEVE
    retrieve_from: str = "first"  # HEADROOM_RETRIEVE_FROM: "first" (cached conversations) or "marker"
    ledger: bool = True  # HEADROOM_LEDGER
    ledger_url: str = ""  # HEADROOM_LEDGER=postgresql://...: the team's shared ledger too (docs/team.md)
    ledger_ca: str = ""  # HEADROOM_LEDGER_CA: the CA bundle the database's certificate is checked against
    replica: str = ""  # HEADROOM_REPLICA ("": the host name, replica_name): this proxy's name in the shared ledger, /metrics
    relevance_model: bool = True  # HEADROOM_RELEVANCE_MODEL
    model_dir: str = ""  # HEADROOM_MODEL_DIR; "" is the package's models/
    min_tokens: int = DEFAULT_MIN_TOKENS  # HEADROOM_MIN_TOKENS
    compress_timeout_ms: int = DEFAULT_TIMEOUT_MS  # HEADROOM_COMPRESS_TIMEOUT_MS
    responses_websocket: str = "http"  # HEADROOM_RESPONSES_WEBSOCKET
    compress_holdout: float = 0.0  # HEADROOM_COMPRESS_HOLDOUT
    output_shaper: bool = False  # HEADROOM_OUTPUT_SHAPER (opt-in)
    output_shaper_level: int = DEFAULT_SHAPER_LEVEL  # HEADROOM_OUTPUT_SHAPER_LEVEL
    output_shaper_effort: bool = True  # HEADROOM_OUTPUT_SHAPER_EFFORT
    output_holdout: float = 0.0  # HEADROOM_OUTPUT_HOLDOUT (unshaped conversations; only with the shaper)
    ccr_ttl_seconds: int = DEFAULT_CCR_TTL_SECONDS  # HEADROOM_CCR_TTL
    ccr_max_bytes: int = DEFAULT_CCR_MAX_BYTES  # HEADROOM_CCR_MAX_MB
    store: str = ""  # HEADROOM_STORE: redis://... or rediss://... (docs/team.md); "" is the SQLite store
    store_ca: str = ""  # HEADROOM_STORE_CA: the CA bundle a rediss:// server's certificate is checked against
    admin_port: int = ADMIN_AUTO  # HEADROOM_ADMIN_PORT
    pricing: str = ""  # HEADROOM_PRICING: a price file merged over the shipped table
    compress: bool = True  # HEADROOM_COMPRESS (`headroom proxy --no-compress` says it too)
    bypass: bool = False  # HEADROOM_BYPASS
    # Team mode (docs/team.md): HEADROOM_TEAM, None when unset (then on exactly when the proxy listens off
    # loopback: `headroom proxy` decides with `for_host`); the users file, HEADROOM_TEAM_USERS ("" is
    # <home>/team/users.json).
    team: bool | None = None
    team_users: str = ""
    drain_seconds: int = 30  # HEADROOM_DRAIN_SECONDS: on SIGTERM, how long requests in flight get to finish
    drain_notice_seconds: int = 0  # HEADROOM_DRAIN_NOTICE_SECONDS: /readyz says 503 this long before the listener closes
    # HEADROOM_MODELS_IDLE_SECONDS: the tokenizer and relevance model are released after this long without a
    # request (0: kept for good); addon/intercept.py
    models_idle_seconds: int = 300
    # The HEADROOM_* variables as the proxy's identity reports them (reported_settings).
    reported: Mapping[str, str] = field(default_factory=dict)
    # What the proxy works around rather than refuses, one line each, for the CLI to log at start.
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The settings `env` gives. Raises SettingsError (one line) for the first value the proxy would
        misread, in the order the variables are listed in docs/configuration.md's checks."""
        from headroom.core.holdout import COMPRESS, OUTPUT, parse_fraction
        from headroom.core.shaper import parse_level

        switches = {name: _switch(env, name) for name in _SWITCHES}
        compress = _switch(env, "HEADROOM_COMPRESS")
        _switch(env, "HEADROOM_BYPASS")  # refuses a typo; unset or empty is off
        bypass = is_on(env.get("HEADROOM_BYPASS"))
        raw = env.get("HEADROOM_MIN_TOKENS", "").strip()
        if raw and not raw.isdigit():
            raise SettingsError(f"HEADROOM_MIN_TOKENS={raw!r}: give a whole number of tokens, e.g. 400")
        min_tokens = int(raw) if raw else DEFAULT_MIN_TOKENS
        raw = env.get("HEADROOM_COMPRESS_TIMEOUT_MS", "").strip()
        if raw and (not raw.isdigit() or int(raw) == 0):
            raise SettingsError(
                f"HEADROOM_COMPRESS_TIMEOUT_MS={raw!r}: give the compression budget in milliseconds, e.g. 2000")
        timeout_ms = int(raw) if raw else DEFAULT_TIMEOUT_MS
        try:  # a typo must not silently leave everything compressed or shaped (or nothing)
            compress_holdout = parse_fraction(env.get(COMPRESS.env), COMPRESS)
            output_holdout = parse_fraction(env.get(OUTPUT.env), OUTPUT)
            shaper_level = parse_level(env.get("HEADROOM_OUTPUT_SHAPER_LEVEL"))
        except ValueError as e:
            raise SettingsError(str(e)) from None
        shaper = _switch(env, "HEADROOM_OUTPUT_SHAPER", default=False)
        shaper_effort = _switch(env, "HEADROOM_OUTPUT_SHAPER_EFFORT")
        try:  # else retrieval would be off for the whole run
            ttl, max_bytes = store_limits(env)
        except ValueError as e:
            raise SettingsError(f"{e}; fix or unset it") from None
        try:  # a shared store the proxy would silently not use
            store = store_url(env)
        except ValueError as e:
            raise SettingsError(str(e)) from None
        store_ca = env.get("HEADROOM_STORE_CA", "").strip()
        try:  # a shared ledger the proxy would silently not write
            ledger_on, ledger_url = ledger_setting(env)
        except ValueError as e:
            raise SettingsError(str(e)) from None
        pricing = env.get("HEADROOM_PRICING", "")
        if pricing:
            from headroom.core.pricing import PricingError, load_prices

            try:
                load_prices(pricing)
            except PricingError as e:
                raise SettingsError(str(e)) from None
        warnings: list[str] = []
        if output_holdout and not shaper:  # it used to hold out compression: say where that went
            warnings.append(f"{OUTPUT.env}={env[OUTPUT.env].strip()} keeps conversations unshaped, and the output "
                            f"shaper is off (HEADROOM_OUTPUT_SHAPER=1 turns it on); the compression control group "
                            f"is {COMPRESS.env}")
        raw = env.get("HEADROOM_RESPONSES_WEBSOCKET", "").strip()
        websocket = raw.lower() if raw.lower() in WEBSOCKET_MODES else "http"
        if raw and raw.lower() not in WEBSOCKET_MODES:  # the proxy still starts, with the safe default
            warnings.append(f"HEADROOM_RESPONSES_WEBSOCKET={raw!r} is not http or pass; using http")
        raw = env.get("HEADROOM_RETRIEVE_FROM", "").strip().lower()
        if raw and raw not in RETRIEVE_FROM:  # a typo must not silently move every conversation's cache break
            raise SettingsError(f"HEADROOM_RETRIEVE_FROM={raw!r}: give first (the tool from a cached conversation's "
                                "first request) or marker (from its first compression marker)")
        retrieve_from = raw or "first"
        raw = env.get("HEADROOM_ADMIN_PORT", "").strip()
        admin_port: int | None = ADMIN_AUTO
        if raw:
            try:
                admin_port = int(raw)
            except ValueError:
                admin_port = None
            if admin_port is None or not -1 <= admin_port <= 65535:  # a dashboard somewhere else than asked
                raise SettingsError(f"HEADROOM_ADMIN_PORT={raw!r}: give a port (1-65535), 0 for the proxy's port + 1, "
                                    "or -1 for no dashboard")
        raw = env.get("HEADROOM_TEAM", "").strip()
        team = _switch(env, "HEADROOM_TEAM", default=False) if raw else None
        drains = []
        for name, default in (("HEADROOM_DRAIN_SECONDS", 30), ("HEADROOM_DRAIN_NOTICE_SECONDS", 0),
                              ("HEADROOM_MODELS_IDLE_SECONDS", 300)):
            raw = env.get(name, "").strip()
            if raw and not raw.isdigit():
                raise SettingsError(f"{name}={raw!r}: give a whole number of seconds, e.g. {default or 5}")
            drains.append(int(raw) if raw else default)
        return cls(
            team=team, team_users=_path(env.get("HEADROOM_TEAM_USERS", "").strip()),
            drain_seconds=drains[0], drain_notice_seconds=drains[1], models_idle_seconds=drains[2],
            tls_strict=switches["HEADROOM_TLS_STRICT"], retrieve=switches["HEADROOM_RETRIEVE"],
            retrieve_from=retrieve_from,
            ledger=ledger_on, ledger_url=ledger_url, ledger_ca=env.get("HEADROOM_LEDGER_CA", "").strip(),
            replica=env.get("HEADROOM_REPLICA", "").strip(), relevance_model=switches["HEADROOM_RELEVANCE_MODEL"],
            model_dir=env.get("HEADROOM_MODEL_DIR", "").strip(), min_tokens=min_tokens,
            compress_timeout_ms=timeout_ms, responses_websocket=websocket, compress_holdout=compress_holdout,
            output_shaper=shaper, output_shaper_level=shaper_level, output_shaper_effort=shaper_effort,
            output_holdout=output_holdout, ccr_ttl_seconds=ttl,
            ccr_max_bytes=max_bytes, store=store, store_ca=store_ca, admin_port=admin_port or ADMIN_AUTO, pricing=pricing, compress=compress,
            bypass=bypass,
            reported=reported_settings(env), warnings=tuple(warnings),
        )

    def options(self) -> dict[str, object]:
        """The mitmproxy options (declared by the addons) that carry these settings."""
        return {
            "headroom_tls_strict": self.tls_strict,
            "headroom_retrieve_tool": self.retrieve,
            "headroom_retrieve_from": self.retrieve_from,
            "headroom_ledger": self.ledger,
            "headroom_ledger_url": self.ledger_url,
            "headroom_ledger_ca": self.ledger_ca,
            "headroom_replica": self.replica,
            "headroom_relevance_model": self.relevance_model,
            "headroom_model_dir": self.model_dir,
            "headroom_min_tokens": self.min_tokens,
            "headroom_compress_timeout_ms": self.compress_timeout_ms,
            "headroom_responses_websocket": self.responses_websocket,
            "headroom_compress_holdout": self.compress_holdout,
            "headroom_output_shaper": self.output_shaper,
            "headroom_output_shaper_level": self.output_shaper_level,
            "headroom_output_shaper_effort": self.output_shaper_effort,
            "headroom_output_holdout": self.output_holdout,
            "headroom_ccr_ttl": self.ccr_ttl_seconds,
            "headroom_ccr_max_bytes": self.ccr_max_bytes,
            "headroom_store": self.store,
            "headroom_store_ca": self.store_ca,
            "headroom_admin_port": self.admin_port,
            "headroom_pricing": self.pricing,
            "headroom_compress": self.compress,
            "headroom_bypass": self.bypass,
            "headroom_team": bool(self.team),
            "headroom_team_users": self.team_users,
            "headroom_drain_seconds": self.drain_seconds,
            "headroom_drain_notice_seconds": self.drain_notice_seconds,
            "headroom_models_idle_seconds": self.models_idle_seconds,
        }

    def for_host(self, host: str) -> Settings:
        """These settings for a proxy listening on `host`: team mode on off loopback unless HEADROOM_TEAM said;
        SettingsError when it said 0 off loopback (an open proxy that decrypts LLM traffic for anyone)."""
        from dataclasses import replace

        loopback = is_loopback_host(host)
        if self.team is False and not loopback:
            raise SettingsError(f"HEADROOM_TEAM=0 with --host {host}: off loopback the proxy requires user tokens; "
                                "unset HEADROOM_TEAM (and issue them with `headroom team add NAME`) or use --host "
                                "127.0.0.1")
        return replace(self, team=(not loopback) if self.team is None else self.team)

    def effective(self, *, routes: Iterable[str] = (), upstream_ca: Iterable[str | Path] = (),
                  extra_hosts: Iterable[str] = (), compress: bool | None = None) -> dict[str, str]:
        """What a proxy with these settings and these flags' values does, one canonical string per HEADROOM_*
        variable ("" for unset or empty): the same value whether it came from a flag or the environment, a
        default left unset or spelt out, a path relative or not. The proxy reports it in its identity; wrap
        compares its own with it, so only a real difference is reported."""
        from headroom.core.hosts import parse_host_list
        from headroom.core.proxychain import mask_url

        def word(on: bool) -> str:
            return "on" if on else "off"

        try:
            hosts = ",".join(sorted(parse_host_list(list(extra_hosts))))
        except ValueError:  # the proxy refuses it; compared as given
            hosts = ",".join(extra_hosts)
        return {
            "HEADROOM_TLS_STRICT": word(self.tls_strict), "HEADROOM_RETRIEVE": word(self.retrieve),
            "HEADROOM_LEDGER": mask_url(self.ledger_url) if self.ledger_url else word(self.ledger),
            "HEADROOM_LEDGER_CA": _path(self.ledger_ca), "HEADROOM_REPLICA": self.replica,
            "HEADROOM_RELEVANCE_MODEL": word(self.relevance_model),
            "HEADROOM_MODEL_DIR": _path(self.model_dir), "HEADROOM_MIN_TOKENS": str(self.min_tokens),
            "HEADROOM_COMPRESS_TIMEOUT_MS": str(self.compress_timeout_ms),
            "HEADROOM_RESPONSES_WEBSOCKET": self.responses_websocket,
            "HEADROOM_COMPRESS_HOLDOUT": f"{self.compress_holdout:g}",
            "HEADROOM_OUTPUT_SHAPER": word(self.output_shaper),
            "HEADROOM_OUTPUT_SHAPER_LEVEL": str(self.output_shaper_level),
            "HEADROOM_OUTPUT_SHAPER_EFFORT": word(self.output_shaper_effort),
            "HEADROOM_OUTPUT_HOLDOUT": f"{self.output_holdout:g}",
            "HEADROOM_CCR_TTL": str(self.ccr_ttl_seconds),
            "HEADROOM_CCR_MAX_MB": f"{self.ccr_max_bytes / (1024 * 1024):g}",
            "HEADROOM_STORE": mask_url(self.store), "HEADROOM_STORE_CA": _path(self.store_ca),
            "HEADROOM_ADMIN_PORT": str(self.admin_port), "HEADROOM_PRICING": _path(self.pricing),
            "HEADROOM_COMPRESS": word(self.compress if compress is None else compress),
            "HEADROOM_BYPASS": word(self.bypass),
            "HEADROOM_TEAM": word(bool(self.team)),
            "HEADROOM_TEAM_USERS": _path(self.team_users),
            "HEADROOM_DRAIN_SECONDS": str(self.drain_seconds),
            "HEADROOM_DRAIN_NOTICE_SECONDS": str(self.drain_notice_seconds),
            "HEADROOM_MODELS_IDLE_SECONDS": str(self.models_idle_seconds),
            "HEADROOM_ROUTE": ",".join(sorted(routes)),
            "HEADROOM_UPSTREAM_CA": " ".join(sorted(_path(p) for p in upstream_ca)),
            "HEADROOM_EXTRA_HOSTS": hosts,
        }

    def session(self) -> SessionSettings:
        """The per-session part of these settings: what a wrap registers, and what the proxy's own flows get."""
        return SessionSettings(compress=self.compress, bypass=self.bypass, compress_holdout=self.compress_holdout,
                               min_tokens=self.min_tokens, output_shaper=self.output_shaper,
                               output_shaper_level=self.output_shaper_level,
                               output_shaper_effort=self.output_shaper_effort, output_holdout=self.output_holdout)

    def model_path(self) -> Path | None:
        return Path(self.model_dir) if self.model_dir else None
