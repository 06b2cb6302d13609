"""A balancer's view of a real proxy: /livez and /readyz on the proxy's own port (no proxy credential, even in
team mode), and the drain on SIGTERM: readiness 503, new connections refused, the SSE stream in flight
completes, exit code 0."""
from __future__ import annotations

import signal
import socket
import ssl
import threading
import time

import httpx
import pytest

from tests.e2e.test_retrieve_http import URLS, sse_text
from tests.support.fake_upstream import Reply

BOUND_S = 30.0  # every wait below is bounded by this


def probe(p, path: str, host: str = "127.0.0.1") -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=10) as c:
        return c.get(f"http://{host}:{p.port}{path}")


def wait_ready(p, host: str = "127.0.0.1") -> httpx.Response:
    deadline = time.monotonic() + BOUND_S
    while True:
        r = probe(p, "/readyz", host)
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_liveness_and_readiness_are_answered_on_the_proxy_port(proxy):
    live = probe(proxy, "/livez")
    assert live.status_code == 200 and live.json() == {"live": True, "draining": False}
    r = wait_ready(proxy)
    assert r.status_code == 200 and r.json() == {"ready": True, "waiting": []}


def test_not_ready_while_the_store_cannot_be_used(start_proxy, headroom_home):
    (headroom_home / "store.sqlite3").write_bytes(b"not a database" * 100)
    p = start_proxy()
    r = probe(p, "/readyz")
    assert r.status_code == 503 and r.json()["ready"] is False and r.json()["waiting"][0].startswith("store")
    assert probe(p, "/livez").status_code == 200  # alive: a restart would not help, an operator must


def test_in_team_mode_the_probes_need_no_token(start_proxy):
    p = start_proxy("--host", "127.0.0.2", env={"HEADROOM_TEAM": "1"})
    assert wait_ready(p, "127.0.0.2").status_code == 200
    with httpx.Client(trust_env=False, timeout=10) as c:  # anything else on that port still wants one
        assert c.get(f"http://127.0.0.2:{p.port}/other").status_code == 407


def _stream_in_thread(p, out: dict, first: threading.Event) -> threading.Thread:
    def run() -> None:
        ctx = ssl.create_default_context(cafile=str(p.client_ca_bundle))
        with httpx.Client(proxy=p.url, verify=ctx, timeout=BOUND_S, trust_env=False) as c:
            body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "count"}]}
            with c.stream("POST", URLS["openai_chat"], json=body) as r:
                data = b""
                for chunk in r.iter_raw():
                    data += chunk
                    first.set()
                out["status"], out["text"] = r.status_code, data.decode()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_sigterm_drains_the_stream_in_flight_refuses_new_connections_and_exits_0(start_proxy, fake_upstream):
    p = start_proxy(env={"HEADROOM_DRAIN_SECONDS": "20"})
    words = "one two three four five six seven eight"
    fake_upstream.queue(Reply.text(words, interval=0.4, chunks=8))  # ~3.5 s of stream
    out: dict = {}
    first = threading.Event()
    t = _stream_in_thread(p, out, first)
    assert first.wait(BOUND_S)
    p.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + BOUND_S
    while not refused(p.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert refused(p.port)  # the listener is closed...
    assert t.is_alive()  # ...while the stream still runs
    t.join(BOUND_S)
    assert out["status"] == 200 and sse_text("openai_chat", out["text"]) == words  # whole, to its end
    assert p.proc.wait(BOUND_S) == 0


def test_readiness_says_503_while_draining(start_proxy, fake_upstream):
    p = start_proxy(env={"HEADROOM_DRAIN_NOTICE_SECONDS": "3", "HEADROOM_DRAIN_SECONDS": "5"})
    assert wait_ready(p).status_code == 200
    p.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + BOUND_S
    r = probe(p, "/readyz")
    while r.status_code == 200 and time.monotonic() < deadline:  # the signal is handled on the event loop
        time.sleep(0.05)
        r = probe(p, "/readyz")
    assert r.status_code == 503 and r.json() == {"ready": False, "waiting": ["draining"]}
    assert probe(p, "/livez").json()["draining"] is True
    assert p.proc.wait(BOUND_S) == 0


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_a_drain_that_cannot_be_read_is_refused_in_one_line(value):
    from headroom.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="^HEADROOM_DRAIN_SECONDS=.*: give a whole number of seconds"):
        Settings.from_env({"HEADROOM_DRAIN_SECONDS": value})
