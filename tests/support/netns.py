"""A network namespace for a test: a second host on this machine, joined to this one by one veth pair.

    with Netns.create() as ns:
        subprocess.run([*ns.prefix, sys.executable, ...])   # a process that lives in it
        with ns.entered():                                  # or a socket made in it, from this thread
            sock = socket.create_server((ns.inner_ip, 0))

Inside, a process sees its own loopback, `inner_ip` and this host's `outer_ip` across the veth, and nothing
else: no route anywhere. So a server on this host's 127.0.0.1 cannot be reached from inside; a proxy on
`outer_ip` can. It needs root and iproute2 (`ip netns`); `Netns.create` raises NetnsUnavailable saying which
is missing, and the tests that need one fail with it (never skip: CI runs as root on this kind of machine).
"""
from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from typing import Iterator

__all__ = ["Netns", "NetnsUnavailable"]

CLONE_NEWNET = 0x40000000
_ids = itertools.count(1)


class NetnsUnavailable(RuntimeError):
    pass


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise NetnsUnavailable(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}")


@dataclass
class Netns:
    name: str
    outer_if: str
    outer_ip: str  # this host's end of the veth
    inner_ip: str  # the namespace's end

    @classmethod
    def create(cls) -> Netns:
        if shutil.which("ip") is None:
            raise NetnsUnavailable("no `ip` command: install iproute2 (.ci/run does)")
        if os.geteuid() != 0:
            raise NetnsUnavailable("network namespaces need root (CI runs as root)")
        n = next(_ids)
        tag = f"{os.getpid() % 100000}{n}"
        net = random.Random(f"{os.getpid()}-{n}").randrange(0, 16000)
        base = f"10.{200 + net // 4000}.{(net % 4000) // 16}.{(net % 16) * 16}"
        prefix = base.rsplit(".", 1)[0]
        last = int(base.rsplit(".", 1)[1])
        ns = cls(name=f"hrtest{tag}", outer_if=f"hro{tag}", outer_ip=f"{prefix}.{last + 1}",
                 inner_ip=f"{prefix}.{last + 2}")
        inner_if = f"hri{tag}"
        _ip("netns", "add", ns.name)
        try:
            _ip("link", "add", ns.outer_if, "type", "veth", "peer", "name", inner_if)
            _ip("link", "set", inner_if, "netns", ns.name)
            _ip("addr", "add", f"{ns.outer_ip}/28", "dev", ns.outer_if)
            _ip("link", "set", ns.outer_if, "up")
            _ip("-n", ns.name, "addr", "add", f"{ns.inner_ip}/28", "dev", inner_if)
            _ip("-n", ns.name, "link", "set", inner_if, "up")
            _ip("-n", ns.name, "link", "set", "lo", "up")
        except BaseException:
            ns.destroy()
            raise
        return ns

    @property
    def prefix(self) -> list[str]:
        """The command prefix that runs a program inside."""
        return ["ip", "netns", "exec", self.name]

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """This thread in the namespace (sockets made meanwhile stay in it), then back."""
        libc = ctypes.CDLL(None, use_errno=True)
        with open("/proc/thread-self/ns/net") as home, open(f"/var/run/netns/{self.name}") as target:
            if libc.setns(target.fileno(), CLONE_NEWNET) != 0:
                raise NetnsUnavailable(f"setns into {self.name}: {os.strerror(ctypes.get_errno())}")
            try:
                yield
            finally:
                if libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                    raise NetnsUnavailable(f"setns back: {os.strerror(ctypes.get_errno())}")

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "del", self.outer_if], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20)

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()
