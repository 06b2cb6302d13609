"""What a wrapped agent's environment needs to go through the proxy and trust it, computed, never applied.

Two kinds of CA variables (reference/platform.md §3): *replacing* ones (SSL_CERT_FILE, REQUESTS_CA_BUNDLE,
CURL_CA_BUNDLE, AWS_CA_BUNDLE, GIT_SSL_CAINFO) make a client trust only that file, so they get a bundle of
the roots the user already trusts plus the headroom CA (tunnelled hosts still present real certificates);
*additive* ones (NODE_EXTRA_CA_CERTS, DENO_CERT) get the headroom CA added to whatever the user had.
Bundles are content-addressed files under <home>/ca/bundles/, so concurrent wraps never race on a file.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Mapping

from headroom.certs.ca import CAFiles, ensure_ca
from headroom.certs.trust import os_roots_pem

__all__ = [
    "ADDITIVE_CA_VARS",
    "PROXY_VARS",
    "REPLACING_CA_VARS",
    "REPLACING_IF_SET",
    "client_bundle",
    "client_env",
    "merge_no_proxy",
    "pem_certs",
    "proxy_url",
    "user_roots",
]

REPLACING_CA_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE", "GIT_SSL_CAINFO")
# Replacing variables of other tools, updated only when the user already set them (they chose to replace
# those tools' trust; the agent may run them, and their hosts are tunnelled, so they need the same bundle).
REPLACING_IF_SET = (
    "NIX_SSL_CERT_FILE", "PIP_CERT", "HTTPLIB2_CA_CERTS", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
    "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
)
ADDITIVE_CA_VARS = ("NODE_EXTRA_CA_CERTS", "DENO_CERT")
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
LOOPBACK_NO_PROXY = ("localhost", "127.0.0.1", "::1")

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.S)


def pem_certs(data: bytes) -> list[bytes]:
    """The PEM certificate blocks in `data`, normalised to \\n line ends, duplicates dropped, order kept."""
    seen: set[bytes] = set()
    out = []
    for m in _PEM_RE.finditer(data):
        block = m.group(0).replace(b"\r\n", b"\n")
        if block not in seen:
            seen.add(block)
            out.append(block)
    return out


def proxy_url(port: int, host: str = "127.0.0.1", userinfo: str | None = None) -> str:
    """The proxy's URL; `userinfo` ("user:password", e.g. a wrapped session's credential) goes before the host."""
    return f"http://{userinfo + '@' if userinfo else ''}{host}:{port}"


def user_roots(env: Mapping[str, str]) -> tuple[bytes, str]:
    """The roots the user already trusts, and where they came from: the files their replacing CA variables
    name (all of them, deduplicated), else the OS roots, else certifi's."""
    parts, sources = [], []
    for var in (*REPLACING_CA_VARS, *REPLACING_IF_SET):
        path = env.get(var)
        if path and path not in sources and os.path.isfile(path):
            try:
                parts.append(Path(path).read_bytes())
                sources.append(path)
            except OSError:
                continue
    if parts:
        return b"\n".join(parts), ", ".join(sources)
    roots = os_roots_pem()
    if roots:
        return roots, "the OS trust store"
    import certifi

    return Path(certifi.where()).read_bytes(), "certifi"


def _write_addressed(dest_dir: Path, stem: str, certs: list[bytes]) -> Path:
    data = b"\n".join(certs) + b"\n"
    path = dest_dir / f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}.pem"
    if path.exists() and path.read_bytes() == data:
        return path
    dest_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def client_bundle(env: Mapping[str, str], files: CAFiles) -> Path:
    """The replacing-variable bundle: the user's current roots plus the headroom CA."""
    roots, _ = user_roots(env)
    ca = pem_certs(files.cert.read_bytes())
    # The CA goes first: a wrapped `headroom wrap` inside a wrap finds it already there and adds nothing.
    return _write_addressed(files.confdir / "bundles", "client", pem_certs(b"\n".join(ca) + b"\n" + roots))


def _additive_file(existing: str | None, files: CAFiles) -> str:
    if not existing or not os.path.isfile(existing):
        return str(files.cert.resolve())
    try:
        theirs = Path(existing).read_bytes()
    except OSError:
        return str(files.cert.resolve())
    ca = pem_certs(files.cert.read_bytes())
    merged = pem_certs(theirs + b"\n" + b"\n".join(ca))
    if merged == pem_certs(theirs):
        return existing
    return str(_write_addressed(files.confdir / "bundles", "extra", merged).resolve())


def merge_no_proxy(env: Mapping[str, str]) -> str:
    """The user's NO_PROXY / no_proxy entries (both, deduplicated, order kept) plus the loopback names."""
    out: list[str] = []
    for var in ("NO_PROXY", "no_proxy"):
        for item in (env.get(var) or "").split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    for item in LOOPBACK_NO_PROXY:
        if item not in out:
            out.append(item)
    return ",".join(out)


def client_env(env: Mapping[str, str], port: int, files: CAFiles | None = None,
               host: str = "127.0.0.1", userinfo: str | None = None) -> dict[str, str]:
    """The variables to set in a wrapped child's environment (only those; the caller merges them).
    `userinfo` is wrap's session credential, carried in every proxy variable's URL."""
    files = files or ensure_ca()
    url = proxy_url(port, host, userinfo)
    bundle = str(client_bundle(env, files).resolve())  # absolute: the child may change directory
    out = {var: url for var in PROXY_VARS}
    no_proxy = merge_no_proxy(env)
    out["NO_PROXY"] = out["no_proxy"] = no_proxy
    for var in REPLACING_CA_VARS:
        out[var] = bundle
    for var in REPLACING_IF_SET:
        if env.get(var):
            out[var] = bundle
    for var in ADDITIVE_CA_VARS:
        out[var] = _additive_file(env.get(var), files)
    # Node >= 22.21 / 24 honour HTTP(S)_PROXY for fetch and http(s) only with this; older Node ignores it.
    out["NODE_USE_ENV_PROXY"] = "1"
    return out
