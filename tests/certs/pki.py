"""Real TLS servers for the trust tests, over the shared test PKI (tests/support/pki.py: CAs good and
sloppy, leafs good and bad, re-exported here for the trust tests' imports)."""
from __future__ import annotations

import http.server
import ssl
import threading
from pathlib import Path

from tests.support.pki import Issued, make_ca, make_leaf, write_pems

__all__ = ["Issued", "TLSServer", "make_ca", "make_leaf"]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = b"upstream-ok " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class TLSServer:
    """An HTTPS server on 127.0.0.1 presenting `leaf` (a thread; stop() closes it)."""

    def __init__(self, leaf: Issued, tmp: Path) -> None:
        chain = tmp / "chain.pem"
        key = tmp / "key.pem"
        write_pems(leaf, chain, key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
