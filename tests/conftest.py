"""Shared fixtures: every test gets its own headroom home, so nothing touches the user's ~/.headroom."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def headroom_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("headroom-home")
    monkeypatch.setenv("HEADROOM_HOME", str(home))
    return home
