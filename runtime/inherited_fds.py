"""What a forked execution shares with its zygote: fds 1/2 behind sys.stdout/sys.stderr, and the module's sockets.

The zygote makes the standard streams line-buffered once, before the import,
so print() lines reach the logs at once in every child; each child flushes
them before it exits, and gets a dead socket in place of each one the module
opened at import (R12). Loaded by zygote.py as a plain file under a private
name; runs under any Python >= 3.8, standard library only.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys


def line_buffered_stdio() -> None:
    """Make sys.stdout/sys.stderr line-buffered UTF-8 over fds 1 and 2, so print() lines arrive at once."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, f"__{name}__", None)
        try:
            # In place: loggers created at import keep a reference to this object.
            stream.reconfigure(
                encoding="utf-8", errors="backslashreplace", line_buffering=True
            )
        except (AttributeError, ValueError, OSError):  # absent or not a TextIOWrapper
            stream = open(  # noqa: SIM115 - lives as long as the process
                fd,
                "w",
                encoding="utf-8",
                errors="backslashreplace",
                buffering=1,
                closefd=False,
            )
            setattr(sys, f"__{name}__", stream)
        if getattr(sys, name, None) is None:
            setattr(sys, name, stream)


def inherited_sockets(exclude: set[int]) -> list[int]:
    """Descriptors of this process that are sockets, but for those in exclude."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []  # no procfs: nothing we can inspect
    found = []
    for name in names:
        fd = int(name)
        if fd <= 2 or fd in exclude:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            continue  # the listing's own descriptor, closed since
    return found


def disconnect_sockets(fds: list[int]) -> None:
    """Put an unconnected socket in place of each of fds.

    Two executions writing on one forked database or broker connection
    corrupt each other's traffic (R12); a dead socket fails cleanly instead,
    and the fd number stays taken, so the client's later close() cannot close
    a descriptor opened by this execution.
    """
    dummy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        for fd in fds:
            os.dup2(dummy.fileno(), fd, inheritable=os.get_inheritable(fd))
    finally:
        dummy.close()


def flush_stdio() -> None:
    """Flush every standard stream, the original ones too: an execution's process, before it exits."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        # Stream gone or pipe closed: nothing left to deliver.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()


def flush_std() -> None:
    """Flush sys.stdout and sys.stderr as they are now: the zygote's, before a fork and after the import."""
    for stream in (sys.stdout, sys.stderr):
        # Replaced or closed by user code: nothing of ours is buffered there.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
