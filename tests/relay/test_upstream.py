"""The relay's upstream leg on real TLS: routes, SNI and Host of the real host, and the one verification
policy (certs.trust.upstream_context) the proxy's own upstream connections use."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from headroom.relay.upstream import Target, Upstream
from tests.certs.pki import TLSServer, make_ca, make_leaf

HOST = "api.anthropic.com"


def _get(up: Upstream) -> tuple[int, bytes]:
    async def go() -> tuple[int, bytes]:
        try:
            resp = await asyncio.wait_for(up.send(Target("https", HOST, 443), "GET", "/v1/ping", [], b""), 20)
            body = await resp.aread()
            await resp.aclose()
            return resp.status_code, body
        finally:
            await up.aclose()
    return asyncio.run(go())


@pytest.fixture
def sloppy_server(tmp_path):
    ca = make_ca("sloppy", bc_critical=False)
    server = TLSServer(make_leaf(ca, HOST), tmp_path / "s")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(ca.cert_pem())
    yield server, bundle
    server.stop()


def test_routed_request_reaches_the_route_with_the_real_host_name(sloppy_server):
    server, bundle = sloppy_server
    up = Upstream()
    up.configure(routes={HOST: ("127.0.0.1", server.port)}, cafile=str(bundle), strict=False)
    status, body = _get(up)
    assert status == 200 and body == b"upstream-ok /v1/ping"


def test_strict_verification_refuses_a_chain_only_rfc5280_refuses(sloppy_server):
    server, bundle = sloppy_server
    up = Upstream()
    up.configure(routes={HOST: ("127.0.0.1", server.port)}, cafile=str(bundle), strict=True)
    with pytest.raises(httpx.ConnectError, match="not marked critical"):
        _get(up)


def test_insecure_skips_verification(sloppy_server, tmp_path):
    server, _ = sloppy_server
    up = Upstream()
    up.configure(routes={HOST: ("127.0.0.1", server.port)}, insecure=True)
    assert _get(up)[0] == 200


# --- through the user's own proxy (a real squid on loopback that wants credentials) ---------------------


@pytest.fixture
def squid_world(tmp_path):
    from tests.support.fake_upstream import FakeUpstream, make_pki
    from tests.support.squid import Squid

    fake = FakeUpstream(make_pki(tmp_path / "pki", ("fake.upstream.test",))).start()
    squid = Squid.start("127.0.0.1", {"fake.upstream.test": "127.0.0.1"})
    yield squid, fake
    squid.stop()
    fake.stop()


def _chained(squid_url: str, fake, no_proxy: str = "") -> Upstream:
    from headroom.core.proxychain import parse_upstream_proxy

    up = Upstream()
    up.configure(routes={HOST: ("fake.upstream.test", fake.port)}, cafile=str(fake.ca_cert),
                 proxy=parse_upstream_proxy(squid_url, no_proxy))
    return up


def test_a_chained_request_is_a_connect_to_the_route_then_tls_naming_the_real_host(squid_world):
    squid, fake = squid_world
    status, _ = _get(_chained(squid.url, fake))
    assert status == 200
    assert fake.last.tls_server_name == HOST and fake.last.headers["host"] == HOST
    assert "proxy-authorization" not in fake.last.headers
    squid.wait_for_connect(f"fake.upstream.test:{fake.port}")


def test_a_refused_connect_is_a_proxy_error_saying_what_to_do(squid_world):
    from tests.support.squid import USER

    squid, fake = squid_world
    with pytest.raises(httpx.ProxyError, match=rf"refused the credentials of http://{USER}:\*\*\*@127.0.0.1:\d+ \(407\)"):
        _get(_chained(squid.url_with(USER, "nope"), fake))
    with pytest.raises(httpx.ProxyError, match=r"wants credentials \(407\)"):
        _get(_chained(squid.bare_url, fake))


def test_an_exempted_route_goes_direct_not_through_the_proxy(squid_world, tmp_path):
    squid, fake = squid_world
    # The route's target is exempted: the relay connects there itself (squid is given no credentials, so a
    # request through it would be refused with 407).
    up = Upstream()
    from headroom.core.proxychain import parse_upstream_proxy

    up.configure(routes={HOST: ("127.0.0.1", fake.port)}, cafile=str(fake.ca_cert),
                 proxy=parse_upstream_proxy(squid.bare_url))
    status, _ = _get(up)
    assert status == 200
