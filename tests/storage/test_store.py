"""The retrieval store: TTL, LRU size cap, restart survival, 0600, concurrent writer processes."""
from __future__ import annotations

import time

import multiprocessing
import os
import stat

import pytest

from headroom.core.markers import key_for
from headroom.storage.store import SQLiteStore, Store, StoreError, open_store


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_put_get_round_trip_exact(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    text = "line 1\r\n\tüñí ☃ \x00 tail\n" * 3
    s.put_many({key_for(text): text})
    assert s.get(key_for(text)) == text
    assert s.get("0" * 16) is None
    assert isinstance(s, Store)


def test_entry_expires_after_ttl_and_reput_refreshes_it(tmp_path):
    clock = Clock()
    s = SQLiteStore(tmp_path / "s.db", ttl_seconds=100, clock=clock)
    s.put_many({"a" * 16: "A", "b" * 16: "B"})
    clock.t += 60
    s.put_many({"b" * 16: "B"})  # still in the conversation: written again this turn
    clock.t += 60
    assert s.get("a" * 16) is None
    assert s.issued(["a" * 16, "b" * 16]) == {"b" * 16}
    assert s.get("b" * 16) == "B"


def _created(s: SQLiteStore, key: str) -> float:
    return s._conn().execute("SELECT created FROM entries WHERE key = ?", (key,)).fetchone()[0]


def test_a_reput_within_refresh_s_writes_nothing_and_one_after_it_writes(tmp_path):
    clock = Clock()
    s = SQLiteStore(tmp_path / "s.db", clock=clock)  # the 7-day TTL: refresh_s is REFRESH_SECONDS
    s.put_many({"a" * 16: "A"}, "scope-1")
    t0 = clock.t
    clock.t += s.refresh_s / 2
    assert s.unwritten({"a" * 16: "A"}, "scope-1") == {}
    s.put_many({"a" * 16: "A"}, "scope-1")
    assert _created(s, "a" * 16) == t0  # not written again: its expiry moved by less than refresh_s
    assert s.unwritten({"a" * 16: "A"}, "scope-2") == {"a" * 16: "A"}  # another credential's put is written
    clock.t = t0 + s.refresh_s
    s.put_many({"a" * 16: "A"}, "scope-1")
    assert _created(s, "a" * 16) == clock.t


def test_a_short_ttl_refreshes_every_hundredth_of_it(tmp_path):
    clock = Clock()
    s = SQLiteStore(tmp_path / "s.db", ttl_seconds=100, clock=clock)
    assert s.refresh_s == 1.0
    s.put_many({"a" * 16: "A"})
    clock.t += 1
    assert s.unwritten({"a" * 16: "A"}) == {"a" * 16: "A"}


def test_an_eviction_by_size_makes_every_reput_write_again(tmp_path):
    clock = Clock()
    s = SQLiteStore(tmp_path / "s.db", max_bytes=3000, clock=clock)
    for name in "abc":
        clock.t += 1
        s.put_many({name * 16: name * 1000})
    clock.t += 1
    s.put_many({"d" * 16: "d" * 1000})  # evicts a
    assert s.issued(["a" * 16]) == set()
    assert s.unwritten({"a" * 16: "a" * 1000, "c" * 16: "c" * 1000}) == {"a" * 16: "a" * 1000,
                                                                         "c" * 16: "c" * 1000}
    s.put_many({"a" * 16: "a" * 1000})
    assert s.get("a" * 16) == "a" * 1000


def test_issued_answers_what_it_just_wrote_without_a_read_and_reads_the_rest(tmp_path):
    clock = Clock()
    s = SQLiteStore(tmp_path / "s.db", ttl_seconds=1000, max_bytes=3000, clock=clock)  # refresh_s: 10 s
    s.put_many({"a" * 16: "a" * 1000})
    reads = []
    s._conn().set_trace_callback(reads.append)
    assert s.issued(["a" * 16]) == {"a" * 16} and reads == []  # written 0 s ago by this process
    clock.t += s.refresh_s
    assert s.issued(["a" * 16]) == {"a" * 16} and len(reads) == 1  # older: read, still held
    other = SQLiteStore(tmp_path / "s.db", ttl_seconds=1000, max_bytes=3000, clock=clock)
    other.put_many({"b" * 16: "b" * 1000})  # another process's drop: never in this one's memory
    assert s.issued(["a" * 16, "b" * 16, "c" * 16]) == {"a" * 16, "b" * 16}
    for name in "cde":  # evicts a by size: what this process wrote is forgotten, read again, and gone
        clock.t += 1
        s.put_many({name * 16: name * 1000})
    assert s.issued(["a" * 16]) == set()


def test_size_cap_evicts_least_recently_used(tmp_path):
    clock = Clock()
    s = SQLiteStore(tmp_path / "s.db", max_bytes=3000, clock=clock)
    for name in "abc":
        clock.t += 1
        s.put_many({name * 16: name * 1000})
    clock.t += 1
    assert s.get("a" * 16) == "a" * 1000  # reading a makes b the least recently used
    clock.t += 1
    s.put_many({"d" * 16: "d" * 1000})
    assert s.issued([x * 16 for x in "abcd"]) == {"a" * 16, "c" * 16, "d" * 16}
    assert s.stats()["bytes"] == 3000


def test_a_write_never_evicts_its_own_drops(tmp_path):
    """Issue 15 item 9: with a small cap, 423 of 509 markers one request sent upstream were evicted by that
    request's own write. What a write holds stays (the cap overruns) until a later write evicts it."""
    clock = Clock()
    s = SQLiteStore(tmp_path / "s.db", max_bytes=3000, clock=clock)
    s.put_many({"o" * 16: "o" * 1000})
    clock.t += 1
    big = {f"{i:016x}": chr(97 + i % 26) * 500 for i in range(20)}  # 10,000 bytes in one request
    s.put_many(big)
    assert s.issued(big) == set(big)
    assert s.get("o" * 16) is None  # the older entry made room first
    clock.t += 1
    s.put_many({"n" * 16: "n" * 1000})
    assert s.stats()["bytes"] <= 3000 and s.get("n" * 16) == "n" * 1000


def test_a_scoped_read_sees_only_its_scopes_drops(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    s.put_many({"a" * 16: "mine"}, "1" * 16)
    assert s.get("a" * 16, scope="1" * 16) == "mine"
    assert s.get("a" * 16, scope="2" * 16) is None
    assert s.get("a" * 16) == "mine"  # unscoped: the CLI, the user's own


def test_a_version_2_store_is_migrated_with_its_rows_unscoped(tmp_path):
    import sqlite3

    path = tmp_path / "s.db"
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE entries (kind TEXT NOT NULL, key TEXT NOT NULL, text TEXT NOT NULL, size INTEGER "
              "NOT NULL, created REAL NOT NULL, used REAL NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID")
    c.execute("INSERT INTO entries VALUES ('d', ?, 'old', 3, ?, ?)", ("k" * 16, time.time(), time.time()))
    c.execute("PRAGMA user_version = 2")
    c.commit()
    c.close()
    s = SQLiteStore(path)
    assert s.get("k" * 16) == "old" and s.get("k" * 16, scope="") == "old" and s.get("k" * 16, scope="x") is None


def test_survives_restart(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    s.put_many({"k" * 16: "kept"})
    s.put_exchanges({"fp": '{"x": 1}'})
    s.close()
    again = SQLiteStore(tmp_path / "s.db")
    assert again.get("k" * 16) == "kept"
    assert again.get_exchanges(["fp", "nope"]) == {"fp": '{"x": 1}'}


def test_files_are_user_only(tmp_path):
    s = open_store(tmp_path / "home")
    s.put_many({"k" * 16: "secret"})
    for p in (tmp_path / "home").iterdir():
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p.name
    assert stat.S_IMODE(os.stat(tmp_path / "home").st_mode) == 0o700


def test_corrupt_file_gets_a_clear_error(tmp_path):
    p = tmp_path / "s.db"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="move it aside"):
        SQLiteStore(p)
    assert p.read_bytes().startswith(b"this is not sqlite")  # left as it was


def test_env_settings(tmp_path, monkeypatch):
    from headroom.settings import Settings, open_user_store, store_limits

    monkeypatch.setenv("HEADROOM_CCR_TTL", "3600")
    monkeypatch.setenv("HEADROOM_CCR_MAX_MB", "1.5")
    s = open_user_store(root=tmp_path)
    assert (s.ttl_seconds, s.max_bytes) == (3600, 1572864)
    s.close()
    s = Settings.from_env({"HEADROOM_CCR_TTL": "3600", "HEADROOM_CCR_MAX_MB": "1.5"})
    assert (s.ccr_ttl_seconds, s.ccr_max_bytes) == (3600, 1572864)
    with pytest.raises(ValueError, match="HEADROOM_CCR_TTL"):
        store_limits({"HEADROOM_CCR_TTL": "a week"})


def _writer(path: str, wid: int, n: int) -> None:
    s = SQLiteStore(path)
    for i in range(n):
        text = f"writer {wid} item {i}\n" * 20
        s.put_many({key_for(text): text})
    s.close()


def test_concurrent_writer_processes_lose_nothing(tmp_path):
    path = str(tmp_path / "s.db")
    SQLiteStore(path).close()
    mp = multiprocessing.get_context("spawn")
    procs = [mp.Process(target=_writer, args=(path, w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    s = SQLiteStore(path)
    texts = [f"writer {w} item {i}\n" * 20 for w in range(4) for i in range(60)]
    assert s.issued(key_for(t) for t in texts) == {key_for(t) for t in texts}
    assert all(s.get(key_for(t)) == t for t in texts)
    assert s.stats()["bytes"] == sum(len(t) for t in texts)


def test_a_full_disk_raises_its_own_error_not_cannot_rollback(tmp_path):
    """On a real full file system SQLite rolls the write back itself; the store's second ROLLBACK used to
    replace SQLITE_FULL with "cannot rollback - no transaction is active"."""
    import sqlite3

    from headroom.logs import describe
    from headroom.storage import disk_full
    from tests.support.fullfs import fill, small_fs

    with small_fs(tmp_path / "fs", "2m") as root:
        s = SQLiteStore(root / "store.sqlite3")
        s.put_many({"k0": "kept before the disk filled"})
        filler = fill(root)
        with pytest.raises(sqlite3.Error) as got:
            s.put_many({f"k{i}": f"{i} " * 20_000 for i in range(1, 4)})
        assert disk_full(got.value) and "cannot rollback" not in str(got.value), got.value
        assert describe(got.value) == "OperationalError (SQLITE_FULL)"  # what a log line may show
        assert s.get("k0") == "kept before the disk filled" and s.get("k1") is None  # nothing half-written
        filler.unlink()
        s.put_many({"k1": "room again"})
        assert s.get("k1") == "room again"
        s.close()
