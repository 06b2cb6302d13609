"""Upstream TLS policy: RFC 5280 strict chain verification unless HEADROOM_TLS_STRICT=0, and errors that say
what to do when an upstream certificate is refused.

mitmproxy's upstream contexts (pyOpenSSL) verify the chain, signature, expiry and hostname against
`ssl_verify_upstream_trusted_ca`, but never set X509_V_FLAG_X509_STRICT (reference/platform.md §2). Python
3.13 clients do; so Headroom sets it on every upstream connection, to refuse what a strict client would.
The built-in TlsConfig addon runs before user addons and builds `data.ssl_conn`; the flag is set on that
connection's own verify parameters, never on the shared (cached) context.
"""
from __future__ import annotations

import json
import logging
import re

from mitmproxy import ctx, http

from headroom import compat
from headroom.certs.trust import STRICT_FIX, X509_V_FLAG_X509_STRICT, is_strict_only_error

__all__ = ["TlsPolicy"]

log = logging.getLogger(__name__)

MAX_REMEMBERED = 1024  # failed server connections remembered until their CONNECT answer is written


class TlsPolicy:
    def __init__(self) -> None:
        # server connection id -> (OpenSSL verify code, message): filled when a handshake fails, read when
        # the CONNECT that opened it is answered.
        self._failures: dict[str, tuple[int, str]] = {}

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_tls_strict", bool, True,
            "Verify upstream certificates with RFC 5280 strict rules (X509_V_FLAG_X509_STRICT); "
            "HEADROOM_TLS_STRICT=0 turns only that off.",
        )

    def running(self) -> None:
        """With a CA limited by name constraints (certs/ca.py), leaves carry only the names it may sign: the
        upstream certificate's other SANs (mitmproxy copies them) would make a client refuse the leaf."""
        from pathlib import Path

        from cryptography import x509

        from headroom.certs.ca import permitted_domains
        from headroom.core.hosts import permits

        try:
            cert = x509.load_pem_x509_certificate((Path(ctx.options.confdir).expanduser()
                                                   / "mitmproxy-ca-cert.pem").read_bytes())
            tlsconfig = ctx.master.addons.get("tlsconfig")
        except (OSError, ValueError, AttributeError):  # no CA file (an addon test): mitmproxy's own leaves
            return
        domains = permitted_domains(cert)
        if domains is None or tlsconfig is None:
            return
        compat.limit_leaf_names(tlsconfig, lambda n: isinstance(n, x509.DNSName) and permits(domains, str(n.value)))

    def tls_clienthello(self, data) -> None:
        """Decrypt only what the client asked for by an intercepted name. mitmproxy's allow_hosts also
        matches the ClientHello's SNI, so a CONNECT to an unlisted address (an IP, another host) naming an
        LLM host in its SNI was decrypted; the decision is the CONNECT's, as for every other flow."""
        address = data.context.server.address
        if not address or data.ignore_connection:
            return
        asked = f"{address[0]}:{address[1]}"
        patterns = getattr(ctx.options, "allow_hosts", None) or []
        if patterns and not any(re.match(p, asked, re.IGNORECASE) for p in patterns):
            data.ignore_connection = True

    def tls_start_server(self, data) -> None:
        if data.ssl_conn is None or ctx.options.ssl_insecure or not ctx.options.headroom_tls_strict:
            return
        lib = compat.openssl_lib()
        param = lib.SSL_get0_param(compat.ssl_handle(data.ssl_conn))
        lib.X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT)

    def tls_failed_server(self, data) -> None:
        if data.ssl_conn is None:
            return
        lib = compat.openssl_lib()
        code = int(lib.SSL_get_verify_result(compat.ssl_handle(data.ssl_conn)))
        if code == 0:  # not a certificate problem (refused, reset, protocol): mitmproxy's message says it
            return
        reason = compat.openssl_ffi().string(lib.X509_verify_cert_error_string(code)).decode()
        host = data.conn.sni or (data.conn.address[0] if data.conn.address else "?")
        if self._strict_only(code):
            message = f"upstream {host}: certificate verify failed: {reason}; {STRICT_FIX}"
        else:
            message = f"upstream {host}: certificate verify failed: {reason}; {_hint(code)}"
        log.warning("%s", message)
        if len(self._failures) >= MAX_REMEMBERED:
            self._failures.pop(next(iter(self._failures)))
        self._failures[data.conn.id] = (code, message)

    def request(self, flow: http.HTTPFlow) -> None:
        # The usual path: CONNECT succeeded, the upstream handshake (made before the client's, to copy the
        # certificate names) failed, and the client's request arrives on a connection that has no upstream.
        # Answer it here with the cause and the fix, in the JSON error shape the OpenAI and Anthropic SDKs
        # print, instead of mitmproxy's HTML page (and without a second doomed upstream attempt).
        if flow.response or flow.server_conn is None:
            return
        failure = self._failures.get(flow.server_conn.id)
        if failure is None:
            return
        code, message = failure
        kind = "upstream_tls_strict" if self._strict_only(code) else "upstream_tls"
        flow.response = http.Response.make(
            502,
            json.dumps({"type": "error", "error": {"type": kind, "message": f"headroom: {message}"}}).encode(),
            {"Content-Type": "application/json"},
        )

    @staticmethod
    def _strict_only(code: int) -> bool:
        return bool(ctx.options.headroom_tls_strict) and is_strict_only_error(code)

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        # With the eager connection strategy the upstream handshake happens while answering CONNECT, so the
        # client's only view of it is this 502: put the cause and the fix in its reason phrase (which
        # Python's http.client, httpx/httpcore and curl -v show) and its body.
        failure = self._failures.pop(flow.server_conn.id, None)
        if failure is None or flow.response is None:
            return
        code, message = failure
        if self._strict_only(code):
            reason = "Upstream certificate fails strict RFC 5280 checks; set HEADROOM_TLS_STRICT=0 to allow it"
        else:
            reason = "Upstream certificate verify failed"
        flow.response = http.Response.make(
            502, (f"headroom: {message}\n").encode(), {"Content-Type": "text/plain; charset=utf-8"}
        )
        flow.response.reason = reason

    def error(self, flow: http.HTTPFlow) -> None:
        # A connection made only after the request was read (lazy strategy, or a reconnect) fails here:
        # mitmproxy answers 502 with OpenSSL's reason, the proxy log has the fix (tls_failed_server).
        # Record the fix on the flow's error too, for the dashboard and the ledger.
        failure = self._failures.get(flow.server_conn.id) if flow.server_conn else None
        if failure is not None and flow.error is not None and failure[1] not in flow.error.msg:
            flow.error.msg = f"{flow.error.msg} ({failure[1]})"


def _hint(code: int) -> str:
    lib = compat.openssl_lib()
    if code in (lib.X509_V_ERR_CERT_HAS_EXPIRED, lib.X509_V_ERR_CERT_NOT_YET_VALID):
        return "the server's certificate is outside its validity period (check the system clock)"
    if code == lib.X509_V_ERR_HOSTNAME_MISMATCH:
        return "the certificate is not for this host name (a misrouted host or an intercepting device)"
    if code in (
        lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, lib.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
        lib.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
        lib.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    ):
        return ("the issuing CA is not trusted; if your network inspects TLS, give the proxy your "
                "organisation's CA with --upstream-ca FILE or HEADROOM_CA_BUNDLE=FILE")
    return "the upstream certificate was refused"
