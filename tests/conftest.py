"""Shared fixtures: every test gets its own headroom home, so nothing touches the user's ~/.headroom."""
from __future__ import annotations

import pytest

# The fake LLM upstream and the real-proxy fixtures (tests/support/*.py docstrings say how to use them).
pytest_plugins = ["tests.support.fake_upstream", "tests.support.proxy"]


@pytest.fixture(autouse=True)
def headroom_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("headroom-home")
    monkeypatch.setenv("HEADROOM_HOME", str(home))
    return home
