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
