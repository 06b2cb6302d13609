"""The wrapped child's environment: proxy variables in both cases, loopback in NO_PROXY, replacing CA variables
pointing at the user's roots plus the headroom CA, additive ones adding the CA to what the user had."""
from __future__ import annotations

from headroom.certs.ca import ensure_ca
from headroom.certs.clientenv import client_env, merge_no_proxy, pem_certs
from tests.certs.pki import make_ca


def _certs(path) -> list[bytes]:
    return pem_certs(open(path, "rb").read())


def test_env_without_user_settings(headroom_home):
    files = ensure_ca()
    env = client_env({}, 8787, files)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        assert env[var] == "http://127.0.0.1:8787"
    assert env["NO_PROXY"] == env["no_proxy"] == "localhost,127.0.0.1,::1"
    assert env["NODE_USE_ENV_PROXY"] == "1"
    ca = pem_certs(files.cert.read_bytes())[0]
    bundle = _certs(env["SSL_CERT_FILE"])
    assert ca in bundle and len(bundle) > 10  # the OS roots came along: tunnelled hosts still verify
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE", "GIT_SSL_CAINFO"):
        assert env[var] == env["SSL_CERT_FILE"]
    assert env["NODE_EXTRA_CA_CERTS"] == env["DENO_CERT"] == str(files.cert)
    assert "PIP_CERT" not in env  # only touched when the user set it


def test_user_bundle_and_extra_certs_are_kept(headroom_home, tmp_path):
    files = ensure_ca()
    corp = make_ca("Corp root")
    corp_file = tmp_path / "corp.pem"
    corp_file.write_bytes(corp.cert_pem())
    node_extra = tmp_path / "node-extra.pem"
    node_extra.write_bytes(make_ca("Node extra").cert_pem())
    user = {"SSL_CERT_FILE": str(corp_file), "NODE_EXTRA_CA_CERTS": str(node_extra), "PIP_CERT": str(corp_file),
            "NO_PROXY": "internal.corp,localhost", "no_proxy": ".svc"}
    env = client_env(user, 9000, files)
    ca = pem_certs(files.cert.read_bytes())[0]
    # Replacing variables: exactly the user's roots plus ours (not the OS store the user opted out of).
    assert set(_certs(env["SSL_CERT_FILE"])) == {ca, pem_certs(corp.cert_pem())[0]}
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"]
    # Additive: the user's extra file plus ours.
    assert set(_certs(env["NODE_EXTRA_CA_CERTS"])) == {ca, pem_certs(node_extra.read_bytes())[0]}
    assert env["NO_PROXY"] == "internal.corp,localhost,.svc,127.0.0.1,::1"


def test_nested_wrap_adds_nothing_twice(headroom_home):
    files = ensure_ca()
    first = client_env({}, 8787, files)
    second = client_env(first, 8787, files)
    assert second["SSL_CERT_FILE"] == first["SSL_CERT_FILE"]
    assert second["NODE_EXTRA_CA_CERTS"] == first["NODE_EXTRA_CA_CERTS"]
    assert second["NO_PROXY"] == first["NO_PROXY"]


def test_merge_no_proxy_dedupes():
    assert merge_no_proxy({"NO_PROXY": " a , b,,a", "no_proxy": "b,c"}) == "a,b,c,localhost,127.0.0.1,::1"
