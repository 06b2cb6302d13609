"""procs: a pid is only the process we knew while its start token matches."""
from __future__ import annotations

import os
import subprocess
import sys

from headroom.procs import alive, start_token


def test_this_process_is_alive_and_its_token_is_stable():
    token = start_token(os.getpid())
    assert alive(os.getpid(), token) and start_token(os.getpid()) == token


def test_an_exited_child_is_not_alive_even_before_it_is_reaped():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    pid = child.pid
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
    assert not alive(pid)


def test_a_reused_pid_with_another_token_is_not_the_process():
    token = start_token(os.getpid())
    if token is None:  # no /proc: the token cannot tell
        return
    assert not alive(os.getpid(), str(int(token) + 1))
