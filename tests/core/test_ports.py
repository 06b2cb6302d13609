"""The storage Protocols core and the addons depend on: the storage package's classes satisfy them."""
from __future__ import annotations

from headroom.core.ports import Entry, LedgerWriter, Store
from headroom.storage.ledger import Ledger
from headroom.storage.store import open_store


def test_the_sqlite_store_is_a_store(tmp_path):
    st = open_store(tmp_path)
    try:
        assert isinstance(st, Store)
    finally:
        st.close()


def test_the_ledger_is_a_ledger_writer(tmp_path):
    led = Ledger(tmp_path / "ledger.sqlite3").start()
    try:
        assert isinstance(led, LedgerWriter)
        assert led.record(Entry(ts=1.0, provider="openai_chat", host="api.openai.com", model=None, tokens_before=2,
                                tokens_after=1))
        assert led.flush(10) and led.written == 1
    finally:
        led.close()
