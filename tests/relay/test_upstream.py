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
