"""Every use of a private API of mitmproxy or pyOpenSSL, in one place, each with what it relies on.

Headroom needs a few things these libraries do not offer publicly: OpenSSL's verify parameters and verify result
on a live connection (pyOpenSSL's cffi bindings, `SSL._lib` / `SSL._ffi`, and a connection's `_ssl`
handle), and relabelling an open upstream connection with the address the flow asked for after a route sent
it elsewhere (mitmproxy's `Server.__setattr__` refuses address changes on open connections, to stop addons
believing that would reconnect); in upstream mode, a direct upstream connection for a CONNECT that NO_PROXY
exempts (the context's server swapped and mitmproxy's own next-layer decision taken again); and the relay's
tunnel through the upstream proxy (httpx's transport given an httpcore pool with a network backend); and data sent
into a streamed response after the upstream's end of message (mitmproxy's HTTP stream layer's `send_response`
wrapped, see `enable_stream_append`). tests/test_compat.py checks each against the installed versions, so an
upgrade that removes or changes one fails there, by name, rather than somewhere in a TLS handshake.
"""
from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["STREAM_CHUNK", "STREAM_MORE", "direct_server", "enable_stream_append", "limit_leaf_names", "openssl_ffi",
           "openssl_lib", "redecide_layer", "relabel_server_address", "set_pool", "ssl_handle"]

# What the uses below were written against (tests/test_compat.py checks the behaviour, not these numbers).
TESTED = {"mitmproxy": "11.0", "pyOpenSSL": "24.3"}


def openssl_lib() -> Any:
    """pyOpenSSL's cffi `lib`: SSL_get0_param, X509_VERIFY_PARAM_set_flags, SSL_get_verify_result,
    X509_verify_cert_error_string and the X509_V_ERR_* constants are used."""
    from OpenSSL import SSL

    lib: Any = SSL._lib  # typed Optional by pyOpenSSL's stubs
    return lib


def openssl_ffi() -> Any:
    """pyOpenSSL's cffi `ffi`, for `ffi.string` on OpenSSL's C strings."""
    from OpenSSL import SSL

    ffi: Any = SSL._ffi
    return ffi


def ssl_handle(conn: Any) -> Any:
    """The `SSL *` of a pyOpenSSL `SSL.Connection` (what `openssl_lib()`'s functions take)."""
    return conn._ssl


def relabel_server_address(server: Any, address: Any) -> None:
    """Set an open mitmproxy `Server`'s `address` without its guard: a relabel to what the flow asked for
    (keep-alive reuse matches connections by address), not a move to another host."""
    object.__setattr__(server, "address", address)


def direct_server(server: Any, address: Any = None) -> Any:
    """A fresh, unopened mitmproxy `Server` for `address` (default: `server`'s) without `via`: a connection that
    goes to the host itself rather than through the upstream proxy. The TLS name is kept."""
    from mitmproxy.connection import Server

    fresh = Server(address=address or server.address, transport_protocol=server.transport_protocol)
    fresh.sni = server.sni
    return fresh


def redecide_layer(nextlayer: Any, server: Any) -> None:
    """Give a `NextLayer` decision's context another upstream `server` and take mitmproxy's decision again, so
    the layers it builds (some take the server when made) open that one. Relies on: the context's `server` is
    what mitmproxy's layers open, the tunnel layer above passes other connections through, and the built-in
    `nextlayer` addon decides again when `nextlayer.layer` is None."""
    from mitmproxy import ctx

    nextlayer.context.server = server
    nextlayer.layer = None
    builtin: Any = ctx.master.addons.get("nextlayer")  # type: ignore[no-untyped-call]  # AddonManager.get is untyped
    builtin.next_layer(nextlayer)


def set_pool(transport: Any, pool: Any) -> None:
    """Replace an `httpx.AsyncHTTPTransport`'s httpcore pool (its `_pool`): httpx keeps its request and error
    mapping, the pool opens connections through a network backend of ours."""
    transport._pool = pool


def limit_leaf_names(tlsconfig: Any, keep: Any) -> None:
    """Make mitmproxy's `tlsconfig` addon issue leaves whose names all pass `keep(x509.GeneralName)`: its
    `get_cert(context)` (what its `tls_start_client` calls) replaced by one that gathers the names as it does
    (the client's SNI, the server's address, the upstream certificate's CN and SANs: mitmproxy 11's order but
    the SNI first) and asks its `certstore.get_cert(cn, sans, organization)` for only those `keep` passes. For a
    CA with name constraints: one name outside them (an upstream's `*.cdn.example` SAN, a route's IP) would make
    a client refuse the whole leaf. With nothing left, the SNI alone (the client refuses; the proxy said why)."""
    import ipaddress

    from cryptography import x509

    def name(value: str) -> Any:
        try:
            return x509.IPAddress(ipaddress.ip_address(value))
        except ValueError:
            return x509.DNSName(value.encode("idna").decode())

    def get_cert(conn_context: Any) -> Any:
        names: list[Any] = []
        organization = None
        if conn_context.client.sni:
            names.append(name(conn_context.client.sni))
        if conn_context.server.address:
            names.append(name(conn_context.server.address[0]))
        if conn_context.server.certificate_list:
            upstream = conn_context.server.certificate_list[0]
            if upstream.cn:
                names.append(name(upstream.cn))
            names.extend(upstream.altnames)
            organization = upstream.organization
        kept = [n for n in dict.fromkeys(names) if keep(n)] or names[:1]
        cn = str(kept[0].value) if kept else None
        return tlsconfig.certstore.get_cert(cn, kept, organization)

    tlsconfig.get_cert = get_cert


# flow.metadata keys of a streamed response that an addon continues after the upstream's end of message.
STREAM_MORE = "headroom_stream_more"  # set (to anything) by the addon: run the hook below before the end
STREAM_CHUNK = "headroom_stream_chunk"  # what the hook leaves: bytes to send on, or None (or nothing): done
_stream_append: bool | None = None


def enable_stream_append() -> bool:
    """Let an addon send more of a streamed response after the upstream's end of message, on mitmproxy's own
    connection. mitmproxy 11 and 12 stream a body through `flow.response.stream`, a synchronous callable, and
    await the `response` hook before they send the end of message to the client, but data only reaches the
    client as the stream layer's own commands, made from the upstream's chunks. Wrapped here:
    `layers.http.HttpStream.send_response`, which the stream layer runs at the upstream's end of message
    (`already_streamed=True`). When the flow's metadata holds STREAM_MORE, it first runs the hook
    `headroom_stream_more(flow)` (a blocking hook like every other: the layer waits for the addon, other
    events queue) again and again, sending the bytes each run leaves in STREAM_CHUNK to the client as response
    data, until a run leaves None; then mitmproxy's own send_response (the `response` hook, trailers, end of
    message). Returns False, patching nothing, where the layer lacks what this relies on (the caller keeps its
    other way then). Idempotent."""
    global _stream_append
    if _stream_append is not None:
        return _stream_append
    try:
        from mitmproxy.proxy import commands
        from mitmproxy.proxy.layers import http as layers_http

        stream_cls: Any = layers_http.HttpStream
        original = stream_cls.send_response
        send_http, response_data = layers_http.SendHttp, layers_http.ResponseData
        hook_base: Any = commands.StartHook
    except (ImportError, AttributeError):
        _stream_append = False
        return False

    @dataclasses.dataclass
    class StreamMoreHook(hook_base):  # type: ignore[misc]  # StartHook, as mitmproxy's own hooks subclass it
        """Ask the addons for the next piece of a streamed response the upstream has finished."""

        name = STREAM_MORE
        flow: Any

    def send_response(self: Any, already_streamed: bool = False) -> Any:
        flow = self.flow
        if already_streamed and flow.metadata.pop(STREAM_MORE, None) is not None:
            while True:
                flow.metadata.pop(STREAM_CHUNK, None)
                yield StreamMoreHook(flow)
                chunk = flow.metadata.pop(STREAM_CHUNK, None)
                if chunk is None:
                    break
                if chunk:
                    yield send_http(response_data(self.stream_id, chunk), self.context.client)
        yield from original(self, already_streamed)

    send_response.__doc__ = original.__doc__
    stream_cls.send_response = send_response
    _stream_append = True
    return True
