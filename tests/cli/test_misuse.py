"""Misuse of any command is ONE line on stderr naming the command and what to do, never a typer panel
or a traceback (tests/cli/test_misuse.py: what a new user trips on first)."""
from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from headroom.cli.main import app

runner = CliRunner()


def _one_line_error(r, prefix: str) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(prefix), lines[0]
    assert "╭" not in r.stderr and "Traceback" not in r.stderr
    return lines[0]


def test_wrap_usage_line_shows_the_command_it_needs():
    r = runner.invoke(app, ["wrap", "--help"])
    assert r.exit_code == 0
    assert "headroom wrap [OPTIONS] [--] CMD [ARGS]..." in r.output


def test_bad_int_option_value_is_one_line():
    r = runner.invoke(app, ["wrap", "--port", "abc", "--", "true"])
    assert r.exit_code == 2
    line = _one_line_error(r, "headroom wrap: ")
    assert "--port" in line and "headroom wrap --help" in line


def test_bad_boolean_env_var_is_one_line(monkeypatch):
    monkeypatch.setenv("HEADROOM_COMPRESS", "maybe")
    r = runner.invoke(app, ["proxy", "--port", "0"])
    assert r.exit_code == 2
    assert "HEADROOM_COMPRESS" in _one_line_error(r, "headroom proxy: ")


def test_missing_argument_and_bad_choice_are_one_line():
    r = runner.invoke(app, ["retrieve"])
    assert r.exit_code == 2 and "KEY" in _one_line_error(r, "headroom retrieve: ").upper()
    r = runner.invoke(app, ["perf", "--format", "xml"])
    assert r.exit_code == 2 and "xml" in _one_line_error(r, "headroom perf: ")


def test_unknown_command_is_one_line():
    r = runner.invoke(app, ["nope"])
    assert r.exit_code == 2 and "nope" in _one_line_error(r, "headroom: ")


def test_bare_headroom_shows_help_and_nothing_else():
    r = runner.invoke(app, [])
    assert "Commands" in r.output and "; see" not in r.stderr


def test_wrap_unknown_option_is_named_as_an_option():
    r = runner.invoke(app, ["wrap", "--bogus"])
    assert r.exit_code == 2
    line = _one_line_error(r, "headroom wrap: ")
    assert "no such option --bogus" in line and "command not found" not in line


def test_retrieve_malformed_key_says_it_is_not_a_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    r = runner.invoke(app, ["retrieve", "nothex!"])
    assert r.exit_code == 2
    line = _one_line_error(r, "headroom retrieve: ")
    assert "'nothex!' is not a headroom key" in line and "no key given" not in line


def test_home_that_is_a_file_is_one_line_not_a_traceback(tmp_path):
    # A real process: the point is what the user's terminal shows, tracebacks included.
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"HEADROOM_HOME": str(blocker / "home"), "PATH": "/usr/bin:/bin"}
    rows = "\n".join(json.dumps({"id": i, "name": f"user{i}", "active": i % 3 == 0}) for i in range(300))
    body = json.dumps({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "which users are active?"},
        {"role": "tool", "tool_call_id": "a", "content": rows}]})
    r = subprocess.run([sys.executable, "-m", "headroom", "compress", "-q", "-"], input=body, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "HEADROOM_HOME" in lines[0]


def test_wrap_help_text_is_not_broken_mid_sentence(monkeypatch):
    # Rich keeps a docstring's hard line breaks: a wide terminal must show the sentence on one line.
    r = runner.invoke(app, ["wrap", "--help"])
    assert "CMD gets HTTPS_PROXY and the CA variables" in r.output


def test_option_without_its_value_names_the_subcommand():
    r = runner.invoke(app, ["perf", "--since"])
    assert r.exit_code == 2 and "--since" in _one_line_error(r, "headroom perf: ")
    r = runner.invoke(app, ["certs", "env", "--shell"])
    assert r.exit_code == 2 and "headroom certs env --help" in _one_line_error(r, "headroom certs env: ")


def test_help_shows_flags_as_flags_and_commands_uncut():
    # A flag labelled `<bool>` reads as taking a value: `headroom wrap --keep true` would run `true`.
    r = runner.invoke(app, ["wrap", "--help"])
    keep = next(line for line in r.output.splitlines() if line.strip().startswith("--keep"))
    assert "<bool>" not in keep and "<bool>" not in r.output
    # The command list keeps each summary whole (the seed's "proxy must be running" included).
    r = runner.invoke(app, ["--help"])
    assert "(proxy must\n" in r.output or "(proxy must be running)" in " ".join(r.output.split())
    assert not any(line.endswith("...") for line in r.output.split("Commands:")[1].splitlines())
    r = runner.invoke(app, ["certs", "env", "--help"])
    assert 'eval "$(headroom certs env)"\n' in r.output  # shell examples keep their lines


def test_wrap_refuses_a_setting_the_proxy_would_misread_in_one_line(monkeypatch):
    # Also when a running proxy would be reused (it never reads this shell's variables): wrap checks them itself.
    monkeypatch.setenv("HEADROOM_OUTPUT_HOLDOUT", "10%")
    r = runner.invoke(app, ["wrap", "--", "true"])
    assert r.exit_code == 2
    assert "HEADROOM_OUTPUT_HOLDOUT must be a number from 0 to 1" in _one_line_error(r, "headroom wrap: ")


def test_perf_session_must_be_a_session_id():
    r = runner.invoke(app, ["perf", "--session", "my laptop"])
    assert r.exit_code == 2 and "--session 'my laptop'" in _one_line_error(r, "headroom perf: ")
