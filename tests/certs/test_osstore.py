"""OS trust store plans: the exact commands per platform (run only on request, printed with --dry-run)."""
from __future__ import annotations

import pytest

from headroom.certs import osstore
from headroom.certs.ca import ensure_ca


@pytest.mark.parametrize("platform,first,last", [
    ("debian", "/usr/local/share/ca-certificates/headroom-ca.crt", "update-ca-certificates"),
    ("fedora", "/etc/pki/ca-trust/source/anchors/headroom-ca.pem", "extract"),
    ("macos", "add-trusted-cert", None),
    ("windows", "-addstore", None),
])
def test_install_plans(headroom_home, platform, first, last):
    cert = ensure_ca().cert
    plan = osstore.install_plan(cert, platform)
    flat = [a for cmd in plan.commands for a in cmd]
    assert first in flat and str(cert) in flat
    if last:
        assert plan.commands[-1][-1] == last


@pytest.mark.parametrize("platform", osstore.PLATFORMS)
def test_uninstall_plans_target_this_ca(headroom_home, platform):
    cert = ensure_ca().cert
    plan = osstore.uninstall_plan(cert, platform)
    flat = " ".join(a for cmd in plan.commands for a in cmd)
    if platform in ("macos", "windows"):
        assert osstore._sha1(cert) in flat  # by fingerprint: never another certificate with our name
    else:
        assert "headroom-ca" in flat


def test_unknown_platform(headroom_home):
    with pytest.raises(osstore.OSStoreError, match="debian"):
        osstore.install_plan(ensure_ca().cert, "beos")
