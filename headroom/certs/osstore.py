"""Adding the headroom CA to (and removing it from) the operating system's trust store, on request only.

Wrap never needs this (it hands the child its own CA variables); it is for tools that read only the OS
store (browsers, Go on macOS, Java with the OS keystore). Each platform's commands are built as argument
lists so `--dry-run` prints exactly what would run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from headroom.command import command

__all__ = ["OSStoreError", "Plan", "detect_platform", "install_plan", "run_plan", "uninstall_plan"]

DEBIAN_ANCHOR = Path("/usr/local/share/ca-certificates/headroom-ca.crt")
FEDORA_ANCHOR = Path("/etc/pki/ca-trust/source/anchors/headroom-ca.pem")
PLATFORMS = ("debian", "fedora", "macos", "windows")


class OSStoreError(Exception):
    """The OS store cannot be changed here; the message says what to do."""


@dataclass(frozen=True)
class Plan:
    platform: str
    commands: tuple[tuple[str, ...], ...]
    note: str = ""


def _os_release() -> dict[str, str]:
    out = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            k, _, v = line.partition("=")
            out[k] = v.strip().strip('"')
    except OSError:
        pass
    return out


def detect_platform() -> str:
    """debian, fedora, macos or windows; OSStoreError for anything else."""
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    rel = _os_release()
    ids = {rel.get("ID", "")} | set(rel.get("ID_LIKE", "").split())
    if ids & {"debian", "ubuntu"} or shutil.which("update-ca-certificates"):
        return "debian"
    if ids & {"fedora", "rhel", "centos"} or shutil.which("update-ca-trust"):
        return "fedora"
    raise OSStoreError(
        f"unknown OS trust store here; add the certificate from `{command()} certs path` by hand "
        "(or pass --platform debian|fedora|macos|windows)"
    )


def _sudo() -> tuple[str, ...]:
    if os.name != "posix" or os.geteuid() == 0:
        return ()
    return ("sudo",) if shutil.which("sudo") else ()


def _sha1(cert_path: Path) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_pem_x509_certificate(cert_path.read_bytes()).fingerprint(hashes.SHA1()).hex().upper()


def install_plan(cert_path: Path, platform: str | None = None) -> Plan:
    platform = platform or detect_platform()
    s = _sudo() if platform in ("debian", "fedora") else ()
    c = str(cert_path)
    if platform == "debian":
        return Plan(platform, ((*s, "install", "-m", "0644", c, str(DEBIAN_ANCHOR)), (*s, "update-ca-certificates")))
    if platform == "fedora":
        return Plan(platform, ((*s, "install", "-m", "0644", c, str(FEDORA_ANCHOR)), (*s, "update-ca-trust", "extract")))
    if platform == "macos":
        keychain = str(Path.home() / "Library/Keychains/login.keychain-db")
        return Plan(platform, (("security", "add-trusted-cert", "-r", "trustRoot", "-k", keychain, c),),
                    "macOS asks for your password to change trust settings")
    if platform == "windows":
        return Plan(platform, (("certutil", "-user", "-addstore", "Root", c),),
                    "Windows asks you to confirm adding the root certificate")
    raise OSStoreError(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")


def uninstall_plan(cert_path: Path, platform: str | None = None) -> Plan:
    platform = platform or detect_platform()
    s = _sudo() if platform in ("debian", "fedora") else ()
    if platform == "debian":
        return Plan(platform, ((*s, "rm", "-f", str(DEBIAN_ANCHOR)), (*s, "update-ca-certificates", "--fresh")))
    if platform == "fedora":
        return Plan(platform, ((*s, "rm", "-f", str(FEDORA_ANCHOR)), (*s, "update-ca-trust", "extract")))
    if platform == "macos":
        keychain = str(Path.home() / "Library/Keychains/login.keychain-db")
        return Plan(platform, (("security", "delete-certificate", "-Z", _sha1(cert_path), keychain),))
    if platform == "windows":
        return Plan(platform, (("certutil", "-user", "-delstore", "Root", _sha1(cert_path)),))
    raise OSStoreError(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")


def run_plan(plan: Plan) -> None:
    """Run each command with the terminal attached (sudo may prompt); stop at the first failure."""
    for cmd in plan.commands:
        if not shutil.which(cmd[0]):
            raise OSStoreError(f"`{cmd[0]}` is not installed here; run with --dry-run and adapt the commands")
        rc = subprocess.call(list(cmd))
        if rc != 0:
            raise OSStoreError(f"`{' '.join(cmd)}` failed (exit {rc}); nothing further was run")
