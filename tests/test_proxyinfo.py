"""proxyinfo.py: a headroom proxy is recognised by its own answer, never assumed from an open port.

Real loopback sockets: a server that is not headroom, one that answers as headroom (chunked), nothing."""
from __future__ import annotations

import json
import socket
import threading

from headroom import proxyinfo


def _serve_once(response: bytes) -> tuple[int, threading.Thread]:
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(5)
    port = srv.getsockname()[1]

    def run() -> None:
        with srv:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                for _ in range(100):  # bounded: read the request head
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    if b"\r\n\r\n" in data:
                        break
                assert data.startswith(b"GET http://headroom.proxy/health HTTP/1.1\r\n")
                conn.sendall(response)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return port, t


def test_a_headroom_identity_is_recognised_even_chunked():
    body = json.dumps({"service": "headroom", "version": "0.0", "pid": 1}).encode()
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    port, t = _serve_once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    assert proxyinfo.probe_health(port) == {"service": "headroom", "version": "0.0", "pid": 1}
    t.join(5)


def test_something_else_on_the_port_is_not_a_headroom_proxy():
    other = json.dumps({"service": "something-else"}).encode()
    port, t = _serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(other) + other)
    assert proxyinfo.probe_health(port) is None
    t.join(5)
    port, t = _serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert proxyinfo.probe_health(port) is None
    t.join(5)


def test_nothing_listening():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    assert proxyinfo.probe_health(port, timeout=1.0) is None
    assert proxyinfo.port_in_use(port, timeout=1.0) is False


def test_a_suggested_port_is_free_and_never_the_busy_ports_dashboard():
    """Issue 15 item 14: every message suggested --port 8788 to someone whose 8787 was busy, and 8788 is the
    default proxy's dashboard: two contradicting errors. The suggestion is free, and so is its own + 1."""
    import socket

    from headroom.proxyinfo import suggest_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        if port > 65000:
            return  # too near the end of the range to test stepping over a taken port
        with socket.socket() as taken:
            try:
                taken.bind(("127.0.0.1", port + 2))  # the first candidate, taken
            except OSError:
                pass
            taken.listen()
            got = suggest_port(port)
            assert got not in (port, port + 1, port + 2) and got > port
            for p in (got, got + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))


def test_the_users_proxy_is_found_in_the_environment_and_headroom_proxies_are_not():
    port, t = _serve_once(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
                          + json.dumps({"service": "headroom", "version": "x", "pid": 1}).encode())
    # A loopback URL that answers as headroom (a wrap on another port) is no upstream proxy.
    assert proxyinfo.upstream_proxy_for({"HTTPS_PROXY": f"http://127.0.0.1:{port}"}, None, 1) is None
    t.join(5)
    # cntlm and the like run on loopback: a loopback proxy that is not headroom is the user's.
    free = proxyinfo.suggest_port(20000)
    got = proxyinfo.upstream_proxy_for({"ALL_PROXY": f"http://127.0.0.1:{free}"}, None, 1)
    assert got is not None and got.port == free
