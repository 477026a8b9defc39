"""Reading one run's pipes until its process exits, and stopping it once when a limit is crossed.

Used by run_on_zygote.py in the worker; standard library only, never imports Django.
"""

from __future__ import annotations

import math
import os
import select
import threading
import time
from collections.abc import Callable

from . import protocol
from .lines import LineSplitter, LogCallback

# After SIGKILL, how long we wait for the zygote to report the exit.
KILL_GRACE_S = 10.0
MAX_POLL_S = 60.0
# How often a run with a cancel event looks at it.
CANCEL_CHECK_S = 0.25
# How often a run with a disk quota measures its working directory.
DISK_CHECK_S = 1.0
# How often a run in a memory-limited cgroup looks for OOM kills (v1 kills
# only the largest process, the execution itself must then be stopped).
MEMORY_CHECK_S = 0.1
READ_CHUNK_BYTES = 64 * 1024
# After the process exited, what an escaped grandchild still writes is not
# waited for: at most this many reads per pipe.
MAX_DRAIN_READS = 1024

# Why a run was stopped (RunCollector.stopped_by).
CANCELLED = "cancelled"
TIMED_OUT = "timed out"
TOO_LARGE = "result too large"
OVER_DISK_QUOTA = "over its disk quota"
OVER_MEMORY = "over its memory limit"


def _read(fd: int) -> bytes | None:
    """Non-blocking read: None when nothing is there yet, b"" at end of stream."""
    try:
        return os.read(fd, READ_CHUNK_BYTES)
    except BlockingIOError:
        return None


class DiskWatch:
    """Measures a run's working directory now and then; exceeded() once it holds more than the quota."""

    def __init__(self, path: str, limit_mib: int) -> None:
        self.path = path
        self.limit_bytes = limit_mib * 1024 * 1024 if limit_mib > 0 else 0
        self.active = self.limit_bytes > 0
        self._next = time.monotonic() + DISK_CHECK_S

    def exceeded(self, now: float) -> bool:
        if not self.active or now < self._next:
            return False
        self._next = now + DISK_CHECK_S
        return disk_usage_bytes(self.path) > self.limit_bytes


def disk_usage_bytes(path: str) -> int:
    """Bytes really allocated under path (st_blocks: a sparse file costs what it holds).

    User code owns the tree and may swap a folder for a link while we walk:
    every step is relative to a directory descriptor, never following a
    link (os.fwalk), so the walk never leaves the tree.
    """
    total = 0
    try:
        walk = os.fwalk(path, follow_symlinks=False)
        for _, dirs, files, dir_fd in walk:
            for name in dirs + files:
                try:
                    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except OSError:
                    continue  # removed while we looked
                total += st.st_blocks * 512
    except OSError:
        pass  # the top itself is gone or not a folder
    return total


class RunCollector:
    """Log lines to on_log, the result bytes kept; `stopped_by` says which limit killed the run, if one did.

    `exited()` is true once the zygote reported the exit (or died); `wake_fd`
    becomes readable when that happens, so the poll never sleeps past it.
    """

    def __init__(
        self,
        *,
        out_r: int,
        err_r: int,
        res_r: int,
        wake_fd: int,
        exited: Callable[[], bool],
        kill: Callable[[], None],
        on_log: LogCallback,
        deadline: float | None,
        work_dir: str,
        disk_limit_mib: int,
        cancel: threading.Event | None = None,
        over_memory: Callable[[], bool] | None = None,
    ) -> None:
        self.res_r = res_r
        self.exited = exited
        self.kill = kill
        self.deadline = deadline
        self.cancel = cancel
        self.over_memory = over_memory
        self.disk = DiskWatch(work_dir, disk_limit_mib)
        self.lines = {
            out_r: LineSplitter("stdout", on_log),
            err_r: LineSplitter("stderr", on_log),
        }
        self.result = bytearray()
        self.stopped_by: str | None = None
        self.kill_deadline: float | None = None
        self.poller = select.poll()
        for fd in (out_r, err_r, res_r):
            os.set_blocking(fd, False)
            self.poller.register(fd, select.POLLIN)
        self.poller.register(wake_fd, select.POLLIN)
        self.open_fds = {out_r, err_r, res_r}

    def run(self) -> None:
        while not self.exited():
            wait = self._next_wait(time.monotonic())
            if wait is None:
                break  # killed, and the exit report never came
            self._read_ready(wait)
        # What the process wrote before it exited is in the pipes already.
        for fd in list(self.open_fds):
            for _ in range(MAX_DRAIN_READS):
                chunk = _read(fd)
                if not chunk:
                    break
                self._take(fd, chunk)
        for splitter in self.lines.values():
            splitter.close()

    def _next_wait(self, now: float) -> float | None:
        """Stop the run if a limit is crossed; seconds to wait for output, None once the kill's grace is over."""
        if self.kill_deadline is None:
            crossed = self._limit_crossed(now)
            if crossed:
                self._stop(crossed, now)
        if self.kill_deadline is not None:
            return None if now >= self.kill_deadline else self.kill_deadline - now
        wait = MAX_POLL_S if self.deadline is None else self.deadline - now
        if self.cancel is not None:
            wait = min(wait, CANCEL_CHECK_S)
        if self.disk.active:
            wait = min(wait, DISK_CHECK_S)
        if self.over_memory is not None:
            wait = min(wait, MEMORY_CHECK_S)
        return wait

    def _limit_crossed(self, now: float) -> str | None:
        if self.cancel is not None and self.cancel.is_set():
            return CANCELLED
        if self.over_memory is not None and self.over_memory():
            return OVER_MEMORY
        if self.disk.exceeded(now):
            return OVER_DISK_QUOTA
        if self.deadline is not None and now >= self.deadline:
            return TIMED_OUT
        return None

    def _stop(self, why: str, now: float) -> None:
        self.stopped_by = why
        self.kill()
        self.kill_deadline = now + KILL_GRACE_S

    def _read_ready(self, wait: float) -> None:
        # Bounded, so that a huge timeout_s never overflows poll().
        for fd, _ in self.poller.poll(math.ceil(min(wait, MAX_POLL_S) * 1000)):
            if fd not in self.open_fds:
                continue  # the wake pipe: the loop condition sees the exit
            chunk = _read(fd)
            if chunk is None:
                continue
            if not chunk:
                self._close(fd)
                continue
            self._take(fd, chunk)

    def _take(self, fd: int, chunk: bytes) -> None:
        if fd != self.res_r:
            self.lines[fd].feed(chunk)
            return
        self.result.extend(chunk)
        if len(self.result) > protocol.MAX_RESULT_BYTES and self.stopped_by is None:
            self._stop(TOO_LARGE, time.monotonic())
            self._close(fd)

    def _close(self, fd: int) -> None:
        self.poller.unregister(fd)
        self.open_fds.discard(fd)
