"""`headroom doctor` without a proxy: exit 2 with the seed's "routing is not active" and its causes, JSON that
parses, and each check's verdict on crafted inputs (CA defects, routing variables)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import pytest

from typer.testing import CliRunner

from headroom.certs.ca import ca_files, ensure_ca
from headroom.cli import doctor as d
from headroom.cli.main import app
from tests.certs.pki import make_ca

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_proxy_exit_2_with_routing_guidance(headroom_home, monkeypatch):
    for var in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    port = _free_port()
    r = runner.invoke(app, ["doctor", "--port", str(port)])
    assert r.exit_code == 2
    assert "routing is not active" in r.output
    assert "the proxy is not running, the client is not pointed at the proxy port" in r.output
    assert f"no headroom proxy on 127.0.0.1:{port}" in r.output
    assert "failure(s)" in r.output


def test_json_parses_and_matches_exit_code(headroom_home, monkeypatch):
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    r = runner.invoke(app, ["doctor", "--port", str(_free_port()), "--json"])
    report = json.loads(r.output)
    assert report["exit_code"] == r.exit_code == 2
    assert {c["status"] for c in report["checks"]} <= {"pass", "warn", "fail", "skip"}
    assert all(c["fix"] for c in report["checks"] if c["status"] == "fail")  # every failure says what to do


def test_port_held_by_something_else(headroom_home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        port = s.getsockname()[1]
        checks = d.check_proxy(port, None, headroom_home)
    assert checks[0].status == "fail" and "not a headroom proxy" in checks[0].summary


def _install_ca(headroom_home, issued) -> None:
    files = ca_files()
    files.confdir.mkdir(parents=True, exist_ok=True)
    files.key_and_cert.write_bytes(issued.key_pem() + issued.cert_pem())
    files.key_and_cert.chmod(0o600)
    files.cert.write_bytes(issued.cert_pem())


def test_ca_checks(headroom_home):
    assert {c.status for c in d.check_ca(ca_files())} == {"fail"}  # none yet
    ensure_ca()
    assert [c.status for c in d.check_ca(ca_files())] == ["pass", "pass", "pass", "pass"]
    hosts = {c.name: c for c in d.check_ca(ca_files(), ["api.openai.com", "llm.corp.example"])}["ca hosts"]
    assert hosts.status == "fail" and "does not permit llm.corp.example" in hosts.summary and "rotate" in hosts.fix
    _install_ca(headroom_home, make_ca("sloppy", bc_critical=False))
    unconstrained = {c.name: c for c in d.check_ca(ca_files())}["ca hosts"]
    assert unconstrained.status == "warn" and "any host name" in unconstrained.summary
    strict = {c.name: c for c in d.check_ca(ca_files())}["ca strict"]
    assert strict.status == "fail" and "not marked critical" in strict.summary and "rotate" in strict.fix
    ca_files().key_and_cert.chmod(0o644)
    key = {c.name: c for c in d.check_ca(ca_files())}["ca key"]
    assert key.status == "warn" and "chmod 600" in key.fix


def test_ca_key_mismatch(headroom_home):
    a, b = make_ca("a"), make_ca("b")
    files = ca_files()
    files.confdir.mkdir(parents=True, exist_ok=True)
    files.key_and_cert.write_bytes(b.key_pem() + a.cert_pem())
    files.cert.write_bytes(a.cert_pem())
    key = {c.name: c for c in d.check_ca(files)}["ca key"]
    assert key.status == "fail" and "does not match" in key.summary


def test_ca_near_expiry(headroom_home, monkeypatch):
    ensure_ca()
    monkeypatch.setattr(d, "NEAR_EXPIRY_DAYS", 100_000)  # every CA is "near expiry" now
    ca = d.check_ca(ca_files())[0]
    assert ca.status == "warn" and "expires in" in ca.summary and "rotate" in ca.fix


def test_routing_verdicts(headroom_home):
    files = ensure_ca()
    ca_pem = files.cert.read_bytes()
    info = {"service": "headroom", "pid": 1}
    from headroom.certs.clientenv import client_env

    good = client_env({}, 9000, files)
    assert [c.status for c in d.check_routing(good, 9000, info, ca_pem)] == ["pass"]
    plain = d.check_routing({}, 9000, info, ca_pem)[0]
    assert plain.status == "warn" and plain.summary.startswith("routing is not active")
    assert "headroom wrap" in plain.fix
    wrong = dict(good, HTTPS_PROXY="http://127.0.0.1:9999", https_proxy="http://127.0.0.1:9999")
    c = d.check_routing(wrong, 9000, info, ca_pem)[0]
    assert c.status == "fail" and c.summary.startswith("routing is not active")
    untrusted = dict(good, SSL_CERT_FILE="/etc/hostname")
    c = d.check_routing(untrusted, 9000, info, ca_pem)[0]
    assert c.status == "fail" and "SSL_CERT_FILE" in c.summary
    bypass = dict(good, NO_PROXY="localhost,.openai.com")
    assert any(x.name == "no_proxy" and x.status == "warn" and "api.openai.com" in x.summary
               for x in d.check_routing(bypass, 9000, info, ca_pem))


def test_exit_codes():
    C = d.Check
    assert d.exit_code([C("a", "pass", ""), C("b", "skip", "")]) == 0
    assert d.exit_code([C("a", "pass", ""), C("b", "warn", "")]) == 1
    assert d.exit_code([C("a", "warn", ""), C("b", "fail", "")]) == 2


def test_engine_pure_gateway():
    c = d.check_engine({"options": {"headroom_compress": False}})
    assert c.status == "pass" and "pure gateway" in c.summary


def test_upstream_check_on_routed_targets(headroom_home, tmp_path):
    from tests.certs.pki import TLSServer, make_leaf

    good, sloppy = make_ca("good"), make_ca("sloppy", bc_critical=False)
    servers = [TLSServer(make_leaf(good, "api.openai.com"), tmp_path / "g"),
               TLSServer(make_leaf(sloppy, "api.anthropic.com"), tmp_path / "s")]
    try:
        bundle = headroom_home / "trust" / "upstream-bundle-test.pem"
        bundle.parent.mkdir()
        bundle.write_bytes(good.cert_pem() + sloppy.cert_pem())

        def info(routes, strict=True):
            return {"home": str(headroom_home), "tls_strict": strict, "options": {"headroom_routes": routes},
                    "upstream_bundle": str(bundle)}

        ok = d.check_upstream(info([f"api.openai.com=127.0.0.1:{servers[0].port}"]))
        assert ok.status == "pass" and "routed" in ok.summary
        strict = d.check_upstream(info([f"api.anthropic.com=127.0.0.1:{servers[1].port}"]))
        assert strict.status == "warn" and "not marked critical" in strict.summary
        assert "HEADROOM_TLS_STRICT=0" in strict.fix
        relaxed = d.check_upstream(info([f"api.anthropic.com=127.0.0.1:{servers[1].port}"], strict=False))
        assert relaxed.status == "pass"
        down = d.check_upstream(info([f"api.openai.com=127.0.0.1:{_free_port()}"]))
        assert down.status == "warn" and "unreachable" in down.summary  # a warning, never a failure
    finally:
        for s in servers:
            s.stop()


def test_proxy_left_by_a_dead_wrap_is_reported(headroom_home):
    import os

    run = headroom_home / "run"
    run.mkdir()
    (run / "proxy-4321.owner.json").write_text(json.dumps({"pid": os.getpid(), "keep": False}))
    info = {"service": "headroom", "version": d.__version__, "pid": os.getpid(), "home": str(headroom_home)}
    checks = {c.name: c for c in d.check_proxy(4321, info, headroom_home)}
    assert checks["proxy users"].status == "warn" and f"kill {os.getpid()}" in checks["proxy users"].fix
    leases = run / "proxy-4321.leases"  # live_leases created it
    (leases / "me.json").write_text(json.dumps({"pid": os.getpid()}))
    assert "proxy users" not in {c.name for c in d.check_proxy(4321, info, headroom_home)}


def test_store_check_names_a_bad_retention_variable_not_the_home(headroom_home, monkeypatch):
    monkeypatch.setenv("HEADROOM_CCR_TTL", "a week")
    c = d.check_store()
    assert c.status == "fail" and "HEADROOM_CCR_TTL" in c.summary
    assert "HEADROOM_HOME" not in c.fix and "unset" in c.fix


def test_engine_check_reads_the_relevance_model_variables_of_its_environment(monkeypatch, tmp_path):
    from headroom.core import relevance

    monkeypatch.setenv("HEADROOM_MODEL_DIR", str(tmp_path))  # no model there
    try:
        c = d.check_engine(None)
        assert c.status == "warn" and "relevance model not loaded" in c.summary and str(tmp_path) in c.summary
        monkeypatch.setenv("HEADROOM_RELEVANCE_MODEL", "0")
        c = d.check_engine(None)
        assert c.status == "warn" and "disabled by HEADROOM_RELEVANCE_MODEL=0" in c.summary
    finally:
        relevance.configure()  # the process default again, for the tests after this one


def test_doctor_reads_a_proxys_routes_as_the_proxy_does():
    # One reading of HOST=ADDR:PORT: what parse_route refuses (port 0 or 70000, no host, no port) is no route
    # to doctor either, and a trailing dot or upper case names the same host.
    import pytest

    from headroom.addon.route import parse_route
    from headroom.cli.doctor import _routes

    specs = ["API.OpenAI.com.=127.0.0.1:9443", "api.anthropic.com=[::1]:8443", "bad=127.0.0.1:0",
             "worse=127.0.0.1:70000", "=127.0.0.1:1", "noport=127.0.0.1", "x.example=host:99999"]
    got = _routes({"options": {"headroom_routes": specs}})
    want = {}
    for spec in specs:
        try:
            host, target = parse_route(spec)
        except ValueError:
            continue
        want[host] = target
    assert got == want == {"api.openai.com": ("127.0.0.1", 9443), "api.anthropic.com": ("::1", 8443)}
    with pytest.raises(ValueError):
        parse_route("bad=127.0.0.1:0")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (CI installs it for the e2e tests)")
def test_nodes_own_warnings_never_take_the_place_of_the_probes_answer(headroom_home, monkeypatch):
    # A Node that warns at start: the permission model is experimental in Node 20-22 (Node 24 warns the same way
    # for NODE_USE_ENV_PROXY, which wrap sets), turned on from NODE_OPTIONS as a user's shell may.
    monkeypatch.setenv("NODE_OPTIONS", "--experimental-permission --allow-fs-read=* --allow-child-process")
    monkeypatch.delenv("NODE_NO_WARNINGS", raising=False)
    premise = subprocess.run(["node", "-e", "1"], capture_output=True, text=True, timeout=30)
    assert "ExperimentalWarning" in premise.stderr  # this Node does warn
    files = ensure_ca()
    check = d._probe_node(_free_port(), files.cert, dict(os.environ))  # nothing listens: the probe fails
    assert check.status == "fail"
    assert "ECONNREFUSED" in check.summary, check.summary  # the reason, not the warning, in the row
    assert "Warning" not in check.summary and "trace-warnings" not in check.summary, check.summary
    assert "\n" not in check.summary  # one row of the table
