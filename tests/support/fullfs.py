"""A real, small file system that the test fills: tmpfs mounted on a folder (root only; CI runs as root).

    with small_fs(tmp_path / "fs", "8m") as root:   # skips the test where mounting is not allowed
        ...
        fill(root)                                   # writes until the kernel says ENOSPC
"""
from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

__all__ = ["fill", "small_fs"]


@contextlib.contextmanager
def small_fs(where: Path, size: str = "8m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        for _ in range(20):  # bounded: a process that still holds a file makes umount busy for a moment
            if subprocess.run(["umount", str(where)], capture_output=True, timeout=30).returncode == 0:
                break
            subprocess.run(["sleep", "0.2"], timeout=5)
        else:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def fill(root: Path, name: str = "filler") -> Path:
    """Write `root/name` until the file system is full (ENOSPC); returns the file, to free space by removing it."""
    path = root / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    block = b"\0" * 65536
    try:
        for _ in range(1_000_000):  # bounded by the file system's size long before this
            try:
                os.write(fd, block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]  # the last partial blocks: leave not one byte free
    finally:
        os.close(fd)
    return path
