"""The command fix lines name: `headroom` when the shell finds this installation by that name, else the path
of this installation's executable (the README's install leaves .venv/bin off PATH), else `python -m headroom`.
Real executables in real folders; only PATH and argv[0] change."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from headroom import command as c


@pytest.fixture
def venv_bin(tmp_path, monkeypatch):
    """A bin folder holding a `headroom` executable and this interpreter's name, as a venv's has."""
    bindir = tmp_path / "my venv" / "bin"
    bindir.mkdir(parents=True)
    exe = bindir / "headroom"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    monkeypatch.setattr(sys, "argv", [str(exe), "doctor"])
    return bindir


def test_not_on_path_names_the_executable_being_run(venv_bin, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    got = c.command("certs rotate", path=str(empty))
    assert got == f"'{venv_bin / 'headroom'}' certs rotate"  # quoted: the folder has a space


def test_on_path_it_is_plain_headroom(venv_bin):
    assert c.command("certs rotate", path=str(venv_bin)) == "headroom certs rotate"
    assert c.command(path=str(venv_bin)) == "headroom"


def test_another_headroom_on_path_is_not_taken_for_this_one(venv_bin, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "headroom").write_text("#!/bin/sh\n")
    (other / "headroom").chmod(0o755)
    assert c.command("perf", path=str(other)) == f"'{venv_bin / 'headroom'}' perf"


def test_python_dash_m_finds_the_executable_beside_the_interpreter(venv_bin, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(Path(c.__file__).parent / "__main__.py"), "doctor"])
    assert c.command("wrap", path=str(tmp_path)) == f"'{venv_bin / 'headroom'}' wrap"


def test_without_any_executable_it_is_python_dash_m(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    monkeypatch.setattr(sys, "argv", ["-c"])
    assert c.command("doctor", path=str(tmp_path)) == f"{tmp_path / 'python3'} -m headroom doctor"


def test_a_real_fix_line_names_what_runs(tmp_path):
    """`headroom doctor` run by path with no CA: its fix line names that path, and the line runs."""
    exe = Path(sys.executable).parent / "headroom"
    if not exe.is_file():
        pytest.skip("no headroom executable beside this interpreter (not an installed venv)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADROOM_")}
    env.update({"HEADROOM_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})  # .venv/bin not on it
    r = subprocess.run([str(exe), "doctor", "--port", "1", "--json"], capture_output=True, text=True, env=env,
                       timeout=120)
    fixes = [ch["fix"] for ch in json.loads(r.stdout)["checks"] if ch["name"] == "ca"]
    assert fixes == [f"run `{shlex.quote(str(exe))} certs init` (or start the proxy once: it creates one)"], fixes
    init = subprocess.run([str(exe), "certs", "init"], capture_output=True, text=True, env=env, timeout=120)
    assert init.returncode == 0, init.stderr
