"""Route: a routed host's connections go to another address, labelled and verified as the original host."""
from __future__ import annotations

import asyncio

import pytest
from mitmproxy import connection, exceptions
from mitmproxy.proxy import server_hooks
from mitmproxy.test import taddons

from headroom.addon.route import Route, parse_route


@pytest.mark.parametrize("spec,expected", [
    ("api.openai.com=127.0.0.1:9443", ("api.openai.com", ("127.0.0.1", 9443))),
    (" API.Anthropic.com = gateway.corp:8443 ", ("api.anthropic.com", ("gateway.corp", 8443))),
    ("api.openai.com=[::1]:9443", ("api.openai.com", ("::1", 9443))),
])
def test_parse_route(spec, expected):
    assert parse_route(spec) == expected


@pytest.mark.parametrize("spec", ["api.openai.com", "api.openai.com=127.0.0.1", "=1.2.3.4:5", "h=a:0", "h=a:x", "h=:80"])
def test_parse_route_rejects_with_the_expected_form(spec):
    with pytest.raises(ValueError, match="HOST=ADDR:PORT"):
        parse_route(spec)


def _configured(routes):
    r = Route()

    async def go():
        with taddons.context(r) as tctx:
            tctx.configure(r, headroom_routes=routes)
            await tctx.master.done()  # removes the master's log handler, which would outlive this loop

    asyncio.run(go())
    return r


def test_bad_route_option_is_an_options_error():
    with pytest.raises(exceptions.OptionsError, match="HOST=ADDR:PORT"):
        _configured(["nonsense"])


def test_routed_server_connects_elsewhere_then_is_relabelled():
    r = _configured(["api.openai.com=127.0.0.1:9443"])
    server = connection.Server(address=("api.openai.com", 443))
    server.tls = True
    data = server_hooks.ServerConnectionHookData(server=server, client=connection.Client(
        peername=("127.0.0.1", 5), sockname=("127.0.0.1", 8787)))
    r.server_connect(data)
    assert server.address == ("127.0.0.1", 9443) and server.sni == "api.openai.com"
    server.state = connection.ConnectionState.OPEN
    r.server_connected(data)
    assert server.address == ("api.openai.com", 443)


def test_unrouted_server_is_left_alone_and_failed_connects_are_relabelled():
    r = _configured(["api.openai.com=127.0.0.1:9443"])
    other = connection.Server(address=("example.com", 443))
    client = connection.Client(peername=("127.0.0.1", 5), sockname=("127.0.0.1", 8787))
    r.server_connect(server_hooks.ServerConnectionHookData(server=other, client=client))
    assert other.address == ("example.com", 443)
    routed = connection.Server(address=("api.openai.com", 443))
    data = server_hooks.ServerConnectionHookData(server=routed, client=client)
    r.server_connect(data)
    r.server_connect_error(data)
    assert routed.address == ("api.openai.com", 443)
