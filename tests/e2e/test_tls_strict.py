"""Upstream TLS through a real `headroom proxy`: RFC 5280 strict by default, HEADROOM_TLS_STRICT=0 relaxes
only that, and every other certificate defect is refused in both modes."""
from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess

import pytest

from tests.certs.pki import TLSServer, make_ca, make_leaf
from tests.support.proxy import launch_proxy

pytestmark = pytest.mark.e2e

# One LLM host per upstream case, each routed to its own throwaway TLS server.
CASES = {
    "good": "api.anthropic.com",
    "sloppy_ca": "api.openai.com",  # CA basicConstraints not critical (the corporate-CA defect)
    "expired": "api.mistral.ai",
    "wrong_host": "api.groq.com",
    "unknown_ca": "api.deepseek.com",
}


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls-upstreams")
    good, sloppy, unknown = make_ca("Good test CA"), make_ca("Sloppy corp CA", bc_critical=False), make_ca("Unknown CA")
    leafs = {
        "good": make_leaf(good, CASES["good"]),
        "sloppy_ca": make_leaf(sloppy, CASES["sloppy_ca"]),
        "expired": make_leaf(good, CASES["expired"], expired=True),
        "wrong_host": make_leaf(good, "wrong.example.com"),
        "unknown_ca": make_leaf(unknown, CASES["unknown_ca"]),
    }
    servers = {name: TLSServer(leaf, tmp / name) for name, leaf in leafs.items()}
    trusted = tmp / "trusted-upstream-cas.pem"
    trusted.write_bytes(good.cert_pem() + sloppy.cert_pem())  # the unknown CA is deliberately left out
    yield servers, trusted
    for s in servers.values():
        s.stop()


def _proxy_args(servers, trusted) -> list[str]:
    args = ["--upstream-ca", str(trusted)]
    for name, host in CASES.items():
        args += ["--route", f"{host}=127.0.0.1:{servers[name].port}"]
    return args


def _get(proxy, host: str) -> tuple[int, str]:
    """(status, body) of GET https://<host>/v1/ping through the proxy; a refused CONNECT shows up as
    (502, the error text Python gives), which is how some clients report it."""
    ctx = ssl.create_default_context(cafile=str(proxy.ca_cert))
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=ctx, timeout=20)
    conn.set_tunnel(host, 443)
    try:
        conn.request("GET", "/v1/ping")
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except OSError as e:
        if "Tunnel connection failed: 502" in str(e):
            return 502, str(e)
        raise
    finally:
        conn.close()


@pytest.fixture(scope="module", params=["strict", "relaxed"])
def mode_proxy(request, upstreams, tmp_path_factory):
    # One proxy per mode for the whole module (a start costs ~1 s on the CI box).
    servers, trusted = upstreams
    env = {"HEADROOM_TLS_STRICT": "0"} if request.param == "relaxed" else {}
    proxy = launch_proxy(None, tmp_path_factory.mktemp(f"home-{request.param}"), *_proxy_args(servers, trusted),
                         env=env)
    yield request.param, proxy
    proxy.stop()


def test_good_chain_passes_in_both_modes(mode_proxy):
    _, proxy = mode_proxy
    assert _get(proxy, CASES["good"]) == (200, "upstream-ok /v1/ping")


def test_non_critical_basic_constraints_fails_strict_and_names_the_fix(mode_proxy):
    mode, proxy = mode_proxy
    status, body = _get(proxy, CASES["sloppy_ca"])
    if mode == "relaxed":
        assert (status, body) == (200, "upstream-ok /v1/ping")
        return
    # What the client sees names the cause and the fix, in the JSON error shape SDKs print...
    assert status == 502
    error = json.loads(body)["error"]
    assert error["type"] == "upstream_tls_strict"
    assert "Basic Constraints of CA cert not marked critical" in error["message"]
    assert "HEADROOM_TLS_STRICT=0" in error["message"]
    # ...and so does the proxy's log.
    assert "HEADROOM_TLS_STRICT=0" in proxy.stderr_text()


@pytest.mark.parametrize("case", ["expired", "wrong_host", "unknown_ca"])
def test_other_defects_fail_in_both_modes(mode_proxy, case):
    _, proxy = mode_proxy
    status, body = _get(proxy, CASES[case])
    assert status == 502
    error = json.loads(body)["error"]
    assert error["type"] == "upstream_tls"
    assert {"expired": "certificate has expired", "wrong_host": "hostname mismatch",
            "unknown_ca": "unable to get local issuer certificate"}[case] in error["message"]
    # Not a strict-only defect: relaxing strict mode would not help, so that fix is not offered.
    assert "HEADROOM_TLS_STRICT" not in error["message"]


def _python313() -> str | None:
    import glob
    import shutil

    for cand in [shutil.which("python3.13"), *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))]:
        if cand:
            r = subprocess.run([cand, "-c", "import ssl; print(bool(ssl.create_default_context().verify_flags & ssl.VERIFY_X509_STRICT))"],
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0 and r.stdout.strip() == "True":
                return cand
    return None


def test_python_313_strict_client_trusts_the_proxy(mode_proxy):
    """The leaf certificates the proxy issues from the headroom CA pass Python 3.13's default (strict) checks."""
    python = _python313()
    if python is None:
        pytest.skip("no Python 3.13 interpreter here")
    _, proxy = mode_proxy
    code = (
        "import ssl, urllib.request, sys\n"
        "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
        "assert ctx.verify_flags & ssl.VERIFY_X509_STRICT\n"
        "h = urllib.request.ProxyHandler({'https': sys.argv[1]})\n"
        "o = urllib.request.build_opener(h, urllib.request.HTTPSHandler(context=ctx))\n"
        "print(o.open('https://api.anthropic.com/v1/ping', timeout=20).read().decode())\n"
    )
    r = subprocess.run([python, "-c", code, proxy.url, str(proxy.ca_cert)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "upstream-ok /v1/ping"
