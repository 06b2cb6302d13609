"""`headroom proxy` on the command line: misuse gets one line, env vars work, signals exit cleanly."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
from typer.testing import CliRunner

from headroom.cli.main import app

runner = CliRunner()


def _one_line_error(result, *needles):
    assert result.exit_code == 1, result.output
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in result.output, result.output
    for n in needles:
        assert n in err, err


def test_bad_route_names_the_expected_form():
    _one_line_error(runner.invoke(app, ["proxy", "--route", "api.openai.com"]), "HOST=ADDR:PORT")


def test_bad_route_from_env_is_reported_the_same_way():
    r = runner.invoke(app, ["proxy"], env={"HEADROOM_ROUTE": "api.openai.com=127.0.0.1:1 broken"})
    _one_line_error(r, "'broken'", "HOST=ADDR:PORT")


def test_missing_upstream_ca_file(tmp_path):
    _one_line_error(runner.invoke(app, ["proxy", "--upstream-ca", str(tmp_path / "nope.pem")]), "nope.pem", "no such file")
    r = runner.invoke(app, ["proxy"], env={"HEADROOM_CA_BUNDLE": str(tmp_path / "corp.pem")})
    _one_line_error(r, "corp.pem")


def test_bad_extra_host():
    _one_line_error(runner.invoke(app, ["proxy", "--extra-host", "not a host!"]), "not a host name")


def test_bad_compress_timeout():
    r = runner.invoke(app, ["proxy"], env={"HEADROOM_COMPRESS_TIMEOUT_MS": "2s"})
    _one_line_error(r, "HEADROOM_COMPRESS_TIMEOUT_MS", "milliseconds")


@pytest.mark.parametrize("host,needle", [("10.255.255.1", "cannot listen on 10.255.255.1"),
                                         ("nosuch.invalid", "not an address of this machine")])
def test_address_that_cannot_be_bound(host, needle):
    _one_line_error(runner.invoke(app, ["proxy", "--host", host, "--port", "0"]), needle, "--host 127.0.0.1")


def test_port_in_use_names_the_process_and_the_fix():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = runner.invoke(app, ["proxy", "--port", str(port)])
    _one_line_error(r, f"port {port}", "already in use", f"pid {os.getpid()}", "--port")


def test_port_in_use_names_the_listener_while_it_opens_and_closes_other_files(tmp_path):
    # A busy listener (this test process: its servers' threads) closes a file between the scan's listing of its
    # descriptors and the look at each: that one descriptor is gone, the listener must still be named.
    from headroom.runner import _who_listens

    hole = open(tmp_path / "hole", "w")  # a free descriptor number below the socket's, for the churn to take
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        hole.close()
        stop = threading.Event()

        def churn() -> None:
            for _ in range(2_000_000):
                if stop.is_set():
                    return
                open(tmp_path / "churn", "w").close()

        t = threading.Thread(target=churn, daemon=True)
        t.start()
        try:
            names = [_who_listens(port) for _ in range(40)]
        finally:
            stop.set()
            t.join(timeout=30)
    assert names == [f"{_comm(os.getpid())} (pid {os.getpid()})"] * 40


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def test_help_smoke():
    r = subprocess.run([sys.executable, "-m", "headroom", "proxy", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for opt in ("--host", "--port", "--route", "--upstream-ca", "--no-compress", "--extra-host", "HEADROOM_ROUTE"):
        assert opt in r.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_env_settings_start_line_and_clean_exit(sig, tmp_path, fake_upstream):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "HEADROOM_PORT": str(port),
        "HEADROOM_COMPRESS": "0",
        "HEADROOM_ROUTE": f"api.openai.com={fake_upstream.address}, api.anthropic.com={fake_upstream.address}",
        "HEADROOM_UPSTREAM_CA": str(fake_upstream.ca_cert),
    }
    # Started by hand, not with tests.support.proxy: that passes --port 0 and would hide HEADROOM_PORT.
    proc = subprocess.Popen([sys.executable, "-m", "headroom", "proxy"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HEADROOM_HOME": str(tmp_path / "home2"), **env})
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"headroom proxy listening on 127.0.0.1:{port} (trust the CA at ")
        assert "compression off" in line
        ca = tmp_path / "home2" / "ca" / "mitmproxy-ca-cert.pem"
        assert str(ca) in line
        # The routes and the upstream CA from the environment are in effect; compression is off.
        body = '{"model":"m","messages":[{"role":"user","content":"q"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"%s"}]}]}' % ("same line\\n" * 50)
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "--proxy", f"http://127.0.0.1:{port}", "--cacert", str(ca),
                            "https://api.anthropic.com/v1/messages", "-d", body], capture_output=True, text=True, timeout=30)
        assert '"type": "message"' in r.stdout, r.stderr
        assert fake_upstream.last.body == body.encode()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "CancelledError" not in err, err


def test_upstream_ca_path_with_spaces_is_one_file(tmp_path):
    ca = tmp_path / "corp certs" / "root ca.pem"
    r = runner.invoke(app, ["proxy", "--upstream-ca", str(ca)])
    _one_line_error(r, str(ca))


@pytest.mark.parametrize("name,value,needle", [
    ("HEADROOM_TLS_STRICT", "maybe", "use 1 (on) or 0 (off)"),
    ("HEADROOM_RETRIEVE", "yes please", "use 1 (on) or 0 (off)"),
    ("HEADROOM_LEDGER", "2", "use 1 (on) or 0 (off)"),
    ("HEADROOM_RELEVANCE_MODEL", "onnx", "use 1 (on) or 0 (off)"),
    ("HEADROOM_MIN_TOKENS", "lots", "whole number of tokens"),
    ("HEADROOM_CCR_TTL", "7d", "HEADROOM_CCR_TTL"),
    ("HEADROOM_CCR_MAX_MB", "-1", "HEADROOM_CCR_MAX_MB"),
])
def test_misread_env_switch_is_refused_in_one_line(monkeypatch, tmp_path, name, value, needle):
    # Each addon reads anything but an "off" word as on (or falls back silently): a typo must not start
    # a proxy that does something else than asked.
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    monkeypatch.setenv(name, value)
    _one_line_error(runner.invoke(app, ["proxy", "--port", "0"]), name, needle)


def test_bad_pricing_file_is_refused_at_start(monkeypatch, tmp_path):
    bad = tmp_path / "prices.json"
    bad.write_text("not json")
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    monkeypatch.setenv("HEADROOM_PRICING", str(bad))
    _one_line_error(runner.invoke(app, ["proxy", "--port", "0"]), "HEADROOM_PRICING", "fix or unset it")


def test_upstream_ca_that_is_not_pem_is_refused(monkeypatch, tmp_path):
    der = tmp_path / "corp.der"
    der.write_bytes(b"\x30\x82\x01\x0a not a pem file")
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    _one_line_error(runner.invoke(app, ["proxy", "--port", "0", "--upstream-ca", str(der)]),
                    "no PEM certificate", "openssl x509 -inform der")
    monkeypatch.setenv("HEADROOM_CA_BUNDLE", str(der))
    _one_line_error(runner.invoke(app, ["proxy", "--port", "0"]), "no PEM certificate")


def test_home_that_cannot_be_created_names_headroom_home(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("HEADROOM_HOME", str(blocker / "home"))
    _one_line_error(runner.invoke(app, ["proxy", "--port", "0"]), "HEADROOM_HOME")


def test_damaged_ca_key_stops_the_proxy_before_it_says_it_listens(tmp_path):
    env = {**os.environ, "HEADROOM_HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "headroom", "certs", "init"], env=env, capture_output=True, timeout=60)
    (tmp_path / "ca" / "mitmproxy-ca.pem").write_bytes(b"garbage")
    r = subprocess.run([sys.executable, "-m", "headroom", "proxy", "--port", "0"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "listening" not in r.stdout
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "Traceback" not in r.stderr
    assert "damaged" in r.stderr and "headroom certs rotate" in r.stderr


def test_listening_beyond_loopback_is_warned_about():
    from headroom.cli.proxy import exposure_warning

    for host in ("127.0.0.1", "localhost", "::1"):
        assert exposure_warning(host) is None, host
    warning = exposure_warning("0.0.0.0")
    assert warning and "not loopback" in warning and "--host 127.0.0.1" in warning
    assert "team mode" in warning and "headroom team add" in warning


def test_upstream_ca_that_is_a_folder_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "home"))
    _one_line_error(runner.invoke(app, ["proxy", "--port", "0", "--upstream-ca", str(tmp_path)]),
                    "is a folder", "PEM file")


@pytest.mark.parametrize("args,env,needles", [
    (["--upstream-proxy", "socks5://alice:hunter2@corp:1080"], {}, ("SOCKS is not supported", "alice:***@")),
    ([], {"HEADROOM_UPSTREAM_PROXY": "http://alice:hunter2@corp:99999"}, ("port", "alice:***@")),
    ([], {"HTTPS_PROXY": "ftp://alice:hunter2@corp"}, ("HTTPS_PROXY:", "HEADROOM_UPSTREAM_PROXY=none")),
    ([], {"HEADROOM_UPSTREAM_PROXY": "socks5://alice:hunter2@corp:1080"}, ("SOCKS is not supported",)),
    (["--upstream-proxy", "http://headroom:0123456789abcdef@127.0.0.1:8787"], {}, ("a headroom proxy",)),
])
def test_an_unusable_upstream_proxy_is_one_line_without_its_password(args, env, needles):
    r = runner.invoke(app, ["proxy", *args], env={"HTTPS_PROXY": "", "https_proxy": "", "ALL_PROXY": "",
                                                  "all_proxy": "", **env})
    _one_line_error(r, *needles)
    assert "hunter2" not in r.output


def test_a_wrapped_shells_https_proxy_is_not_taken_for_the_users_own():
    from headroom.proxyinfo import upstream_proxy_for

    # wrap's own URL (its session credential), and this very proxy's port: never chained to.
    assert upstream_proxy_for({"HTTPS_PROXY": "http://headroom:0123456789abcdef@127.0.0.1:8787"}, None, 8787) is None
    assert upstream_proxy_for({"https_proxy": "http://127.0.0.1:8787"}, None, 8787) is None
    got = upstream_proxy_for({"HTTPS_PROXY": "http://u:p@corp:3128", "NO_PROXY": ".internal"}, None, 8787)
    assert got.masked == "http://u:***@corp:3128" and got.no_proxy == (".internal",)
    assert upstream_proxy_for({"HTTPS_PROXY": "http://corp:3128"}, "none", 8787) is None  # explicit wins
    assert upstream_proxy_for({}, "corp2:8080", 8787).spec == "http://corp2:8080"
    # ALL_PROXY=socks5://... is common: passed over (the proxy warns at start), HTTPS_PROXY still found.
    assert upstream_proxy_for({"ALL_PROXY": "socks5://s:1080"}, None, 8787) is None
    assert upstream_proxy_for({"ALL_PROXY": "socks5://s:1080", "HTTPS_PROXY": "http://corp:3128"}, None, 8787).host == "corp"


def test_a_host_the_ca_does_not_permit_is_one_line_naming_the_fix(start_proxy, headroom_home):
    import time

    from headroom.certs.ca import ensure_ca

    ensure_ca()  # made before the host was added: its name constraints do not name it
    p = start_proxy("--extra-host", "llm.corp.example")
    deadline = time.monotonic() + 10  # the line is logged before the start line; bounded anyway
    while "does not permit" not in p.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    (line,) = [ln for ln in p.stderr_text().splitlines() if "does not permit" in ln]
    assert "llm.corp.example" in line and "certs rotate" in line and "certs install" in line
    fresh = start_proxy("--extra-host", "llm.corp.example", home=headroom_home / "other")  # a new CA names it
    assert "does not permit" not in fresh.stderr_text()
