"""Every use of a private API of mitmproxy or pyOpenSSL, in one place, each with what it relies on.

Headroom needs three things neither library offers publicly: OpenSSL's verify parameters and verify result
on a live connection (pyOpenSSL's cffi bindings, `SSL._lib` / `SSL._ffi`, and a connection's `_ssl`
handle), and relabelling an open upstream connection with the address the flow asked for after a route sent
it elsewhere (mitmproxy's `Server.__setattr__` refuses address changes on open connections, to stop addons
believing that would reconnect). tests/test_compat.py checks each against the installed versions, so an
upgrade that removes or changes one fails there, by name, rather than somewhere in a TLS handshake.
"""
from __future__ import annotations

from typing import Any

__all__ = ["openssl_ffi", "openssl_lib", "relabel_server_address", "ssl_handle"]

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
