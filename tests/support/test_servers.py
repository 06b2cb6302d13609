"""The real-server helpers fail, never skip, when what they need is missing: a skipped PostgreSQL test in CI
would pass while testing nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import servers

ROOT = Path(__file__).resolve().parents[2]
# pytest run on a shared-ledger test file with psycopg made unimportable (None in sys.modules: ImportError).
_WITHOUT_PSYCOPG = ("import sys; sys.modules['psycopg'] = None; import pytest; "
                    "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--collect-only', sys.argv[1]]))")


@pytest.mark.parametrize("path", ["tests/storage/test_pg_ledger.py", "tests/cli/test_perf_ledger.py",
                                  "tests/storage/test_team_view.py"])
def test_a_missing_psycopg_fails_the_run_with_the_fix(path):
    r = subprocess.run([sys.executable, "-c", _WITHOUT_PSYCOPG, path], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode not in (0, 5), r.stdout[-2000:]  # 5: nothing collected, which make test also refuses
    assert "psycopg cannot be imported" in r.stdout and "pip install -e '.[test]'" in r.stdout
    assert "skipped" not in r.stdout.lower()


def test_a_missing_postgres_binary_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there, and no Debian layout under tmp_path either
    with pytest.raises(RuntimeError, match=r"initdb is not installed: apt-get install postgresql"):
        servers._pg_bin("initdb", root=tmp_path)
    assert servers._pg_bin("initdb").endswith("/initdb")  # here, as in CI, it is installed
