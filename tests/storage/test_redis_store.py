"""The Redis store against a real redis-server: the Store contract SQLite keeps, sharing, expiry, failing open."""
from __future__ import annotations

import pytest

from headroom.core.markers import key_for
from headroom.settings import Settings, SettingsError, open_user_store
from headroom.storage.redis_store import RedisStore, StoreUnreachable, check_url
from headroom.storage.store import SQLiteStore, Store, open_store
from tests.support.servers import free_port, redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis"), password="s3cret") as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path, redis_url):
    if request.param == "sqlite":
        s: Store = SQLiteStore(tmp_path / "s.db", ttl_seconds=100)
    else:
        s = RedisStore(redis_url, ttl_seconds=100, prefix=f"t{tmp_path.name}:")
    yield s
    s.close()


def test_the_store_contract_on_both_backends(store):
    text = "line 1\r\n\tüñí ☃ \x00 tail\n" * 3
    k = key_for(text)
    store.put_many({k: text}, "1" * 16)
    assert isinstance(store, Store)
    assert store.get(k) == text and store.get(k, scope="1" * 16) == text
    assert store.get(k, scope="2" * 16) is None and store.get("0" * 16) is None
    assert store.issued([k, "0" * 16, k]) == {k}
    store.put_exchanges({"fp": '{"x": 1}'})
    store.put_exchanges({"fp": '{"x": 2}'})  # an exchange is written again whole
    assert store.get_exchanges(["fp", "nope"]) == {"fp": '{"x": 2}'}
    assert store.issued([]) == set() and store.get_exchanges([]) == {}


def test_a_reput_refreshes_without_rewriting_the_text(store):
    """Issue 17: a drop still in the conversation is re-put every turn only to keep it alive. The key is a hash
    of the text, so the text stored first is kept; scope follows the last writer, as before."""
    store.put_many({"k" * 16: "first"}, "a" * 16)
    store.put_many({"k" * 16: "second"}, "b" * 16)
    assert store.get("k" * 16) == "first"
    assert store.get("k" * 16, scope="b" * 16) == "first" and store.get("k" * 16, scope="a" * 16) is None


def test_redis_expiry_is_the_ttl_and_a_reput_refreshes_it_with_expire(redis_url):
    import redis

    s = RedisStore(redis_url, ttl_seconds=1000, prefix="ttl:")
    raw = redis.Redis.from_url(redis_url)
    s.put_many({"a" * 16: "A"})
    assert 990 <= raw.ttl("ttl:d:" + "a" * 16) <= 1000
    raw.expire("ttl:d:" + "a" * 16, 5)  # as if most of its life had passed
    s.put_many({"a" * 16: "A"})
    assert raw.ttl("ttl:d:" + "a" * 16) > 5
    s.put_exchanges({"fp": "x"})
    assert 990 <= raw.ttl("ttl:x:fp") <= 1000
    raw.delete("ttl:d:" + "a" * 16)  # what expiry or eviction does
    assert s.get("a" * 16) is None and s.issued(["a" * 16]) == set()


def test_two_proxies_share_one_redis(redis_url):
    a = RedisStore(redis_url, prefix="share:")
    b = RedisStore(redis_url, prefix="share:")
    a.put_many({"m" * 16: "made on A"}, "u" * 16)
    a.put_exchanges({"fp": "hidden"})
    assert b.get("m" * 16, scope="u" * 16) == "made on A" and b.issued(["m" * 16]) == {"m" * 16}
    assert b.get_exchanges(["fp"]) == {"fp": "hidden"}


def test_a_redis_that_is_down_raises_unreachable_with_the_password_masked():
    url = f"redis://user:hunter2@127.0.0.1:{free_port()}/0"
    s = RedisStore(url)
    with pytest.raises(StoreUnreachable) as e:
        s.put_many({"k" * 16: "x"})
    assert "hunter2" not in str(e.value) and "127.0.0.1" in str(e.value)
    with pytest.raises(StoreUnreachable):
        s.get("k" * 16)
    assert s.ping() is False and "hunter2" not in repr(s)


class _Closer:
    """A TCP listener on loopback that counts the connections made to it and closes each at once: a Redis
    that is there but never answers, whose every attempt we can count."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for _ in range(10_000):  # bounded: the test makes a handful of attempts
            if self.stop.is_set():
                return
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_after_an_unreachable_redis_calls_fail_at_once_for_a_while_then_try_again():
    """A Redis that drops packets costs each attempt the connect timeout: one request pays it, not every one."""
    import time

    closer = _Closer()
    try:
        s = RedisStore(f"redis://u:pw@127.0.0.1:{closer.port}/0", retry_after_s=0.5)
        with pytest.raises(StoreUnreachable):
            s.put_many({"k" * 16: "x"})
        tried = closer.accepted
        assert tried >= 1
        for _ in range(5):  # within the gap: no attempt reaches the server
            with pytest.raises(StoreUnreachable) as e:
                s.get("k" * 16)
            assert "pw" not in str(e.value)
        assert closer.accepted == tried and s.ping() is False
        deadline = time.monotonic() + 10
        while time.monotonic() < s._down_until and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(StoreUnreachable):
            s.get("k" * 16)
        assert closer.accepted > tried  # after the gap it tries again
    finally:
        closer.close()


def test_a_redis_that_comes_back_is_used_again_after_the_gap(tmp_path):
    port = free_port()
    s = RedisStore(f"redis://127.0.0.1:{port}/0", retry_after_s=0.3, prefix="back:")
    with pytest.raises(StoreUnreachable):
        s.put_many({"b" * 16: "B"})
    with redis_server(tmp_path / "r", port=port) as url:
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                s.put_many({"b" * 16: "B"})
                break
            except StoreUnreachable:
                time.sleep(0.1)
        assert s.get("b" * 16) == "B"


@pytest.mark.parametrize("url", ["http://h:1/0", "redis://", "redis://h:port/0", "redis://h:1/zero"])
def test_a_bad_url_is_refused_in_one_line_without_its_password(url):
    with pytest.raises(ValueError) as e:
        check_url(url.replace("://", "://u:pw@", 1) if "@" not in url and url != "redis://" else url)
    assert "pw" not in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(SettingsError):
        Settings.from_env({"HEADROOM_STORE": url})


def test_settings_carry_the_url_to_the_proxy_and_report_it_masked(redis_url):
    s = Settings.from_env({"HEADROOM_STORE": redis_url})
    assert s.options()["headroom_store"] == redis_url
    assert "s3cret" not in s.effective()["HEADROOM_STORE"] and "s3cret" not in str(s.reported)
    assert Settings.from_env({}).options()["headroom_store"] == ""


def test_the_cli_opens_the_store_headroom_store_names(redis_url, tmp_path):
    st = open_user_store({"HEADROOM_STORE": redis_url}, root=tmp_path)
    assert isinstance(st, RedisStore)
    st.close()
    assert isinstance(open_store(tmp_path), SQLiteStore)
