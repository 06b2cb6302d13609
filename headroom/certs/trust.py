"""Trust for upstream connections: a bundle of certifi, the OS roots and any user-given CA files."""
from __future__ import annotations

import os
import ssl
from pathlib import Path

__all__ = ["os_roots_pem", "upstream_bundle"]

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


def upstream_bundle(dest: Path, extra: list[Path] | None = None) -> Path:
    """Write certifi + OS roots + `extra` CA files to `dest` (the file mitmproxy verifies upstreams with)."""
    import certifi

    parts = [Path(certifi.where()).read_bytes(), os_roots_pem()]
    for p in extra or []:
        parts.append(Path(p).read_bytes())
    data = b"\n".join(x.strip() + b"\n" for x in parts if x.strip())
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest
