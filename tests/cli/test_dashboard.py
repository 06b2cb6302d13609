"""`headroom dashboard`: finds the real running proxy's dashboard, or says plainly that it must be running."""
from __future__ import annotations

import socket
import stat
import subprocess
import sys
import threading
import urllib.request

from typer.testing import CliRunner

from headroom.cli.main import app
from headroom.proxyinfo import probe_health

runner = CliRunner()


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_no_proxy_says_it_must_be_running():
    port = _free_port()
    r = runner.invoke(app, ["dashboard", "--port", str(port), "--no-open"])
    assert r.exit_code == 1
    assert "proxy must be running" in r.output
    assert f"headroom proxy --port {port}" in r.output and "Traceback" not in r.output


def test_something_else_on_the_port_is_not_a_proxy():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]

    def answer():
        conn, _ = srv.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        conn.close()

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        r = runner.invoke(app, ["dashboard", "--port", str(port), "--no-open"])
    finally:
        t.join(5)
        srv.close()
    assert r.exit_code == 1 and "must be running" in r.output


def test_running_proxy_prints_its_dashboard_url(proxy):
    r = runner.invoke(app, ["dashboard", "--port", str(proxy.port), "--no-open"])
    assert r.exit_code == 0, r.output
    url = r.output.strip()
    assert url == probe_health(proxy.port)["admin_url"] + "/dashboard"
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200 and b"Headroom" in resp.read()


def test_opens_the_browser(proxy, tmp_path):
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {seen}\n")
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    env = proxy.env(BROWSER=f"{browser} %s")
    for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(k, None)
    r = subprocess.run([sys.executable, "-m", "headroom", "dashboard", "--port", str(proxy.port)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert seen.read_text().strip() == probe_health(proxy.port)["admin_url"] + "/dashboard"
