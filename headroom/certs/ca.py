"""The headroom CA: created with cryptography, RFC 5280 compliant, kept where mitmproxy looks for it.

mitmproxy reads `<confdir>/mitmproxy-ca.pem` (key + cert, 0600) and issues leaf certificates from it;
clients trust `<confdir>/mitmproxy-ca-cert.pem` (the public certificate only).
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from headroom.home import ensure_home, home

__all__ = ["CAFiles", "CAError", "ca_files", "create_ca", "ensure_ca"]

CA_VALIDITY_DAYS = 3650
CA_COMMON_NAME = "Headroom local CA"


class CAError(Exception):
    """The CA cannot be created or read; the message says what to do."""


@dataclass(frozen=True)
class CAFiles:
    confdir: Path  # what mitmproxy's `confdir` option is set to
    key_and_cert: Path  # mitmproxy-ca.pem: private key + certificate, 0600
    cert: Path  # mitmproxy-ca-cert.pem: the certificate clients trust


def ca_files(root: Path | None = None) -> CAFiles:
    confdir = (root or home()) / "ca"
    return CAFiles(confdir, confdir / "mitmproxy-ca.pem", confdir / "mitmproxy-ca-cert.pem")


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def create_ca(files: CAFiles) -> CAFiles:
    """Create a new CA (EC P-256, BasicConstraints CA:TRUE critical, KeyUsage critical, SKI/AKI)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Headroom"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=CA_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    try:
        files.confdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomic(files.key_and_cert, key_pem + cert_pem, 0o600)
        _write_atomic(files.cert, cert_pem, 0o644)
    except OSError as e:
        raise CAError(
            f"cannot write the CA under {files.confdir}: {e.strerror}; "
            "make it writable or set HEADROOM_HOME to a writable folder"
        ) from e
    return files


def ensure_ca(root: Path | None = None) -> CAFiles:
    """The CA files, created on first use."""
    if root is None:
        ensure_home()
    files = ca_files(root)
    if files.key_and_cert.exists() and files.cert.exists():
        if not os.access(files.key_and_cert, os.R_OK):
            raise CAError(f"cannot read the CA key {files.key_and_cert}; fix its owner or run `headroom certs rotate`")
        return files
    return create_ca(files)
