"""TlsPolicy's option follows HEADROOM_TLS_STRICT, and a recorded strict failure becomes an answer naming the fix.
(The real handshakes are in tests/e2e/test_tls_strict.py.)"""
from __future__ import annotations

import json

import pytest
from mitmproxy.test import taddons, tflow

from headroom.addon.tlspolicy import TlsPolicy
from headroom.certs.trust import is_strict_only_error, tls_strict_enabled


@pytest.mark.parametrize("value,expected", [("", True), ("1", True), ("0", False), ("false", False),
                                            ("OFF", False), ("no", False), ("yes", True)])
def test_strict_env(monkeypatch, value, expected):
    from headroom.settings import Settings

    monkeypatch.setenv("HEADROOM_TLS_STRICT", value)
    assert tls_strict_enabled() is expected  # the CLI's own connections (doctor)
    p = TlsPolicy()
    with taddons.context(p) as tctx:
        assert tctx.options.headroom_tls_strict is True  # the option's default; the proxy's comes from Settings
        tctx.configure(p, headroom_tls_strict=Settings.from_env({"HEADROOM_TLS_STRICT": value}).tls_strict)
        assert tctx.options.headroom_tls_strict is expected


def test_strict_only_codes():
    assert is_strict_only_error(89)  # Basic Constraints of CA cert not marked critical
    assert is_strict_only_error(85)  # Missing Authority Key Identifier
    assert not is_strict_only_error(10)  # certificate has expired
    assert not is_strict_only_error(62)  # hostname mismatch
    assert not is_strict_only_error(20)  # unable to get local issuer certificate
    assert is_strict_only_error("Basic Constraints of CA cert not marked critical")


def test_request_on_failed_upstream_is_answered_with_the_fix(monkeypatch):
    monkeypatch.delenv("HEADROOM_TLS_STRICT", raising=False)
    p = TlsPolicy()
    with taddons.context(p):
        f = tflow.tflow()
        p._failures[f.server_conn.id] = (89, "upstream x: certificate verify failed: ...; set HEADROOM_TLS_STRICT=0")
        p.request(f)
        assert f.response.status_code == 502
        err = json.loads(f.response.content)["error"]
        assert err["type"] == "upstream_tls_strict" and "HEADROOM_TLS_STRICT=0" in err["message"]
        other = tflow.tflow()
        p.request(other)
        assert other.response is None


def test_leaves_of_a_constrained_ca_carry_only_the_names_it_permits(proxy, fake_upstream):
    """mitmproxy copies the upstream certificate's names into its leaf; the fake's certificate names other hosts
    (and 127.0.0.1) too, which a client would refuse under the CA's name constraints: only permitted ones stay."""
    import socket
    import ssl

    from cryptography import x509

    from headroom.certs.ca import ca_files, load_ca, permitted_domains
    from headroom.core.hosts import permits

    domains = permitted_domains(load_ca(ca_files(proxy.home))[0])
    assert domains
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as raw:
        raw.sendall(b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 200")
        ctx = ssl.create_default_context(cafile=str(proxy.ca_cert))
        with ctx.wrap_socket(raw, server_hostname="api.openai.com") as s:  # verified: name constraints honoured
            leaf = x509.load_der_x509_certificate(s.getpeercert(binary_form=True))
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [str(n.value) for n in sans]
    assert "api.openai.com" in names and all(permits(domains, n) for n in sans.get_values_for_type(x509.DNSName))
    assert sans.get_values_for_type(x509.IPAddress) == []
