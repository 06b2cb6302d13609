"""The retrieval store on Redis (HEADROOM_STORE=redis://... or rediss://...): several proxies share originals.

The same `core.ports.Store` as `SQLiteStore`, for a team (docs/team.md): N proxies behind a TCP balancer
point at one Redis, so a marker made on one replica is answered on another, and the hidden retrieval
exchanges later turns splice back are shared the same way.

- A drop is a hash `<prefix>d:<key>` with fields `t` (the text) and `s` (the scope of its last writer). A
  re-put sets the text only if absent (HSETNX: the key is a hash of the text), sets the scope, and refreshes
  the expiry with EXPIRE: the stored text is never rewritten to keep it alive.
- An exchange is a string `<prefix>x:<fingerprint>` written with its expiry (SET ... EX).
- The TTL is Redis' expiry (HEADROOM_CCR_TTL). The size cap is Redis' own `maxmemory` with the
  `volatile-lru` policy (every key here has an expiry, so it evicts least recently used entries, ours and
  never another application's persistent keys); HEADROOM_CCR_MAX_MB does not apply.
- A Redis that does not answer raises `StoreUnreachable` within about a second (no retries): the request
  it was for goes upstream uncompressed, byte-identical (Intercept fails open). For the next
  `RETRY_AFTER_S` every call raises it at once, without trying: a Redis that drops packets (a down host,
  a firewall) costs one request the connect timeout, not every request; the first call after that tries
  again, and a success closes the gap.

redis-py is imported only when such a URL is configured (the `team` extra installs it).
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from headroom.storage.store import DEFAULT_TTL_SECONDS, StoreError

__all__ = ["REDIS_SCHEMES", "RedisStore", "StoreUnreachable", "check_url", "masked"]

REDIS_SCHEMES = ("redis", "rediss")
CONNECT_TIMEOUT_S = 1.0  # a Redis that is down costs a request this much, once, before it goes uncompressed
SOCKET_TIMEOUT_S = 2.0
RETRY_AFTER_S = 2.0  # after an unreachable Redis, calls fail at once for this long before one tries again
PREFIX = "headroom:"


class StoreUnreachable(StoreError):
    """The shared store does not answer (down, refused, timed out); the message names it, password masked."""


def masked(url: str) -> str:
    """`url` with its password (and user) replaced by ***: for every log line and report."""
    from headroom.core.proxychain import mask_url

    return mask_url(url)


def check_url(url: str) -> str:
    """`url` if it names a Redis the store can use; ValueError (one line, password masked) otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"HEADROOM_STORE={masked(url)!r} is not a URL; give redis://[user:pass@]host:port/db "
                         "or rediss://... (TLS)") from None
    if parts.scheme not in REDIS_SCHEMES or not parts.hostname:
        raise ValueError(f"HEADROOM_STORE={masked(url)!r}: give redis://[user:pass@]host:port/db or rediss://... "
                         "(TLS); unset it for the embedded SQLite store")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ValueError(f"HEADROOM_STORE={masked(url)!r}: the database after the port is a number, e.g. /0")
    del port
    return url


class RedisStore:
    """A store shared by every proxy pointing at the same Redis database. Thread-safe (redis-py's pool)."""

    reads_inline = False  # every read is a round trip to the server

    def __init__(self, url: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, ca_file: str = "",
                 prefix: str = PREFIX, retry_after_s: float = RETRY_AFTER_S) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = masked(check_url(url))  # never the password: this is what messages name
        self.ttl_seconds = ttl_seconds
        self._prefix = prefix
        extra: dict[str, Any] = {}
        if ca_file and url.startswith("rediss:"):
            extra["ssl_ca_certs"] = ca_file
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0), retry_on_timeout=False, decode_responses=False,
            encoding_errors="surrogatepass", **extra)
        self._errors: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError)
        self._redis_error: type[BaseException] = redis.RedisError
        self.retry_after_s = retry_after_s
        self._down_until = 0.0  # time.monotonic() before which calls fail without trying (see the module doc)

    def __repr__(self) -> str:
        return f"RedisStore({self.url})"

    def _call(self, fn: Any) -> Any:
        if time.monotonic() < self._down_until:
            raise StoreUnreachable(f"the retrieval store {self.url} is unreachable (it was a moment ago; "
                                   f"trying again within {self.retry_after_s:g} s)")
        try:
            return fn()
        except self._errors as e:
            self._down_until = time.monotonic() + self.retry_after_s
            raise StoreUnreachable(f"the retrieval store {self.url} is unreachable ({type(e).__name__})") from None
        except self._redis_error as e:  # OOM under noeviction, a wrong password, a read-only replica
            raise StoreError(f"the retrieval store {self.url} refused the command ({type(e).__name__}: "
                             f"{str(e)[:120]})") from None

    def _d(self, key: str) -> str:
        return f"{self._prefix}d:{key}"

    def _x(self, fp: str) -> str:
        return f"{self._prefix}x:{fp}"

    # --- writes -------------------------------------------------------------------------------------

    def unwritten(self, items: Mapping[str, str], scope: str = "") -> dict[str, str]:
        """All of them: a shared store's entries may be evicted by any replica, so every put is written."""
        return dict(items)

    def put_many(self, items: Mapping[str, str], scope: str = "") -> None:
        """Keep each dropped text under its marker key; a re-put refreshes its expiry without rewriting it."""
        if not items:
            return

        def run() -> None:
            pipe = self._redis.pipeline(transaction=True)  # text, scope and expiry land together or not at all
            for k, v in items.items():
                name = self._d(k)
                pipe.hsetnx(name, "t", v)
                pipe.hset(name, "s", scope)
                pipe.expire(name, self.ttl_seconds)
            pipe.execute()
        self._call(run)

    def put_exchanges(self, items: Mapping[str, str]) -> None:
        if not items:
            return

        def run() -> None:
            pipe = self._redis.pipeline(transaction=True)
            for fp, v in items.items():
                pipe.set(self._x(fp), v, ex=self.ttl_seconds)
            pipe.execute()
        self._call(run)

    # --- reads --------------------------------------------------------------------------------------

    def get(self, key: str, scope: str | None = None) -> str | None:
        """The dropped text under `key`, or None if never stored, expired, evicted, or another scope's."""
        got = self._call(lambda: self._redis.hmget(self._d(key), ["t", "s"]))
        text, owner = got
        if text is None or (scope is not None and (owner or b"").decode() != scope):
            return None
        return bytes(text).decode("utf-8", "surrogatepass")

    def issued(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return set()

        def run() -> list[Any]:
            pipe = self._redis.pipeline(transaction=False)
            for k in wanted:
                pipe.exists(self._d(k))
            return list(pipe.execute())
        return {k for k, n in zip(wanted, self._call(run)) if n}

    def get_exchanges(self, fingerprints: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(fingerprints))
        if not wanted:
            return {}
        values = self._call(lambda: self._redis.mget([self._x(f) for f in wanted]))
        return {f: bytes(v).decode("utf-8", "surrogatepass") for f, v in zip(wanted, values) if v is not None}

    def stats(self) -> dict[str, Any]:
        """What doctor reports: the server's memory and cap (drops are not counted: that would scan the keys)."""
        info = self._call(lambda: self._redis.info("memory"))
        return {"bytes": int(info.get("used_memory", 0)), "drops": None, "exchanges": None,
                "max_bytes": int(info.get("maxmemory", 0)) or None,
                "policy": str(info.get("maxmemory_policy", "")), "ttl_seconds": self.ttl_seconds,
                "where": self.url}

    def ping(self) -> bool:
        try:
            return bool(self._call(self._redis.ping))
        except StoreError:
            return False

    def close(self) -> None:
        try:
            self._redis.close()
        except Exception:  # noqa: BLE001 - closing a pool to a dead server must not raise at shutdown
            pass
