"""mypy passes over the package, strictly over core, relay and settings, as pyproject.toml's [tool.mypy] says."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = "\n\ndef _untyped_probe(x):\n    return x\n"


def _mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_mypy_passes():
    out = _mypy()
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("module,strict", [
    ("headroom/core/tokens.py", True), ("headroom/relay/upstream.py", True), ("headroom/settings.py", True),
    ("headroom/cli/main.py", False),
])
def test_strict_where_the_config_says(tmp_path, module, strict):
    # The module with an unannotated function appended, checked in its place (mypy's --shadow-file).
    shadow = tmp_path / Path(module).name
    shadow.write_text((ROOT / module).read_text() + PROBE)
    out = _mypy("--shadow-file", module, str(shadow), "--cache-dir", str(tmp_path / "cache"), module)
    if strict:
        assert out.returncode == 1 and "no-untyped-def" in out.stdout, out.stdout + out.stderr
    else:
        assert out.returncode == 0, out.stdout + out.stderr
