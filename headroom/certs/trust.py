"""Trust for upstream connections: a bundle of certifi, the OS roots and any user-given CA files."""
from __future__ import annotations

import os
import ssl
from pathlib import Path

__all__ = [
    "STRICT_ENV", "STRICT_FIX", "STRICT_ONLY_ERRORS", "client_context", "is_strict_only_error", "os_roots_pem",
    "tls_strict_enabled", "upstream_bundle", "upstream_context",
]

_LINUX_CANDIDATES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
)


def os_roots_pem() -> bytes:
    """The operating system's trusted roots as PEM (empty if none can be found)."""
    paths = ssl.get_default_verify_paths()
    for cand in (paths.cafile, *_LINUX_CANDIDATES):
        if cand and os.path.isfile(cand):
            return Path(cand).read_bytes()
    if hasattr(ssl, "enum_certificates"):  # Windows
        out = []
        for store in ("ROOT", "CA"):
            for der, enc, _trust in ssl.enum_certificates(store):
                if enc == "x509_asn":
                    out.append(ssl.DER_cert_to_PEM_cert(der).encode())
        return b"".join(out)
    return b""


def upstream_bundle(folder: Path, extra: list[Path] | None = None) -> Path:
    """certifi + OS roots + `extra` CA files in one file under `folder` (the file mitmproxy and the relay
    verify upstreams with), named by its content: a proxy started with other CAs in the same home writes
    another file and never changes the one a running proxy reads (it read one shared file lazily, so a
    second proxy without `--upstream-ca` broke the first one's upstream trust)."""
    import hashlib

    import certifi

    parts = [Path(certifi.where()).read_bytes(), os_roots_pem()]
    for p in extra or []:
        parts.append(Path(p).read_bytes())
    data = b"\n".join(x.strip() + b"\n" for x in parts if x.strip())
    dest = folder / f"upstream-bundle-{hashlib.sha256(data).hexdigest()[:16]}.pem"
    if dest.is_file() and dest.read_bytes() == data:
        return dest
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)  # public roots; never world-writable
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    return dest


# --- RFC 5280 strict verification (HEADROOM_TLS_STRICT) -------------------------------------------

STRICT_ENV = "HEADROOM_TLS_STRICT"
STRICT_FIX = (
    "the upstream certificate chain fails RFC 5280 strict verification (common with corporate TLS-inspection "
    "CAs); if you trust it, set HEADROOM_TLS_STRICT=0 for the proxy (e.g. `HEADROOM_TLS_STRICT=0 headroom "
    "proxy`): chain, signature, expiry and hostname checks stay on"
)
X509_V_FLAG_X509_STRICT = 0x20  # OpenSSL's x509_vfy.h; cryptography's bindings expose the same value

# OpenSSL verify errors that only X509_V_FLAG_X509_STRICT raises (x509_vfy.c, OpenSSL 3.x): a chain that
# fails with one of these verifies without the flag, so HEADROOM_TLS_STRICT=0 is the fix to name.
STRICT_ONLY_ERRORS = frozenset({
    77,  # subject signature algorithm and issuer public key algorithm mismatch
    78,  # cert info signature and signature algorithm mismatch
    80,  # Path length invalid for non-CA cert
    81,  # Path length given without key usage keyCertSign
    82,  # Key usage keyCertSign invalid for non-CA cert
    83,  # Issuer name empty
    84,  # Subject name empty
    85,  # Missing Authority Key Identifier
    86,  # Missing Subject Key Identifier
    87,  # Empty Subject Alternative Name extension
    88,  # Subject empty and Subject Alt Name extension not critical
    89,  # Basic Constraints of CA cert not marked critical
    90,  # Authority Key Identifier marked critical
    91,  # Subject Key Identifier marked critical
    92,  # CA cert does not include key usage extension
    93,  # Using cert extension requires at least X509v3
    94,  # Certificate public key has explicit ECC parameters
})
_STRICT_ONLY_TEXT = (
    "not marked critical", "authority key identifier", "subject key identifier", "key usage extension",
    "path length", "keycertsign", "name empty", "subject alternative name", "at least x509v3", "explicit ecc",
)


def tls_strict_enabled(env: "os._Environ | dict | None" = None) -> bool:
    """True unless HEADROOM_TLS_STRICT is 0/false/no/off (strict is the default): for the CLI's own
    connections (doctor); the proxy has it in its Settings."""
    from headroom.settings import is_off

    return not is_off((env if env is not None else os.environ).get(STRICT_ENV, ""))


def is_strict_only_error(message_or_code: "str | int") -> bool:
    """Does this verify error come from RFC 5280 strict checks alone (so HEADROOM_TLS_STRICT=0 fixes it)?"""
    if isinstance(message_or_code, int):
        return message_or_code in STRICT_ONLY_ERRORS
    text = message_or_code.lower()
    return any(t in text for t in _STRICT_ONLY_TEXT)


def _strictness(ctx: ssl.SSLContext, strict: bool | None) -> ssl.SSLContext:
    """Set or clear VERIFY_X509_STRICT on `ctx` (None: HEADROOM_TLS_STRICT of the environment)."""
    if strict is None:
        strict = tls_strict_enabled()
    if strict:
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    else:
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return ctx


def client_context(cafile: "str | Path | None" = None, *, strict: bool | None = None) -> ssl.SSLContext:
    """A Python ssl context for connections Headroom itself makes: the OS trust store (truststore), plus
    `cafile` if given, with VERIFY_X509_STRICT unless HEADROOM_TLS_STRICT=0. Hostname checks always on."""
    import truststore

    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile=str(cafile))
    return _strictness(ctx, strict)


def upstream_context(bundle: "str | Path | None" = None, *, strict: bool | None = None) -> ssl.SSLContext:
    """The ssl context that verifies an upstream as the proxy does: exactly the roots of `bundle` (the
    upstream bundle `upstream_bundle` wrote, which mitmproxy verifies with) when given, else the OS trust
    store; VERIFY_X509_STRICT unless HEADROOM_TLS_STRICT=0, as TlsPolicy sets it on mitmproxy's side. The
    relay and doctor's reachability check use it, so all three verify one way."""
    if not bundle:
        return client_context(strict=strict)
    ctx = ssl.create_default_context(cafile=str(bundle))  # only the bundle: it already holds the OS roots
    return _strictness(ctx, strict)
