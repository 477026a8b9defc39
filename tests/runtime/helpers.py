"""Process helpers for the runtime tests."""

from __future__ import annotations

import time


def is_alive(pid: int) -> bool:
    """Whether pid runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # "pid (comm) state ...": comm may contain spaces and parentheses.
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until_gone(pid: int, timeout_s: float = 10) -> None:
    """Poll (bounded) until pid is gone; fail the test otherwise."""
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        assert time.monotonic() < deadline, (
            f"process {pid} still alive after {timeout_s} s"
        )
        time.sleep(0.05)
