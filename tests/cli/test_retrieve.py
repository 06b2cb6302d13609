"""`headroom retrieve`: prints the exact original; one-line errors for unknown keys and bad options."""
from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from headroom.cli.main import app
from headroom.core.markers import key_for, make_marker
from headroom.storage.store import open_store

ORIGINAL = "".join(f"line {i}{' ERROR' if i % 5 == 0 else ''}\n" for i in range(1, 21)) + "no newline at end"
KEY = key_for(ORIGINAL)


def stored():
    s = open_store()
    s.put_many({KEY: ORIGINAL})
    s.close()


def run(*args):
    return CliRunner().invoke(app, ["retrieve", *args])


def test_prints_the_exact_original():
    stored()
    r = run(KEY)
    assert r.exit_code == 0 and r.stdout == ORIGINAL


def test_accepts_a_whole_marker_and_uppercase():
    stored()
    marker, _ = make_marker("20 lines omitted", ORIGINAL)
    assert run(marker).stdout == ORIGINAL
    assert run(KEY.upper()).stdout == ORIGINAL


def test_grep_and_lines():
    stored()
    assert run(KEY, "--lines", "2-3").stdout == "line 2\nline 3\n"
    assert run(KEY, "--grep", "ERROR", "--lines", "1-10").stdout == "5: line 5 ERROR\n10: line 10 ERROR\n"


def test_unknown_key_is_one_line_exit_1():
    r = run("0123456789abcdef")
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "nothing is stored under key 0123456789abcdef" in r.stderr


def test_misuse_is_one_line_exit_2():
    r = run("not-a-key")
    assert r.exit_code == 2 and r.stderr.startswith("headroom retrieve: 'not-a-key' is not a headroom key")
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("")
    assert r.exit_code == 2 and r.stderr.startswith("headroom retrieve: no key given")
    stored()
    r = run(KEY, "--lines", "ten")
    assert r.exit_code == 2 and "--lines" in r.stderr


def test_no_match_for_grep_is_exit_1():
    stored()
    r = run(KEY, "--grep", "panic")
    assert r.exit_code == 1 and "no line" in r.stderr


def test_subprocess_prints_original(headroom_home):
    stored()
    p = subprocess.run([sys.executable, "-m", "headroom", "retrieve", KEY], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == ORIGINAL
