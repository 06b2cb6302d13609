"""aider (PyPI `aider-chat`, litellm -> openai SDK -> httpx) under `headroom wrap`, with a dummy key, talking
to the fake upstream (api.openai.com routed to it): it prints the fake's streamed answer, and its chat
completion request went through the proxy (decrypted as api.openai.com, trusted via SSL_CERT_FILE).

aider is installed the way a user's pipx would: its own venv, here <repo>/.cache/e2e-aider (git-ignored,
reused across runs). Offline, an install that cannot reach PyPI skips locally and fails in CI (CI=true).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.agents import CACHE, ensure_cache, unavailable

from tests.e2e.test_wrap import free_port, headroom, wrap_env
from tests.support.fake_upstream import Reply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VENV = CACHE / "e2e-aider"
AIDER = VENV / "bin" / "aider"
PACKAGE = "aider-chat==0.86.*"  # pinned to a minor series: a new aider must not change CI without a look
INSTALL_TIMEOUT = 900  # seconds; ~120 wheels, about a minute on a normal link
RUN_TIMEOUT = 120
_NETWORK_ERRORS = ("NewConnectionError", "Temporary failure in name resolution", "Name or service not known",
                   "ConnectTimeout", "Connection refused", "No matching distribution found",
                   "Could not find a version that satisfies")
# What a user behind a firewall passes (docs/wrap.md): no update check, no model-metadata warnings,
# no analytics, no release notes; plain output so the answer is easy to find.
AIDER_FLAGS = ("--yes-always", "--no-git", "--no-check-update", "--no-show-model-warnings", "--analytics-disable",
               "--no-show-release-notes", "--no-pretty", "--no-fancy-input")


@pytest.fixture(scope="session")
def aider_cli() -> Path:
    if AIDER.exists():
        return AIDER
    ensure_cache()
    base = getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable
    subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True, timeout=120)
    try:
        r = subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            PACKAGE], capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        shutil.rmtree(VENV, ignore_errors=True)
        unavailable(f"pip install {PACKAGE} took over {INSTALL_TIMEOUT} s (is PyPI reachable?)")
    if r.returncode != 0 or not AIDER.exists():
        shutil.rmtree(VENV, ignore_errors=True)  # a half-made venv must not pass for an install next run
        if any(e in r.stderr for e in _NETWORK_ERRORS):
            unavailable(f"PyPI is unreachable: {r.stderr.strip()[-300:]}")
        pytest.fail(f"pip install {PACKAGE} failed: {r.stderr.strip()[-500:]}")
    return AIDER


def test_aider_under_wrap(aider_cli, fake_upstream, tmp_path):
    fake_upstream.queue(Reply.text("PONG from the fake upstream, via aider"))
    user_home = tmp_path / "user"
    user_home.mkdir()
    work = tmp_path / "project"
    work.mkdir()
    env = wrap_env(fake_upstream, OPENAI_API_KEY="sk-dummy-aider-key", HOME=str(user_home))
    for var in list(env):  # nothing of the developer's aider or OpenAI settings
        if var.startswith(("AIDER_", "OPENAI_BASE", "OPENAI_API_BASE", "LITELLM_")):
            del env[var]
    r = subprocess.run(
        headroom("wrap", "--port", str(free_port()), "--", str(aider_cli), "--model", "gpt-4o",
                 "--message", "Say pong.", *AIDER_FLAGS),
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=work, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PONG from the fake upstream, via aider" in r.stdout, r.stdout + r.stderr

    chats = [rec for rec in fake_upstream.requests if rec.route == "/v1/chat/completions"]
    assert len(chats) == 1, [rec.path for rec in fake_upstream.requests]
    (chat,) = chats
    assert chat.tls_server_name == "api.openai.com"  # decrypted by the proxy, re-encrypted to the routed upstream
    assert chat.headers.get("authorization") == "Bearer sk-dummy-aider-key"
    assert chat.json["model"] == "gpt-4o" and chat.json["stream"] is True
    assert any("Say pong." in str(m.get("content")) for m in chat.json["messages"] if m.get("role") == "user")
    assert not any(h.startswith("x-headroom") for h in chat.headers)
