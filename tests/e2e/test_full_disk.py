"""A full disk under the headroom home (a real tmpfs, filled to ENOSPC): the proxy says so in one line and
keeps serving, every request going upstream byte-identical while the store cannot keep what compression
would drop (an output it already holds, resent, is still compressed), and compresses again once there is space. It used to log SQLite's "cannot rollback - no
transaction is active" (a second ROLLBACK after SQLite had rolled back itself), as `error OperationalError`."""
from __future__ import annotations

import json
import ssl

import httpx
import pytest

from headroom.core.markers import find_markers
from tests.e2e.test_retrieve_http import URLS, body
from tests.support.fullfs import fill, small_fs
from tests.support.proxy import launch_proxy
from tests.support.fake_upstream import Reply

pytestmark = pytest.mark.e2e


def send(proxy, n: int) -> bytes:
    b = body("openai_chat", False)
    # New drops each time (the dropped heartbeat lines name the run): the store must write them.
    b["messages"][-1]["content"] = b["messages"][-1]["content"].replace("heartbeat ok", f"heartbeat ok run={n}")
    raw = json.dumps(b).encode()
    ctx = ssl.create_default_context(cafile=str(proxy.client_ca_bundle))
    with httpx.Client(proxy=proxy.url, verify=ctx, timeout=30, trust_env=False) as c:
        r = c.post(URLS["openai_chat"], content=raw, headers={"content-type": "application/json",
                                                               "authorization": "Bearer sk-test"})
    assert r.status_code == 200, r.text
    return raw


def test_a_full_disk_is_one_clear_line_and_the_proxy_keeps_serving(tmp_path, fake_upstream):
    with small_fs(tmp_path / "fs", "8m") as root:
        proxy = launch_proxy(fake_upstream, root / "home")
        try:
            fake_upstream.queue(*[Reply.text("ok") for _ in range(6)])
            send(proxy, 0)
            assert find_markers(fake_upstream.last.decoded.decode())  # compressed while there is space
            filler = fill(root)
            for n in (1, 2, 3):
                raw = send(proxy, n)
                assert fake_upstream.last.decoded == raw  # fail open: the client's bytes, untouched
            # Resent moments later, the first output's drops are in the store already: nothing to write, so
            # it is compressed on a full disk too, and its markers are retrievable.
            fake_upstream.queue(Reply.text("ok"))
            send(proxy, 0)
            assert find_markers(fake_upstream.last.decoded.decode())
            filler.unlink()
            send(proxy, 4)
            assert find_markers(fake_upstream.last.decoded.decode())  # space again: compressed again
        finally:
            proxy.stop()
    log = proxy.stderr_text()
    assert "cannot rollback" not in log and "OperationalError" not in log, log
    full = [ln for ln in log.splitlines() if "disk is full" in ln]
    store_lines = [ln for ln in full if "retrieval store" in ln]
    assert len(store_lines) == 1, log  # once, not once per request
    assert "requests go upstream uncompressed until there is space" in store_lines[0]
    assert all(ln.startswith("headroom: ") for ln in full), log
