"""headroom/compat.py: each private use of mitmproxy or pyOpenSSL still works as the code relies on it.

These fail, by name, on an upgrade that removes or changes one of them (update compat.py and its users
then); they also check that mitmproxy still refuses the change compat works around, so the workaround goes
when it is no longer needed."""
from __future__ import annotations

import pytest
from mitmproxy.connection import ConnectionState, Server
from OpenSSL import SSL

from headroom import compat

LIB_NAMES = ("SSL_get0_param", "X509_VERIFY_PARAM_set_flags", "SSL_get_verify_result",
             "X509_verify_cert_error_string", "X509_V_ERR_CERT_HAS_EXPIRED", "X509_V_ERR_CERT_NOT_YET_VALID",
             "X509_V_ERR_HOSTNAME_MISMATCH", "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
             "X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN", "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT",
             "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT", "X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE")


def test_pyopenssl_bindings_have_what_tls_policy_calls():
    lib = compat.openssl_lib()
    missing = [name for name in LIB_NAMES if not hasattr(lib, name)]
    assert not missing, f"pyOpenSSL's private lib lacks {missing}: update headroom/compat.py and tlspolicy.py"
    # A real connection's handle goes through the functions as tlspolicy uses them.
    conn = SSL.Connection(SSL.Context(SSL.TLS_CLIENT_METHOD), None)
    handle = compat.ssl_handle(conn)
    assert lib.SSL_get0_param(handle) != compat.openssl_ffi().NULL
    assert int(lib.SSL_get_verify_result(handle)) == 0  # X509_V_OK before any handshake
    text = compat.openssl_ffi().string(lib.X509_verify_cert_error_string(lib.X509_V_ERR_CERT_HAS_EXPIRED)).decode()
    assert "expired" in text


def _open_server() -> Server:
    server = Server(address=("api.openai.com", 443))
    server.state = ConnectionState.OPEN
    return server


def test_mitmproxy_still_refuses_relabelling_an_open_connection_and_compat_still_can():
    server = _open_server()
    with pytest.raises(RuntimeError):
        server.address = ("127.0.0.1", 9999)  # the guard compat works around: if this stops raising, drop it
    compat.relabel_server_address(server, ("127.0.0.1", 9999))
    assert server.address == ("127.0.0.1", 9999)


def test_a_direct_server_is_a_fresh_unopened_server_without_via_keeping_the_tls_name():
    server = Server(address=("api.openai.com", 443))
    server.via = ("http", ("corp", 3128))
    server.sni = "api.openai.com"
    fresh = compat.direct_server(server)
    assert fresh is not server and fresh.via is None and fresh.address == ("api.openai.com", 443)
    assert fresh.sni == "api.openai.com" and fresh.state is ConnectionState.CLOSED
    assert compat.direct_server(server, ("127.0.0.1", 1)).address == ("127.0.0.1", 1)


def test_mitmproxys_nextlayer_addon_decides_again_when_asked_and_httpx_has_its_pool():
    import httpx
    from mitmproxy.addons.next_layer import NextLayer

    # redecide_layer relies on the built-in addon leaving a decision another addon made alone, and taking one
    # when none is made; and set_pool on httpx's transport holding its pool as `_pool`.
    import inspect

    assert "if nextlayer.layer:" in inspect.getsource(NextLayer.next_layer)
    transport = httpx.AsyncHTTPTransport()
    assert hasattr(transport, "_pool")
    compat.set_pool(transport, "pool")
    assert transport._pool == "pool"


def test_mitmproxys_tlsconfig_has_the_get_cert_compat_replaces_and_the_leaf_keeps_only_kept_names(tmp_path):
    """TlsConfig.get_cert(context) is what its tls_start_client calls, and certstore.get_cert(cn, sans, org)
    what issues a leaf: compat.limit_leaf_names replaces the first and calls the second."""
    import inspect

    from cryptography import x509
    from mitmproxy.addons.tlsconfig import TlsConfig
    from mitmproxy.connection import Client
    from mitmproxy.proxy import context
    from mitmproxy.test import taddons

    assert "self.get_cert(" in inspect.getsource(TlsConfig.tls_start_client)
    assert list(inspect.signature(TlsConfig.get_cert).parameters) == ["self", "conn_context"]
    tc = TlsConfig()
    with taddons.context(tc) as tctx:
        tctx.configure(tc, confdir=str(tmp_path))
        compat.limit_leaf_names(tc, lambda n: isinstance(n, x509.DNSName) and str(n.value).endswith("openai.com"))
        client = Client(peername=("127.0.0.1", 1), sockname=("127.0.0.1", 2), timestamp_start=0, sni="api.openai.com")
        ctx = context.Context(client, tctx.options)
        ctx.server.address = ("127.0.0.1", 443)  # a route's address: an IP SAN a constrained CA may not sign
        entry = tc.get_cert(ctx)
    sans = entry.cert.altnames
    assert [str(n.value) for n in sans] == ["api.openai.com"]


def test_mitmproxys_stream_layer_ends_a_streamed_body_through_the_send_response_compat_wraps():
    import inspect

    from mitmproxy import hooks
    from mitmproxy.proxy.layers import http as layers_http

    # What enable_stream_append relies on: the upstream's end of a streamed body runs send_response with
    # already_streamed=True (the response hook and the end of message come from there), and data reaches the
    # client as SendHttp(ResponseData) commands.
    ending = inspect.getsource(layers_http.HttpStream.state_stream_response_body)
    assert "self.send_response(already_streamed=True)" in ending
    assert "ResponseData(self.stream_id, chunk)" in ending
    assert compat.enable_stream_append() is True
    assert compat.enable_stream_append() is True  # idempotent: wrapped once
    assert hooks.all_hooks[compat.STREAM_MORE].name == compat.STREAM_MORE
    assert layers_http.HttpStream.send_response.__code__.co_filename == compat.__file__
