"""The headroom CA: RFC 5280 compliant (strict verification passes), private key 0600, never silently replaced."""
from __future__ import annotations

import stat

import pytest
from cryptography import x509

from headroom.certs import ca
from headroom.command import command
from tests.certs.pki import make_ca


def test_created_ca_is_strict_compliant_and_private(headroom_home):
    files = ca.ensure_ca()
    assert stat.S_IMODE(files.key_and_cert.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    st = ca.inspect_ca(files)
    assert st.exists and st.key_matches and st.strict_ok and not st.error and st.days_left > 3000


def test_strict_check_refuses_a_sloppy_ca():
    sloppy = make_ca("sloppy", bc_critical=False)
    assert "not marked critical" in ca.strict_check(sloppy.cert, sloppy.key)
    good = make_ca("good")
    assert ca.strict_check(good.cert, good.key) == ""


def test_existing_key_is_kept_and_public_cert_rederived(headroom_home):
    files = ca.ensure_ca()
    key_before = files.key_and_cert.read_bytes()
    files.cert.unlink()
    assert ca.inspect_ca(files).error.endswith(f"run `{command('certs init')}` to rewrite it")
    ca.ensure_ca()
    assert files.key_and_cert.read_bytes() == key_before
    assert files.cert.exists() and not ca.inspect_ca(files).error


def test_unreadable_or_damaged_key_says_what_to_do(headroom_home):
    files = ca.ensure_ca()
    files.key_and_cert.write_bytes(b"garbage")
    st = ca.inspect_ca(files)
    assert st.error and "headroom certs rotate" in st.error
    with pytest.raises(ca.CAError, match="rotate"):
        ca.load_ca(files)


def test_rotate_keeps_the_old_ca_aside(headroom_home):
    files = ca.ensure_ca()
    old = files.cert.read_bytes()
    files2, retired = ca.rotate_ca()
    assert files2.cert.read_bytes() != old
    assert (retired / "mitmproxy-ca-cert.pem").read_bytes() == old


@pytest.mark.parametrize("damage", ["garbage", "directory"])
def test_ensure_ca_refuses_a_key_it_cannot_use(headroom_home, damage):
    # The proxy, wrap and `certs env` all start from ensure_ca(): a damaged key must stop them there, in
    # one line naming the fix, not after mitmproxy announced a listening proxy and then died.
    files = ca.ensure_ca()
    files.key_and_cert.unlink()
    if damage == "garbage":
        files.key_and_cert.write_bytes(b"garbage")
    else:
        files.key_and_cert.mkdir()
    with pytest.raises(ca.CAError) as e:
        ca.ensure_ca()
    message = str(e.value)
    assert "headroom certs rotate" in message and "\n" not in message and "OpenSSLError" not in message


def test_a_published_certificate_of_another_ca_is_refused_with_the_fix(headroom_home):
    files = ca.ensure_ca()
    files.cert.write_bytes(make_ca("other").cert_pem())
    with pytest.raises(ca.CAError, match="headroom certs rotate"):
        ca.ensure_ca()


def test_concurrent_first_uses_leave_one_ca(tmp_path):
    """Issue 15 item 6: concurrent first uses (certs init, two wraps) left the key and the published
    certificate from different CAs in 5 of 40 trials. Real processes racing on a fresh home, bounded."""
    import os
    import subprocess
    import sys

    code = "from headroom.certs.ca import ensure_ca; ensure_ca()"
    for trial in range(8):
        home = tmp_path / f"home{trial}"
        env = {**os.environ, "HEADROOM_HOME": str(home)}
        procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE) for _ in range(4)]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()
        files = ca.ca_files(home)
        cert, _ = ca.load_ca(files)
        assert x509.load_pem_x509_certificate(files.cert.read_bytes()) == cert, f"trial {trial}"
        assert ca.inspect_ca(files).key_matches


# --- name constraints (docs/team.md "The team CA") ------------------------------------------------------------

def test_a_new_ca_is_limited_to_the_llm_hosts_and_no_ip_address(headroom_home):
    import ipaddress

    from cryptography import x509

    from headroom.certs.ca import ensure_ca as ensure, load_ca as load, permitted_domains

    files = ensure(hosts=["llm.corp.example", "*.gw.example.net"])
    cert, _ = load(files)
    nc = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    domains = permitted_domains(cert)
    assert {"api.openai.com", "api.anthropic.com", "googleapis.com", "llm.corp.example", "gw.example.net"} <= set(domains)
    assert not any(d.count(".") == 0 for d in domains)  # never a whole TLD
    assert set(nc.value.excluded_subtrees) == {x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
                                               x509.IPAddress(ipaddress.ip_network("::/0"))}


def test_an_existing_ca_is_never_replaced_and_rotate_makes_a_limited_one(headroom_home):
    from headroom.certs.ca import ca_files as files_of, create_ca, ensure_ca as ensure, load_ca as load
    from headroom.certs.ca import permitted_domains, rotate_ca

    old = create_ca(files_of(), None)  # a CA from before name constraints, that clients already trust
    before = old.cert.read_bytes()
    assert ensure(hosts=["llm.corp.example"]).cert.read_bytes() == before
    assert permitted_domains(load(old)[0]) is None
    files, retired = rotate_ca(hosts=["llm.corp.example"])
    assert retired is not None and (retired / "mitmproxy-ca-cert.pem").read_bytes() == before
    assert "llm.corp.example" in permitted_domains(load(files)[0])
