"""Chain: credentials on what goes to the upstream proxy, routes through it, exemptions direct, refusals said.

The whole chain through a real squid in a network namespace is tests/e2e/test_chain.py; these check each hook
on mitmproxy's own flow objects, and the chain check (doctor's) against a real squid on loopback.
"""
from __future__ import annotations

import base64
import logging

import pytest
from mitmproxy import connection, flow
from mitmproxy.test import tflow, tutils

from headroom.addon.chain import Chain
from headroom.addon.route import Route
from headroom.core.proxychain import parse_upstream_proxy
from tests.support.fake_upstream import FakeUpstream, make_pki
from tests.support.squid import PASSWORD, USER, Squid

CORP = "http://alice:hunter2@corp.example:3128"


def _chain(url: str = CORP, no_proxy: str = "", routes: dict | None = None) -> Chain:
    route = Route()
    route.routes = dict(routes or {})
    return Chain(parse_upstream_proxy(url, no_proxy), route)


def _basic(header: str) -> str:
    return base64.b64decode(header.split()[1]).decode()


def _chained_flow(host: str, port: int, scheme: str = "https", authority: str = "") -> flow.Flow:
    f = tflow.tflow(req=tutils.treq(host=host, port=port, scheme=scheme.encode(), authority=authority.encode(),
                                    path=b"/v1/chat/completions"))
    f.server_conn = connection.Server(address=(host, port))
    f.server_conn.via = ("http", ("corp.example", 3128))
    return f


def test_the_connect_to_the_upstream_proxy_carries_its_credentials_and_the_routed_address():
    chain = _chain(routes={"api.openai.com": ("gateway.corp", 9443)})
    f = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="api.openai.com", port=443, authority=b"api.openai.com:443",
                                    headers=[(b"Host", b"api.openai.com:443")]))
    chain.http_connect_upstream(f)
    assert f.request.authority == "gateway.corp:9443"
    assert f.request.headers["Host"] == "gateway.corp:9443"
    assert _basic(f.request.headers["Proxy-Authorization"]) == "alice:hunter2"


def test_without_credentials_no_proxy_authorization_is_invented():
    chain = _chain("http://corp.example:3128")
    f = tflow.tflow(req=tutils.treq(method=b"CONNECT", host="api.openai.com", port=443, authority=b"api.openai.com:443"))
    chain.http_connect_upstream(f)
    assert "Proxy-Authorization" not in f.request.headers and f.request.authority == "api.openai.com:443"


def test_a_plain_http_proxy_request_gets_the_credentials_but_not_inside_a_tunnel_nor_the_health_host():
    chain = _chain()
    plain = _chained_flow("example.com", 80, "http", authority="example.com:80")
    chain.requestheaders(plain)
    assert _basic(plain.request.headers["Proxy-Authorization"]) == "alice:hunter2"
    inner = _chained_flow("example.com", 80, "http")  # origin form: a request inside a CONNECT tunnel
    chain.requestheaders(inner)
    assert "Proxy-Authorization" not in inner.request.headers  # it would reach the server itself
    health = _chained_flow("headroom.proxy", 80, "http", authority="headroom.proxy:80")
    chain.requestheaders(health)
    assert "Proxy-Authorization" not in health.request.headers


def test_a_request_for_an_exempted_destination_gets_a_direct_connection():
    chain = _chain(no_proxy=".internal")
    relayed = _chained_flow("127.0.0.1", 41234, "http")  # Retrieve pointed it at the relay
    chain.request(relayed)
    assert relayed.server_conn.via is None and relayed.server_conn.address == ("127.0.0.1", 41234)
    plain = _chained_flow("wiki.internal", 80, "http", authority="wiki.internal:80")
    chain.requestheaders(plain)
    chain.request(plain)
    assert plain.server_conn.via is None
    assert plain.request.authority == "" and "Proxy-Authorization" not in plain.request.headers
    outside = _chained_flow("api.openai.com", 443)
    chain.request(outside)
    assert outside.server_conn.via is not None
    assert chain.direct == 2


def test_without_an_upstream_proxy_every_hook_does_nothing():
    chain = Chain(None, Route())
    f = _chained_flow("example.com", 80, "http", authority="example.com:80")
    chain.requestheaders(f)
    chain.request(f)
    chain.http_connect_upstream(f)
    assert "Proxy-Authorization" not in f.request.headers and f.server_conn.via is not None
    assert chain.check() == {"upstream_proxy": None}


def test_a_refusal_is_logged_once_a_minute_with_the_fix_and_no_password(caplog):
    chain = _chain()
    f = _chained_flow("api.openai.com", 443)
    f.error = flow.Error("Upstream proxy corp.example:3128 refused HTTP CONNECT request: 407 Proxy Authentication Required")
    with caplog.at_level(logging.WARNING, logger="headroom.chain"):
        chain.error(f)
        chain.error(f)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "refused the credentials of http://alice:***@corp.example:3128 (407)" in lines[0]
    assert "hunter2" not in lines[0]


# --- doctor's check, against a real squid on loopback ---------------------------------------------------


@pytest.fixture
def corp(tmp_path):
    pki = make_pki(tmp_path / "pki", ("fake.upstream.test",))
    fake = FakeUpstream(pki).start()
    squid = Squid.start("127.0.0.1", {"fake.upstream.test": "127.0.0.1"})
    yield squid, fake
    squid.stop()
    fake.stop()


def _checked(url: str, fake: FakeUpstream) -> dict:
    chain = _chain(url, routes={"api.anthropic.com": ("fake.upstream.test", fake.port)})
    chain.cafile = str(fake.ca_cert)
    return chain.check("api.anthropic.com")


def test_the_chain_check_passes_through_squid_with_the_credentials(corp):
    squid, fake = corp
    got = _checked(squid.url, fake)
    assert got["reachable"] is True and got["status"] == 200 and got["tls"] == "verified", got
    assert got["connect"] == f"fake.upstream.test:{fake.port}"
    assert PASSWORD not in str(got) and got["upstream_proxy"] == f"http://{USER}:***@127.0.0.1:{squid.port}"


def test_the_chain_check_says_407_and_the_fix_for_wrong_or_missing_credentials(corp):
    squid, fake = corp
    wrong = _checked(squid.url_with(USER, "nope"), fake)
    assert wrong["status"] == 407 and "refused the credentials" in wrong["fix"] and "nope" not in str(wrong)
    bare = _checked(squid.bare_url, fake)
    assert bare["status"] == 407 and "wants credentials (407)" in bare["fix"]


def test_the_chain_check_says_when_the_upstream_proxy_is_not_there(corp):
    squid, fake = corp
    squid.stop()
    got = _checked(squid.url, fake)
    assert got["reachable"] is False and got["error"]


def test_the_chain_check_says_a_host_it_may_not_reach_is_refused(corp):
    squid, fake = corp
    chain = _chain(squid.url)
    got = chain.check("api.anthropic.com")  # squid allows only fake.upstream.test
    assert got["status"] == 403 and "does not allow api.anthropic.com:443 (403)" in got["fix"]
    assert chain.check("not a host")["error"] == "not a host name"
