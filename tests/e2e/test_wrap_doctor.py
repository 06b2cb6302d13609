"""`headroom doctor` against a real proxy: everything passes inside `headroom wrap` (routed to the fake
upstream); a plain shell with the proxy running is told it is not routed; JSON for scripts."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from headroom.command import command
from tests.e2e.test_wrap import WRAP_TIMEOUT, free_port, headroom, wrap_env

pytestmark = pytest.mark.e2e


def test_doctor_all_pass_inside_wrap(fake_upstream):
    r = subprocess.run(headroom("wrap", "--port", str(free_port()), "--quiet", "--", sys.executable, "-m",
                                "headroom", "doctor", "--json"),
                       env=wrap_env(fake_upstream), capture_output=True, text=True, timeout=WRAP_TIMEOUT)
    report = json.loads(r.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert r.returncode == 0 and report["exit_code"] == 0, json.dumps(report, indent=1)
    for name in ("ca", "ca key", "ca strict", "proxy", "routing", "session", "probe python", "engine", "upstream",
                 "store"):
        assert by_name[name]["status"] == "pass", by_name[name]
    assert "this shell is session " in by_name["session"]["summary"]  # its wrap's, registered with the proxy
    # The probe really went through the proxy: the fake upstream saw nothing of it, yet upstream was
    # reached on the routed address with the proxy's own trust.
    assert "routed" in by_name["upstream"]["summary"]
    assert not [rec for rec in fake_upstream.requests if "__headroom" in rec.path]


def test_doctor_table_in_a_plain_shell_with_a_proxy(proxy):
    env = proxy.env()
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(var)
    r = subprocess.run(headroom("doctor", "--port", str(proxy.port)), env=env, capture_output=True, text=True,
                       timeout=WRAP_TIMEOUT)
    assert r.returncode == 1, r.stdout  # a warning: this shell is not routed, the rest is fine
    assert "this shell is not routed" in r.stdout
    assert f'eval "$({command("certs env")}' in r.stdout  # runnable here, where .venv/bin is not on PATH
    assert "probe python" in r.stdout and "FAIL" not in r.stdout
