"""One verification policy for Headroom's own upstream connections (the relay, doctor): exactly the upstream
bundle's roots when there is one, the OS store otherwise, RFC 5280 strict unless turned off. Real TLS servers
on loopback over the shared test PKI."""
from __future__ import annotations

import socket
import ssl

import pytest

from headroom.certs.trust import client_context, is_strict_only_error, upstream_bundle, upstream_context
from tests.certs.pki import TLSServer, make_ca, make_leaf

HOST = "api.openai.com"


def _handshake(ctx: ssl.SSLContext, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST):
            pass


@pytest.fixture
def servers(tmp_path):
    good, sloppy, other = make_ca("good"), make_ca("sloppy", bc_critical=False), make_ca("other")
    made = {name: TLSServer(make_leaf(ca, HOST), tmp_path / name)
            for name, ca in (("good", good), ("sloppy", sloppy), ("other", other))}
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(good.cert_pem() + sloppy.cert_pem())
    yield made, bundle, good
    for s in made.values():
        s.stop()


def test_the_bundle_is_trusted_and_nothing_else(servers):
    made, bundle, _ = servers
    _handshake(upstream_context(bundle, strict=True), made["good"].port)
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        _handshake(upstream_context(bundle, strict=True), made["other"].port)
    assert not is_strict_only_error(e.value.verify_code)  # unknown issuer: no setting makes it pass


def test_strict_refuses_what_only_rfc5280_refuses_and_can_be_turned_off(servers):
    made, bundle, _ = servers
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        _handshake(upstream_context(bundle, strict=True), made["sloppy"].port)
    assert is_strict_only_error(e.value.verify_code)
    _handshake(upstream_context(bundle, strict=False), made["sloppy"].port)


def test_strictness_follows_the_environment_when_not_given(servers, monkeypatch):
    made, bundle, _ = servers
    monkeypatch.setenv("HEADROOM_TLS_STRICT", "0")
    _handshake(upstream_context(bundle), made["sloppy"].port)
    monkeypatch.delenv("HEADROOM_TLS_STRICT")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(upstream_context(bundle), made["sloppy"].port)


def test_without_a_bundle_the_os_store_decides(servers):
    made, _, good = servers
    with pytest.raises(ssl.SSLCertVerificationError):  # a test CA is in no OS store
        _handshake(upstream_context(None, strict=True), made["good"].port)
    assert upstream_context(None, strict=False).verify_flags & ssl.VERIFY_X509_STRICT == 0


def test_client_context_adds_a_ca_file_to_the_os_store(servers, tmp_path):
    made, _, good = servers
    ca = tmp_path / "good.pem"
    ca.write_bytes(good.cert_pem())
    _handshake(client_context(ca, strict=True), made["good"].port)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client_context(ca, strict=True), made["other"].port)


def test_upstream_bundle_holds_certifi_the_os_roots_and_the_extra_ca(servers, tmp_path):
    made, _, good = servers
    ca = tmp_path / "extra.pem"
    ca.write_bytes(good.cert_pem())
    dest = upstream_bundle(tmp_path / "home" / "trust", [ca])
    import certifi

    text = dest.read_bytes()
    assert good.cert_pem().strip() in text
    first = open(certifi.where(), "rb").read().split(b"-----END CERTIFICATE-----")[0]
    assert first.strip() in text
    _handshake(upstream_context(dest, strict=True), made["good"].port)


def test_bundles_of_other_cas_are_other_files_and_never_world_writable(tmp_path):
    """Issue 15 item 5: every start rewrote one shared bundle, which a running proxy reads lazily: proxy A
    with --upstream-ca failed verification after proxy B started without it in the same home."""
    import os
    import stat

    ca = tmp_path / "corp.pem"
    ca.write_bytes(make_ca("corp").cert_pem())
    folder = tmp_path / "home" / "trust"
    old = os.umask(0)
    try:
        with_corp = upstream_bundle(folder, [ca])
        plain = upstream_bundle(folder)
    finally:
        os.umask(old)
    assert with_corp != plain and ca.read_bytes().strip() in with_corp.read_bytes()
    assert upstream_bundle(folder, [ca]) == with_corp  # the same roots: the same file, left as it is
    for f in (with_corp, plain):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644
