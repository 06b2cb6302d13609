"""The headroom CA: created with cryptography, RFC 5280 compliant, kept where mitmproxy looks for it.

mitmproxy reads `<confdir>/mitmproxy-ca.pem` (key + cert, 0600) and issues leaf certificates from it;
clients trust `<confdir>/mitmproxy-ca-cert.pem` (the public certificate only).

A CA made by this version is limited by X.509 name constraints (critical, RFC 5280 4.2.1.10) to the DNS
subtrees of the intercepted hosts (core.hosts.constraint_domains: the built-in list, the extra hosts and the
routed hosts known when it is made), and to no IP address at all: a client that honours them (docs/team.md
has the measured table) refuses anything else it would sign, so a stolen key cannot impersonate other sites
to the machines that trust it. A CA made before is never replaced silently: `headroom certs rotate` makes a
constrained one (then trust it again).
"""
from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from headroom.command import command
from headroom.home import ensure_home, home

__all__ = [
    "CAFiles", "CAError", "CAStatus", "ca_files", "create_ca", "default_permitted", "ensure_ca", "inspect_ca",
    "load_ca", "permitted_domains", "publish_cert", "rotate_ca", "strict_check", "unpermitted",
]

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


@contextlib.contextmanager
def _creating(confdir: Path) -> Iterator[None]:
    """Hold the CA folder's lock: one process at a time creates, rotates or republishes the CA. (Two first
    uses at once, `certs init` and two wraps, left the key and the published certificate from different
    CAs in 5 of 40 trials.)"""
    try:
        confdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(confdir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise CAError(f"cannot write the CA under {confdir}: {e.strerror}; "
                      "make it writable or set HEADROOM_HOME to a writable folder") from e
    try:
        try:
            import fcntl
        except ImportError:  # Windows: msvcrt locks a byte range
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def default_permitted(extra: Iterable[str] = ()) -> list[str]:
    """The DNS subtrees a new CA is limited to: the built-in LLM hosts', and `extra` hosts' (globs allowed)."""
    from headroom.core.hosts import BUILTIN_HOSTS, constraint_domains

    return constraint_domains([*BUILTIN_HOSTS, *extra])


def permitted_domains(cert) -> list[str] | None:
    """The DNS subtrees a CA certificate's name constraints permit; None when it has none (it signs for any name)."""
    from cryptography import x509

    try:
        nc = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None
    return [str(n.value) for n in nc.permitted_subtrees or () if isinstance(n, x509.DNSName)]


def unpermitted(cert, hosts: Iterable[str]) -> list[str]:
    """The hosts (globs: their subtree) a CA cannot sign for; [] for an unconstrained CA."""
    from headroom.core.hosts import constraint_domains, permits

    domains = permitted_domains(cert)
    if domains is None:
        return []
    out = []
    for h in hosts:
        wanted = constraint_domains([h])
        if not wanted or not all(permits(domains, d) for d in wanted):
            out.append(h)
    return out


def create_ca(files: CAFiles, permitted: Sequence[str] | None = None) -> CAFiles:
    """Create a new CA (EC P-256, BasicConstraints CA:TRUE critical, KeyUsage critical, SKI/AKI), limited to
    the `permitted` DNS subtrees and no IP address (None: no name constraints; [] is refused)."""
    with _creating(files.confdir):
        return _create_ca(files, permitted)


def _name_constraints(permitted: Sequence[str]):
    import ipaddress

    from cryptography import x509

    if not permitted:
        raise CAError("a CA limited to no host names could sign nothing; give the hosts it intercepts")
    return x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(d) for d in permitted],
        # Every IP address excluded: the intercepted hosts are names, and an IP SAN is not constrained by DNS ones.
        excluded_subtrees=[x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")), x509.IPAddress(ipaddress.ip_network("::/0"))],
    )


def _create_ca(files: CAFiles, permitted: Sequence[str] | None = None) -> CAFiles:
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
    builder = (
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
    )
    if permitted is not None:
        builder = builder.add_extension(_name_constraints(permitted), critical=True)
    cert = builder.sign(key, hashes.SHA256())
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


def ensure_ca(root: Path | None = None, hosts: Iterable[str] = ()) -> CAFiles:
    """The CA files, created on first use (under the CA folder's lock) limited to the built-in hosts and
    `hosts` (the extra and routed ones the caller knows); CAError when the published certificate is not the
    key's: clients would trust a CA that signs nothing they see. An existing CA is kept as it is."""
    if root is None:
        ensure_home()
    files = ca_files(root)
    if files.key_and_cert.exists() and files.cert.exists():
        _check_pair(files)
        return files
    with _creating(files.confdir):
        return _ensure_ca(files, default_permitted(hosts))


def _check_pair(files: CAFiles) -> None:
    if not os.access(files.key_and_cert, os.R_OK):
        raise CAError(f"cannot read the CA key {files.key_and_cert}; fix its owner or run `{command()} certs rotate`")
    from cryptography import x509

    cert, _ = load_ca(files)
    try:
        published = x509.load_pem_x509_certificate(files.cert.read_bytes())
    except (OSError, ValueError):
        published = None
    if published != cert:
        raise CAError(f"the CA certificate {files.cert} is not the one of the key {files.key_and_cert}: "
                      f"run `{command()} certs rotate` (then trust the new CA again: `{command()} certs install`)")


def _ensure_ca(files: CAFiles, permitted: Sequence[str] | None) -> CAFiles:
    if files.key_and_cert.exists():
        if not os.access(files.key_and_cert, os.R_OK):
            raise CAError(f"cannot read the CA key {files.key_and_cert}; fix its owner or run `{command()} certs rotate`")
        # Parse it now: mitmproxy would otherwise fail on it only after the proxy said it was listening,
        # with a traceback, and clients would be handed a CA that cannot sign anything.
        load_ca(files)
        if not files.cert.exists():
            # Never replace an existing key (clients and OS stores may trust it): re-derive the public file.
            try:
                publish_cert(files)
            except OSError as e:
                raise CAError(f"cannot write {files.cert}: {e.strerror}; make {files.confdir} writable") from e
        _check_pair(files)
        return files
    return _create_ca(files, permitted)


@dataclass(frozen=True)
class CAStatus:
    """What `doctor` and `certs path` report about the CA."""

    exists: bool
    subject: str = ""
    not_after: datetime.datetime | None = None
    days_left: int = 0
    key_matches: bool = False
    strict_ok: bool = False
    strict_error: str = ""
    key_mode: int | None = None
    sha256: str = ""
    error: str = ""  # unreadable or unparsable: what to do


def load_ca(files: CAFiles):
    """(certificate, private key) from mitmproxy-ca.pem; CAError naming the fix when unreadable."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        data = files.key_and_cert.read_bytes()
    except PermissionError as e:
        raise CAError(f"cannot read the CA key {files.key_and_cert}: permission denied; "
                      f"fix its owner or run `{command()} certs rotate`") from e
    except OSError as e:
        # init keeps an existing (broken) file; rotate moves it aside and makes a new CA.
        fix = f"run `{command()} certs init`" if not files.key_and_cert.exists() else f"run `{command()} certs rotate`"
        raise CAError(f"cannot read the CA key {files.key_and_cert}: {e.strerror}; {fix}") from e
    try:
        key = serialization.load_pem_private_key(data, password=None)
        cert = x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE-----"):])
    except (ValueError, TypeError) as e:
        # cryptography's own message is a paragraph plus an OpenSSL error list: not one line.
        raise CAError(f"the CA file {files.key_and_cert} is damaged (not a PEM private key followed by its "
                      f"certificate); run `{command()} certs rotate`") from e
    return cert, key


def _mint_leaf(ca_cert, ca_key, hostname: str):
    """A leaf for `hostname` issued the way mitmproxy issues them (SAN, SKI, AKI, EKU serverAuth)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return leaf


def strict_check(ca_cert, ca_key) -> str:
    """'' if a leaf issued by this CA verifies under RFC 5280 strict rules (X509_V_FLAG_X509_STRICT,
    what Python 3.13's default context enforces), else OpenSSL's reason."""
    from OpenSSL import crypto

    domains = permitted_domains(ca_cert)  # a constrained CA signs only under its subtrees
    leaf = _mint_leaf(ca_cert, ca_key, f"strict-check.{domains[0]}" if domains else "strict-check.headroom.invalid")
    store = crypto.X509Store()
    store.add_cert(crypto.X509.from_cryptography(ca_cert))
    store.set_flags(crypto.X509StoreFlags.X509_STRICT)
    try:
        crypto.X509StoreContext(store, crypto.X509.from_cryptography(leaf)).verify_certificate()
    except crypto.X509StoreContextError as e:
        return str(e)
    return ""


def inspect_ca(files: CAFiles | None = None) -> CAStatus:
    """Check the CA without creating it: present, readable, dates, key pair, strict verification."""
    from cryptography.hazmat.primitives import hashes, serialization

    files = files or ca_files()
    if not files.key_and_cert.exists():
        return CAStatus(exists=False, error=f"no CA at {files.key_and_cert}; run `{command()} certs init`")
    try:
        cert, key = load_ca(files)
    except CAError as e:
        return CAStatus(exists=True, error=str(e))
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    matches = key.public_key().public_bytes(serialization.Encoding.DER, pub) == cert.public_key().public_bytes(
        serialization.Encoding.DER, pub
    )
    not_after = cert.not_valid_after_utc
    days_left = (not_after - datetime.datetime.now(datetime.timezone.utc)).days
    strict_error = strict_check(cert, key) if matches else "the key does not match the certificate"
    error = ""
    try:
        if cert.public_bytes(serialization.Encoding.PEM) not in files.cert.read_bytes():
            error = f"{files.cert} is not the CA's certificate; run `{command()} certs init` to rewrite it"
    except OSError:
        error = f"{files.cert} is missing; run `{command()} certs init` to rewrite it"
    return CAStatus(
        exists=True,
        subject=cert.subject.rfc4514_string(),
        not_after=not_after,
        days_left=days_left,
        key_matches=matches,
        strict_ok=not strict_error,
        strict_error=strict_error,
        key_mode=files.key_and_cert.stat().st_mode & 0o777,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        error=error,
    )


def publish_cert(files: CAFiles) -> None:
    """Rewrite the public certificate file from the key file (it is derived data). The caller holds the
    CA folder's lock, or nothing else writes the CA at once."""
    from cryptography.hazmat.primitives import serialization

    cert, _ = load_ca(files)
    _write_atomic(files.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def rotate_ca(files: CAFiles | None = None, hosts: Iterable[str] = ()) -> tuple[CAFiles, Path | None]:
    """Replace the CA with a new one limited to the built-in hosts and `hosts`; the old files are kept under
    ca/retired/ (for uninstalling them from OS stores). Returns the files and the folder the old CA went to
    (None if there was none)."""
    files = files or ca_files()
    with _creating(files.confdir):
        return _rotate_ca(files, default_permitted(hosts))


def _rotate_ca(files: CAFiles, permitted: Sequence[str] | None = None) -> tuple[CAFiles, Path | None]:
    retired = None
    if files.key_and_cert.exists() or files.cert.exists():
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        retired = files.confdir / "retired" / stamp
        try:
            retired.mkdir(mode=0o700, parents=True, exist_ok=True)
            for p in files.confdir.glob("mitmproxy-*"):
                os.replace(p, retired / p.name)
        except OSError as e:
            raise CAError(f"cannot move the old CA out of {files.confdir}: {e.strerror}; "
                          "make it writable or set HEADROOM_HOME to a writable folder") from e
    return _create_ca(files, permitted), retired
