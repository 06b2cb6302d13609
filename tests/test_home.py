"""home.py: where Headroom keeps its files, and that it creates them for the user only."""
from __future__ import annotations

import stat
from pathlib import Path

from headroom import home


def test_the_home_is_headroom_home_or_dot_headroom_and_is_created_user_only(tmp_path, monkeypatch):
    monkeypatch.delenv("HEADROOM_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert home.home() == Path(tmp_path / "user" / ".headroom")
    target = tmp_path / "elsewhere" / "hr"
    monkeypatch.setenv("HEADROOM_HOME", str(target))
    assert home.home() == target and not target.exists()  # home() never creates it
    made = home.ensure_home()
    assert made == target and target.is_dir()
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert home.ensure_home() == target  # again: no error


def test_a_home_left_open_to_others_is_made_user_only(tmp_path, monkeypatch):
    """Issue 15 item 15: a home kept at 0755 although the docs say 0700."""
    import os

    target = tmp_path / "hr"
    target.mkdir()
    os.chmod(target, 0o755)
    monkeypatch.setenv("HEADROOM_HOME", str(target))
    home.ensure_home()
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
