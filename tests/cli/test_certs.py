"""`headroom certs`: what a user sees for each sub-command, and one-line errors for misuse."""
from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from headroom.cli.main import app

runner = CliRunner()


def test_init_then_path(headroom_home):
    r = runner.invoke(app, ["certs", "init"])
    assert r.exit_code == 0 and "created CA" in r.output and "sha256" in r.output
    r2 = runner.invoke(app, ["certs", "init"])
    assert r2.exit_code == 0 and "already present" in r2.output
    r3 = runner.invoke(app, ["certs", "path"])
    assert r3.output.strip() == str(headroom_home / "ca" / "mitmproxy-ca-cert.pem")


def test_env_for_each_shell(headroom_home):
    bash = runner.invoke(app, ["certs", "env", "--shell", "bash", "--port", "9123"])
    assert bash.exit_code == 0
    assert "export HTTPS_PROXY=http://127.0.0.1:9123" in bash.output
    assert "export NODE_USE_ENV_PROXY=1" in bash.output
    fish = runner.invoke(app, ["certs", "env", "--shell", "fish", "--port", "9123"])
    assert "set -gx https_proxy http://127.0.0.1:9123" in fish.output
    ps = runner.invoke(app, ["certs", "env", "--shell", "powershell", "--port", "9123"])
    assert "$env:HTTP_PROXY = 'http://127.0.0.1:9123'" in ps.output


def test_env_lines_work_in_bash(headroom_home):
    out = subprocess.run(
        ["bash", "-c", f'eval "$({sys.executable} -m headroom certs env --shell bash --port 9124)"; '
                       'echo "$HTTPS_PROXY|$NO_PROXY"; head -c 27 "$SSL_CERT_FILE"'],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("http://127.0.0.1:9124|") and "127.0.0.1" in out.stdout
    assert "-----BEGIN CERTIFICATE-----" in out.stdout


def test_bundle_writes_roots_plus_ca(headroom_home, tmp_path):
    dest = tmp_path / "b.pem"
    r = runner.invoke(app, ["certs", "bundle", "--out", str(dest)])
    assert r.exit_code == 0
    ca = (headroom_home / "ca" / "mitmproxy-ca-cert.pem").read_text().strip()
    assert ca in dest.read_text() and dest.read_text().count("BEGIN CERTIFICATE") > 1


def test_install_dry_run_prints_commands(headroom_home):
    r = runner.invoke(app, ["certs", "install", "--dry-run", "--platform", "debian"])
    assert r.exit_code == 0
    assert "update-ca-certificates" in r.output and "mitmproxy-ca-cert.pem" in r.output
    r = runner.invoke(app, ["certs", "uninstall", "--dry-run", "--platform", "windows"])
    assert r.exit_code == 0 and "certutil -user -delstore Root" in r.output


def test_rotate_needs_confirmation(headroom_home, monkeypatch):
    from headroom.cli import certs

    runner.invoke(app, ["certs", "init"])
    before = (headroom_home / "ca" / "mitmproxy-ca-cert.pem").read_bytes()
    r = runner.invoke(app, ["certs", "rotate"])  # no terminal: no prompt that would read EOF
    assert r.exit_code == 2 and "pass --yes" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    monkeypatch.setattr(certs, "_interactive", lambda: True)
    r = runner.invoke(app, ["certs", "rotate"], input="n\n")
    assert r.exit_code == 1 and "the CA is unchanged" in r.stderr
    assert (headroom_home / "ca" / "mitmproxy-ca-cert.pem").read_bytes() == before
    r = runner.invoke(app, ["certs", "rotate", "--yes"])
    assert r.exit_code == 0 and "retired" in r.output
    assert (headroom_home / "ca" / "mitmproxy-ca-cert.pem").read_bytes() != before


def test_misuse_is_one_line(headroom_home, tmp_path, monkeypatch):
    r = runner.invoke(app, ["certs", "env", "--shell", "tcsh"])
    assert r.exit_code == 2 and "unknown shell" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["certs", "install", "--dry-run", "--platform", "solaris"])
    assert r.exit_code == 2 and "unknown platform 'solaris'" in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("HEADROOM_HOME", str(blocker / "home"))  # not creatable, even for root
    r = runner.invoke(app, ["certs", "init"])
    assert r.exit_code == 1 and "HEADROOM_HOME" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_damaged_key_is_one_line(headroom_home):
    runner.invoke(app, ["certs", "init"])
    (headroom_home / "ca" / "mitmproxy-ca.pem").write_bytes(b"junk")
    r = runner.invoke(app, ["certs", "init"])
    assert r.exit_code == 1 and "headroom certs rotate" in r.output
