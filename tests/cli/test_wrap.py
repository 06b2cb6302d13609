"""`headroom wrap` without a network: usage errors, the pieces of the lease and exit-code logic.
(The real thing, with a proxy and clients, is tests/e2e/test_wrap.py.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from headroom.cli import wrap as w
from headroom.cli.main import app

runner = CliRunner()


def test_no_command_is_a_usage_error():
    r = runner.invoke(app, ["wrap"])
    assert r.exit_code == 2 and "no command given" in r.output and "usage: headroom wrap" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_bad_port_is_a_usage_error():
    r = runner.invoke(app, ["wrap", "--port", "70000", "--", "true"])
    assert r.exit_code == 2 and "not a TCP port" in r.output


def test_unknown_command_says_how_to_install_known_agents(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    r = runner.invoke(app, ["wrap", "claude", "-p", "hi"])
    assert r.exit_code == 127
    assert "claude: command not found" in r.output and "npm install -g @anthropic-ai/claude-code" in r.output


def test_options_after_the_command_belong_to_the_command():
    # `--help` and `--port` after CMD are CMD's (allow_interspersed_args=False), not wrap's.
    r = subprocess.run([sys.executable, "-m", "headroom", "wrap", "no-such-cmd-xyz", "--help", "--port", "1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 127 and "no-such-cmd-xyz: command not found" in r.stderr


def test_help_smoke():
    r = subprocess.run([sys.executable, "-m", "headroom", "wrap", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--keep" in r.stdout


def test_settings_diff():
    assert w.settings_diff({"HEADROOM_COMPRESS": "0"}, {}) == ["HEADROOM_COMPRESS: 0 here, unset in the proxy"]
    assert w.settings_diff({"HEADROOM_A": "1"}, {"HEADROOM_A": "1"}) == []
    assert w.settings_diff({"HEADROOM_A": ""}, {}) == []  # empty and unset are the same setting
    # The home is compared as a resolved path (unset here may well be the proxy's explicit default).
    assert w.settings_diff({}, {"HEADROOM_HOME": "/root/.headroom"}) == []


def test_child_exit_code():
    assert w.child_exit_code(0) == 0
    assert w.child_exit_code(3) == 3
    assert w.child_exit_code(-15) == 143
    assert w.child_exit_code(-2) == 130


def test_stale_leases_are_dropped(headroom_home):
    leases = headroom_home / "run" / "proxy-1234.leases"
    leases.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (leases / f"{dead.pid}.json").write_text(json.dumps({"pid": dead.pid}))
    (leases / "garbage.json").write_text("{not json")
    import os

    (leases / f"{os.getpid()}.json").write_text(json.dumps({"pid": os.getpid(), "token": w._start_token(os.getpid())}))
    assert w.live_leases(headroom_home, 1234) == [os.getpid()]
    assert sorted(p.name for p in leases.iterdir()) == [f"{os.getpid()}.json"]


def test_reused_pid_is_not_a_live_lease(headroom_home):
    import os

    leases = headroom_home / "run" / "proxy-1235.leases"
    leases.mkdir(parents=True)
    # Same pid, different start time: the wrap that wrote it is gone and the pid was reused.
    (leases / "x.json").write_text(json.dumps({"pid": os.getpid(), "token": "1"}))
    expected = [] if w._start_token(os.getpid()) is not None else [os.getpid()]
    assert w.live_leases(headroom_home, 1235) == expected


def test_unwritable_home_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("HEADROOM_HOME", str(blocker / "home"))  # cannot be created, even by root
    r = runner.invoke(app, ["wrap", "--", sys.executable, "-c", "pass"])
    assert r.exit_code == 1 and "set HEADROOM_HOME to a writable folder" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_start_failure_quotes_only_this_start_of_the_log(tmp_path):
    # The proxy log is appended to across starts: an earlier start's error must not be quoted as this one's.
    log = tmp_path / "proxy-8787.log"
    log.write_text("\n--- started by headroom wrap (pid 1) at Mon\nheadroom proxy: OLD problem\n"
                   "\n--- started by headroom wrap (pid 2) at Tue\nheadroom proxy: NEW problem\n")
    assert w._tail(log) == "headroom proxy: NEW problem"
    log.write_text("\n--- started by headroom wrap (pid 3) at Wed\n")
    assert w._tail(log) == "it printed nothing"


def test_start_failure_says_why_in_one_line(tmp_path, monkeypatch):
    # A real start: the proxy refuses a misread variable and wrap relays its line (not the log header).
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    monkeypatch.setenv("HEADROOM_LEDGER", "sometimes")
    r = subprocess.run([sys.executable, "-m", "headroom", "wrap", "--port", "1", "--", "true"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "HEADROOM_LEDGER='sometimes'" in lines[0] and "--- started" not in lines[0]


def test_a_running_proxy_is_reused_only_if_it_chains_as_this_shell_would():
    from headroom.core.proxychain import parse_upstream_proxy

    corp = parse_upstream_proxy("http://alice:hunter2@corp:3128", ".internal")
    info = {"pid": 42, "upstream_proxy": corp.describe()}
    assert w.chain_mismatch(corp, info, 8787) is None
    assert w.chain_mismatch(None, {"pid": 42, "upstream_proxy": None}, 8787) is None
    assert w.chain_mismatch(None, {"pid": 42}, 8787) is None  # an older proxy: it connects directly
    line = w.chain_mismatch(None, info, 8787)
    assert "chains to http://alice:***@corp:3128 (NO_PROXY .internal), this shell connects directly" in line
    assert "kill 42" in line and "hunter2" not in line
    other = parse_upstream_proxy("http://alice:hunter2@corp:3128", ".other")
    assert "NO_PROXY .other" in w.chain_mismatch(other, info, 8787)


def test_the_proxy_wrap_starts_gets_the_chain_in_its_environment_not_its_command_line(monkeypatch, tmp_path):
    from headroom.core.proxychain import parse_upstream_proxy

    seen = {}

    class Stop(Exception):
        pass

    def fake_popen(cmd, **kw):
        seen["cmd"], seen["env"] = cmd, kw["env"]
        raise Stop

    monkeypatch.setattr(w.subprocess, "Popen", fake_popen)
    chain = parse_upstream_proxy("http://alice:hunter2@corp:3128")
    try:
        w._start_proxy(tmp_path, 8799, 1.0, chain)
    except Stop:
        pass
    assert seen["env"]["HEADROOM_UPSTREAM_PROXY"] == "http://alice:hunter2@corp:3128"
    assert not any("hunter2" in part for part in seen["cmd"])
    try:
        w._start_proxy(tmp_path, 8799, 1.0, None)
    except Stop:
        pass
    assert seen["env"]["HEADROOM_UPSTREAM_PROXY"] == "none"  # the shell's HTTPS_PROXY was decided here already
