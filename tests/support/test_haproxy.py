"""tests/support/haproxy.py: the team tests run deploy/haproxy.cfg itself (only its addresses swapped for
loopback ones), and a missing haproxy skips them on a developer's machine but fails them in CI."""
from __future__ import annotations

import pytest

from tests.support import haproxy
from tests.support.haproxy import DEPLOY_CONFIG, loopback_config

SHIPPED = DEPLOY_CONFIG.read_text()


def test_only_the_bind_and_server_addresses_change():
    tested = loopback_config(SHIPPED, 40000, [40001, 40002])
    shipped_lines, tested_lines = SHIPPED.splitlines(keepends=True), tested.splitlines(keepends=True)
    assert len(shipped_lines) == len(tested_lines)
    changed = [(s, t) for s, t in zip(shipped_lines, tested_lines) if s != t]
    assert changed == [
        ("    bind :8787\n", "    bind 127.0.0.1:40000\n"),
        ("    server headroom-a headroom-a:8787 check\n", "    server headroom-a 127.0.0.1:40001 check\n"),
        ("    server headroom-b headroom-b:8787 check\n", "    server headroom-b 127.0.0.1:40002 check\n"),
    ]


@pytest.mark.parametrize("edit", [
    lambda cfg: cfg + "    server headroom-c headroom-c:8787 check\n",  # a third replica the tests do not run
    lambda cfg: cfg.replace("    bind :8787\n", "    bind :8787\n    bind :8788\n"),
])
def test_a_cfg_that_is_no_longer_the_tested_topology_is_refused(edit):
    with pytest.raises(ValueError, match="expected 1 bind and 2 server lines"):
        loopback_config(edit(SHIPPED), 40000, [40001, 40002])


def test_a_missing_haproxy_skips_outside_ci_and_fails_in_ci(tmp_path, monkeypatch):
    empty = str(tmp_path)  # no haproxy on this search path
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"haproxy is not installed: apt-get install haproxy"):
        haproxy.haproxy_exe(empty)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"fail rather than skip without it in CI"):
        haproxy.haproxy_exe(empty)
    monkeypatch.undo()
    assert haproxy.haproxy_exe().endswith("/haproxy")  # found on the real PATH or in /usr/sbin, as in CI
