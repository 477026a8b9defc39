"""Worker-side API of the elastic runtime: `ZygotePool.run(RunSpec, on_log) -> RunResult`.

One zygote process per `zygote_key` imports the pipeline's module once; each
run() gets a fresh child of it (see zygote.py): forked at run time, or with
cgroups a spare forked ahead into the run's group (execution_groups.py).
This module keeps the zygotes (by key, least recently used first out, idle
ones stopped, a fresh one when one dies before taking the run); one run on
a zygote is run_on_zygote.py's, and RunSpec and RunResult have modules of
their own (run_spec.py, run_result.py). Standard library only: this
module never imports Django, and neither do the processes it starts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import OrderedDict

from . import cgroups
from .execution_groups import SpareSlot, ZygoteCgroup
from .handle import (
    STOP_TIMEOUT_S,
    ZYGOTE_GONE_REASON,
    ZYGOTE_START_TIMEOUT_S,
    ZygoteGone,
    ZygoteHandle,
)
from .lines import LogCallback
from .run_on_zygote import run_on_zygote
from .run_result import RunResult
from .run_spec import RunSpec
from .sandbox import Sandbox

# Without a sandbox (its max_processes), the pids limit of one execution.
DEFAULT_MAX_PIDS = 512

logger = logging.getLogger(__name__)


def _file_stamp(spec) -> tuple | None:
    try:
        st = os.stat(os.path.join(spec.code_dir, spec.function_path))
    except OSError:
        return None  # the zygote reports the missing file as the import error
    return (st.st_ino, st.st_size, st.st_mtime_ns)


_POOLS: weakref.WeakSet[ZygotePool] = weakref.WeakSet()


def _forget_zygotes_after_fork() -> None:
    for pool in list(_POOLS):
        pool._forget_after_fork()


# A forked copy of the worker (Celery prefork) must not hold the zygotes'
# sockets: the zygotes would not see EOF when the real owner dies.
os.register_at_fork(after_in_child=_forget_zygotes_after_fork)


class ZygotePool:
    """Zygotes by key, with LRU eviction and idle expiry; run() is thread-safe."""

    def __init__(
        self,
        runtime_env: dict[str, str] | None = None,
        max_zygotes: int = 16,
        idle_timeout_s: float = 600,
        sandbox: Sandbox | None = None,
        use_cgroups: bool = True,
        use_spares: bool = True,
    ) -> None:
        """runtime_env is added to the zygotes' minimal environment (PATH, LANG, LC_ALL, HOME).

        With a sandbox, every zygote (and so every execution) runs inside it.
        With use_cgroups, where the machine allows it (cgroups.probe()), each
        zygote and each execution gets a cgroup: its memory limit and pids
        count every process of the execution, and all of them are killed at
        its end; elsewhere rlimits and process-group kills are the fallback.
        With use_spares (and cgroups), each zygote keeps a spare child already
        in the next execution's group (execution_groups.py): joining a group
        costs ~15 ms, paid before the run instead of during it.
        """
        self.runtime_env = dict(runtime_env or {})
        self.sandbox = sandbox
        self.use_cgroups = use_cgroups
        self.use_spares = use_spares
        self.max_pids = sandbox.max_processes if sandbox else DEFAULT_MAX_PIDS
        self.max_zygotes = max_zygotes
        self.idle_timeout_s = idle_timeout_s
        self._lock = threading.Lock()
        self._zygotes: OrderedDict[str, ZygoteHandle] = OrderedDict()
        self._closed = False
        _POOLS.add(self)

    def __enter__(self) -> ZygotePool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def run(
        self,
        spec: RunSpec,
        on_log: LogCallback,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run spec's function once in a fresh child; on_log(stream, epoch_ts, line) gets every output line.

        Setting `cancel` kills the child (within CANCEL_CHECK_S): the caller
        learnt the execution is no longer its to run.
        """
        started = time.monotonic()
        deadline = (
            started + spec.timeout_s if spec.timeout_s and spec.timeout_s > 0 else None
        )
        for _ in range(2):
            zygote = self._checkout(spec)
            try:
                return run_on_zygote(
                    zygote,
                    spec,
                    on_log,
                    started,
                    deadline,
                    cancel,
                    sandbox=self.sandbox,
                )
            except ZygoteGone:
                # It died before taking the run (no user code started): a
                # fresh zygote may take it, once.
                self._discard(zygote)
            finally:
                self._release(zygote)
        return RunResult("error", ZYGOTE_GONE_REASON)

    def warm(self, spec_like) -> None:
        """Start the zygote for spec_like (anything with RunSpec's first five fields, import_env optional) and wait until it is ready."""
        zygote = self._checkout(spec_like)
        try:
            if zygote.ready.wait(ZYGOTE_START_TIMEOUT_S) and zygote.spares:
                zygote.spares.refill()
        finally:
            self._release(zygote)

    def zygote_pids(self) -> dict[str, int]:
        """Pids of the live zygotes by key (for tests and diagnostics)."""
        with self._lock:
            return {
                key: z.pid
                for key, z in self._zygotes.items()
                if z.pid is not None and not z.dead
            }

    def spare_runs(self) -> int:
        """Runs the live zygotes handed to a spare child (for tests and diagnostics)."""
        with self._lock:
            return sum(z.spare_runs for z in self._zygotes.values())

    def close(self) -> None:
        """Stop every zygote; their running executions and spares are killed."""
        with self._lock:
            self._closed = True
            zygotes = list(self._zygotes.values())
            self._zygotes.clear()
        for zygote in zygotes:
            zygote.retired = True
            zygote.stop()
        for zygote in zygotes:
            zygote.join(STOP_TIMEOUT_S + 1)

    # -- zygote bookkeeping --------------------------------------------------

    def _checkout(self, spec) -> ZygoteHandle:
        identity = (
            spec.python_executable,
            spec.code_dir,
            spec.function_path,
            spec.function_name,
            _file_stamp(spec),
            tuple(sorted((getattr(spec, "import_env", None) or {}).items())),
            getattr(spec, "work_root", None),
        )
        to_stop: list[ZygoteHandle] = []
        new = None
        with self._lock:
            if self._closed:
                raise RuntimeError("ZygotePool is closed")
            now = time.monotonic()
            for key, other in list(self._zygotes.items()):
                idle = (
                    other.inflight == 0 and now - other.last_used > self.idle_timeout_s
                )
                stuck = (
                    not other.ready.is_set()
                    and now - other.created > ZYGOTE_START_TIMEOUT_S
                )
                if idle or stuck or other.dead:
                    self._retire(key, to_stop)
            zygote = self._zygotes.get(spec.zygote_key)
            if zygote is not None and (zygote.identity != identity or zygote.dead):
                # New code (or a failed import, whose zygote exits): start afresh.
                self._retire(spec.zygote_key, to_stop)
                zygote = None
            if zygote is None:
                zygote = new = ZygoteHandle(
                    spec, identity, self.runtime_env, self.sandbox
                )
                self._zygotes[spec.zygote_key] = zygote
            self._zygotes.move_to_end(spec.zygote_key)
            zygote.inflight += 1
            zygote.last_used = now
            if len(self._zygotes) > self.max_zygotes:
                # Least recently used first; busy ones are stopped when their runs end.
                surplus = len(self._zygotes) - self.max_zygotes
                for key in [k for k in self._zygotes if k != spec.zygote_key][:surplus]:
                    self._retire(key, to_stop)
        for other in to_stop:
            other.stop()
        if new is not None:
            new.cgroup = self._zygote_cgroup()
            if new.cgroup is not None and self.use_spares:
                new.spares = SpareSlot(new, new.cgroup)
            new.start()
        return zygote

    def _zygote_cgroup(self) -> ZygoteCgroup | None:
        root = cgroups.root() if self.use_cgroups else None
        if root is None:
            return None
        try:
            return ZygoteCgroup(root, self.max_pids)
        except OSError as exc:
            logger.warning("no cgroup for a zygote: %s", exc)
            return None

    def _retire(self, key: str, to_stop: list[ZygoteHandle]) -> None:
        zygote = self._zygotes.pop(key)
        zygote.retired = True
        if zygote.inflight == 0:
            to_stop.append(zygote)

    def _discard(self, zygote: ZygoteHandle) -> None:
        """Never hand this zygote out again (it is stopped once its last run is released)."""
        with self._lock:
            if self._zygotes.get(zygote.key) is zygote:
                self._retire(zygote.key, [])

    def _release(self, zygote: ZygoteHandle) -> None:
        with self._lock:
            zygote.inflight -= 1
            zygote.last_used = time.monotonic()
            stop = zygote.retired and zygote.inflight == 0
        if stop:
            zygote.stop()

    def _forget_after_fork(self) -> None:
        # Runs in the child of a fork of this process, where only the forking
        # thread survives: a lock held by another thread would stay held.
        self._lock = threading.Lock()
        for zygote in self._zygotes.values():
            zygote.abandon_after_fork()
        self._zygotes.clear()
