"""What the real-agent tests share: installing an agent once under <repo>/.cache, and reading back what a
marker dropped from the store.

An install that cannot reach its registry skips on a developer's machine and fails in CI (CI=true), where
the install must work; any other install failure fails.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from headroom.core.markers import MARKER_RE

__all__ = ["CACHE", "dropped_text", "ensure_cache", "npm_install", "unavailable"]

CACHE = Path(__file__).resolve().parents[2] / ".cache"
NPM_NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "network")


def unavailable(message: str) -> None:
    """No registry: skip on a developer's machine, fail in CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def ensure_cache() -> Path:
    """<repo>/.cache, created git-ignored."""
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return CACHE


def npm_install(prefix: Path, package: str, binary: Path, *, timeout: float) -> Path:
    """`npm install package` into `prefix` unless `binary` is there already; the binary's path."""
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if not npm:
        unavailable(f"npm is not installed: cannot install {package}")
    ensure_cache()
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                            package], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        unavailable(f"npm install {package} took over {timeout:.0f} s (is the npm registry reachable?)")
    if r.returncode != 0 or not binary.exists():
        if any(e in r.stderr for e in NPM_NETWORK_ERRORS):
            unavailable(f"the npm registry is unreachable: {r.stderr.strip()[-200:]}")
        pytest.fail(f"npm install {package} failed: {r.stderr.strip()[-500:]}")
    return binary


def dropped_text(home: Path, text: str) -> str:
    """Everything the markers in `text` stand for, from the store under `home` ('' for an unknown key)."""
    from headroom.storage.store import open_store

    store = open_store(home)
    try:
        return "".join(store.get(m.group("key")) or "" for m in MARKER_RE.finditer(text))
    finally:
        store.close()
