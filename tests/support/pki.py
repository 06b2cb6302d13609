"""Throwaway test PKI: a CA with chosen properties, leaf certificates for names, their PEM files.

One place for every test certificate (the trust tests' good and sloppy CAs, the fake upstream's CA and
leaf), all EC P-256 with the RFC 5280 extensions Python 3.13's strict mode asks for, unless a test asks
for a defect:

    ca = make_ca("Good test CA")                        # bc_critical=False: the corporate-CA defect
    leaf = make_leaf(ca, "api.openai.com", "127.0.0.1")  # DNS names and IP addresses; expired=True
    write_pems(leaf, dir / "chain.pem", dir / "key.pem", chain=[ca])

The product's own CA (headroom/certs/ca.py) is not made here: it is what the tests check.
"""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Issued", "make_ca", "make_leaf", "write_pems"]

_DAY = datetime.timedelta(days=1)


@dataclass
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
    )


def _builder(subject: x509.Name, issuer: x509.Name, key, start: datetime.datetime, end: datetime.datetime):
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )


def make_ca(name: str, *, bc_critical: bool = True, days: int = 30) -> Issued:
    """A root CA valid from a day ago for `days`; bc_critical=False gives the corporate-CA defect
    (BasicConstraints not critical) that RFC 5280 strict mode refuses."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        _builder(subject, subject, key, now - _DAY, now + days * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=bc_critical)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_leaf(ca: Issued, *names: str, expired: bool = False, common_name: str | None = None) -> Issued:
    """A server certificate signed by `ca` for `names` (DNS names or IP addresses, in that order in the
    SAN, duplicates dropped), otherwise strict-compliant; expired=True: it ended yesterday. The common
    name is the first name unless given."""
    if not names:
        raise ValueError("make_leaf needs at least one name")
    names = tuple(dict.fromkeys(names))
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - 10 * _DAY, now - _DAY) if expired else (now - _DAY, now + 29 * _DAY)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or names[0])])
    cert = (
        _builder(subject, ca.cert.subject, key, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def write_pems(issued: Issued, cert: Path, key: Path | None = None, *, chain: Iterable[Issued] = ()) -> None:
    """Write the certificate (followed by the `chain` certificates: a full chain for a server) and,
    if `key` is given, its private key (PKCS#8), creating the folders."""
    cert = Path(cert)
    cert.parent.mkdir(parents=True, exist_ok=True)
    cert.write_bytes(issued.cert_pem() + b"".join(c.cert_pem() for c in chain))
    if key is not None:
        key = Path(key)
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(issued.key_pem())
