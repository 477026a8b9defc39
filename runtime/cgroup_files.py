"""The control files of a cgroup: a value written, a counter read, the v2 controllers listed or enabled.

Each value goes in one write() on a descriptor of its own, as the kernel
parses each write as one value; a counter file that is missing means its
controller is not there, and reads as 0. Standard library only; never
imports Django.
"""

from __future__ import annotations

import contextlib
import os


def v2_controllers(folder: str | None, name: str) -> set[str]:
    """The controllers listed in a v2 group's cgroup.controllers or cgroup.subtree_control."""
    if not folder:
        return set()
    try:
        with open(os.path.join(folder, name)) as f:
            return set(f.read().split())
    except OSError:
        return set()


def enable_v2_controllers(folder: str) -> None:
    """Let groups below folder use memory and pids where its parent lets it (pure v2 machines)."""
    available = v2_controllers(folder, "cgroup.controllers")
    enabled = v2_controllers(folder, "cgroup.subtree_control")
    for controller in ("memory", "pids"):
        if controller in available and controller not in enabled:
            # EBUSY where folder holds processes: then it stays off.
            with contextlib.suppress(OSError):
                write(folder, "cgroup.subtree_control", f"+{controller}")


def write(folder: str, name: str, value: str) -> None:
    fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def field(folder: str, name: str, key: str) -> int:
    """The number after `key` in a flat-keyed cgroup file; 0 when absent."""
    try:
        with open(os.path.join(folder, name), "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == key.encode():
                    return int(parts[1])
    except FileNotFoundError:
        pass  # the controller is not there
    return 0
