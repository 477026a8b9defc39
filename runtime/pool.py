"""Worker-side API of the elastic runtime: `ZygotePool.run(RunSpec, on_log) -> RunResult`.

One zygote process per `zygote_key` imports the pipeline's module once; each
run() gets a fresh child of it (see zygote.py): forked at run time, or with
cgroups a spare forked ahead into the run's group (execution_groups.py). Standard library only: this
module never imports Django, and neither do the processes it starts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

from . import cgroups, protocol
from .child import DISK_QUOTA_REASON
from .collect import (
    CANCELLED,
    OVER_DISK_QUOTA,
    OVER_MEMORY,
    TIMED_OUT,
    TOO_LARGE,
    RunCollector,
)
from .execution_groups import SpareSlot, ZygoteCgroup
from .handle import (
    STOP_TIMEOUT_S,
    ZYGOTE_GONE_REASON,
    ZYGOTE_KILLED_REASON,
    PendingRun,
    ZygoteGone,
    ZygoteHandle,
    signal_name,
)
from .lines import LogCallback
from .sandbox import Sandbox

# A zygote still importing after this long is replaced (a module stuck at import).
ZYGOTE_START_TIMEOUT_S = 300.0
CANCELLED_REASON = (
    "Execution was stopped: it is no longer this worker's to run (reaped or deleted)"
)
# A child killed by a signal whose peak RSS grew by this share of its memory
# limit is reported as over its memory limit.
MEMORY_KILL_FRACTION = 0.9
CPU_LIMIT_REASON = "Execution exceeded its CPU time limit of {seconds:g} s"

NO_EXIT_REASON = "The execution process did not exit after being killed"
OOM_KILLED = "the kernel killed its largest process"
# Without a sandbox (its max_processes), the pids limit of one execution.
DEFAULT_MAX_PIDS = 512

logger = logging.getLogger(__name__)
NO_RESULT_REASON = "Execution process exited with code {code} before returning a result"


@dataclass(frozen=True)
class RunSpec:
    zygote_key: str  # e.g. f"{pipeline_id}:{python_executable}"; one zygote per key
    python_executable: str  # sys.executable or a pipeline venv's bin/python
    code_dir: str  # extracted pipeline code (absolute); sys.path[0] in the zygote
    function_path: str  # relative to code_dir, e.g. "src/main.py"
    function_name: str
    inputs: dict  # JSON-able kwargs for the function
    # [{"name": ..., "data_type": "string|number|boolean|json|array|file"}]
    outputs: list[dict]
    env: dict[str, str]  # the complete environment of the child
    work_dir: str  # created by the caller; the child chdirs here
    timeout_s: float  # <= 0: no limit
    memory_limit_mib: int  # <= 0: no limit
    # Added to the zygote's environment while it imports the module (module-level
    # os.environ reads: the platform's environment variables, never per-execution
    # values); a change starts a new zygote.
    import_env: dict[str, str] | None = None
    # Sandboxed, the one folder the zygote and its children may write to
    # (every run's work_dir lies inside it); part of the zygote's identity.
    work_root: str | None = None
    disk_limit_mib: int = 0  # <= 0: no limit on what work_dir may hold


@dataclass
class RunResult:
    status: str  # "succeeded" | "failed" | "error"
    reason: str | None = None  # one readable line when not succeeded
    outputs: dict = field(default_factory=dict)  # only when succeeded
    process_started_at: float | None = None
    function_started_at: float | None = None
    function_ended_at: float | None = None
    peak_memory_kib: int | None = None
    cpu_seconds: float | None = None
    exit_code: int | None = None
    signal: int | None = None


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
                return self._run_on(zygote, spec, on_log, started, deadline, cancel)
            except ZygoteGone:
                # It died before taking the run (no user code started): a
                # fresh zygote may take it, once.
                self._discard(zygote)
            finally:
                self._release(zygote)
        return RunResult("error", ZYGOTE_GONE_REASON)

    def _run_on(
        self,
        zygote: ZygoteHandle,
        spec: RunSpec,
        on_log: LogCallback,
        started: float,
        deadline: float | None,
        cancel: threading.Event | None,
    ) -> RunResult:
        wait = ZYGOTE_START_TIMEOUT_S
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - started))
        if not zygote.ready.wait(wait):
            if deadline is not None and time.monotonic() >= deadline:
                return self._timed_out(spec, on_log, RunResult("failed"))
            return RunResult(
                "error",
                f"The pipeline's runtime did not start within {ZYGOTE_START_TIMEOUT_S:g} s",
            )
        if zygote.start_error is not None:
            return RunResult("error", zygote.start_error)
        if zygote.failure is not None:
            now = time.time()
            for stream in ("stdout", "stderr"):
                for line in zygote.failure.get(stream, []):
                    on_log(stream, now, line)
            return RunResult("failed", zygote.failure["reason"])
        return self._execute(zygote, spec, on_log, deadline, cancel)

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

    # -- one run -------------------------------------------------------------

    def _execute(
        self,
        zygote: ZygoteHandle,
        spec: RunSpec,
        on_log: LogCallback,
        deadline: float | None,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        spare_id, group, group_fds = self._execution_cgroup(zygote, spec)
        try:
            return self._execute_in(
                zygote, spec, on_log, deadline, cancel, group, group_fds, spare_id
            )
        finally:
            # Every process the execution started, setsid or not, ends with it.
            if group is not None and not group.destroy():
                logger.warning("execution cgroup %s not removed", group.dirs)
            if zygote.spares and not zygote.retired:
                # The next run's spare, once this one is over: never beside the
                # execution it follows (a sandbox shows an execution the
                # pipeline's processes). The slow join is only slow when runs
                # are spaced, and then the gap hides it.
                zygote.spares.refill()

    def _execution_cgroup(
        self, zygote: ZygoteHandle, spec: RunSpec
    ) -> tuple[int | None, cgroups.Cgroup | None, list[int]]:
        """The run's own group and write descriptors of its cgroup.procs (the child moves itself in).

        The spare's group when one waits (its id first, else None): the
        spare takes the run, or a child forked now joins with the descriptors.
        """
        if zygote.cgroup is None:
            return None, None, []
        spare = zygote.spares.take() if zygote.spares else None
        group = None
        try:
            if spare is not None:
                group = spare[1]
                if spec.memory_limit_mib > 0:
                    group.limit_memory(spec.memory_limit_mib)
            else:
                group = zygote.cgroup.execution(spec.memory_limit_mib)
            return (spare[0] if spare else None), group, group.open_procs()
        except OSError as exc:
            logger.warning("no cgroup for an execution: %s", exc)
            if group is not None:
                group.destroy()
            return None, None, []

    def _execute_in(
        self,
        zygote: ZygoteHandle,
        spec: RunSpec,
        on_log: LogCallback,
        deadline: float | None,
        cancel: threading.Event | None,
        group: cgroups.Cgroup | None,
        group_fds: list[int],
        spare_id: int | None = None,
    ) -> RunResult:
        try:
            request = json.dumps(
                {
                    "inputs": spec.inputs,
                    "outputs": spec.outputs,
                    "env": spec.env,
                    "work_dir": spec.work_dir,
                    "memory_limit_mib": spec.memory_limit_mib,
                    # The cgroup counts the memory: no address-space rlimit.
                    "memory_cgroup": group is not None and group.memory,
                    "disk_limit_mib": spec.disk_limit_mib,
                    "cpu_limit_s": cpu_limit_s(spec.timeout_s),
                }
            ).encode()
        except (TypeError, ValueError) as exc:
            protocol.close_fds(group_fds)
            return RunResult("error", f"Inputs are not JSON-serialisable: {exc}")
        if self.sandbox is not None:
            self.sandbox.hand_over(spec.work_dir, spec.zygote_key)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            run_id, pending = zygote.submit(
                request, [out_w, err_w, res_w, *group_fds], spare_id
            )
        except ZygoteGone:
            for fd in (out_r, err_r, res_r):
                os.close(fd)
            raise
        finally:
            # Only the child may hold the write ends, or we never see EOF.
            for fd in (out_w, err_w, res_w, *group_fds):
                os.close(fd)
        try:
            return self._collect(
                zygote,
                spec,
                on_log,
                deadline,
                run_id,
                pending,
                out_r,
                err_r,
                res_r,
                cancel,
                group,
            )
        finally:
            if pending.exit is None and not pending.gone:
                # on_log raised, or the zygote never reported: do not leave the child running.
                zygote.kill(run_id)
                zygote.forget(run_id)
            for fd in (out_r, err_r, res_r):
                os.close(fd)
            pending.close()

    def _collect(
        self,
        zygote: ZygoteHandle,
        spec: RunSpec,
        on_log: LogCallback,
        deadline: float | None,
        run_id: int,
        pending: PendingRun,
        out_r: int,
        err_r: int,
        res_r: int,
        cancel: threading.Event | None = None,
        group: cgroups.Cgroup | None = None,
    ) -> RunResult:
        def kill() -> None:
            if group is not None:
                group.kill_all(wait_s=0)  # its setsid'd descendants too
            zygote.kill(run_id)

        over_memory = None
        if group is not None and group.memory:

            def over_memory() -> bool:
                return group.oom_kills() > 0

        collector = RunCollector(
            out_r=out_r,
            err_r=err_r,
            res_r=res_r,
            wake_fd=pending.wake_r,
            exited=lambda: bool(pending.exit or pending.gone),
            kill=kill,
            on_log=on_log,
            deadline=deadline,
            work_dir=spec.work_dir,
            disk_limit_mib=spec.disk_limit_mib,
            cancel=cancel,
            over_memory=over_memory,
        )
        collector.run()
        stopped_by = collector.stopped_by
        if stopped_by == CANCELLED:
            return RunResult("failed", CANCELLED_REASON)
        run = self._result(
            zygote,
            spec,
            on_log,
            pending,
            collector.result,
            timed_out=stopped_by == TIMED_OUT,
            too_large=stopped_by == TOO_LARGE,
        )
        if stopped_by == OVER_DISK_QUOTA:
            run.status = "failed"
            run.reason = DISK_QUOTA_REASON.format(mib=spec.disk_limit_mib)
        elif stopped_by == OVER_MEMORY or (over_memory is not None and over_memory()):
            # The kernel killed a process of the execution (maybe not the
            # child itself) for the group's limit: the execution is over it.
            run.status, run.outputs = "failed", {}
            run.reason = protocol.memory_limit_reason(spec.memory_limit_mib)
            on_log("stderr", time.time(), f"{run.reason}: {OOM_KILLED}")
        return run

    def _result(
        self,
        zygote: ZygoteHandle,
        spec: RunSpec,
        on_log: LogCallback,
        pending: PendingRun,
        result: bytearray,
        timed_out: bool,
        too_large: bool,
    ) -> RunResult:
        exited = pending.exit or {}
        report = None
        if result and not too_large:
            try:
                report = json.loads(result)
            except ValueError:
                report = None  # cut short by a kill
        run = RunResult(
            "failed",
            process_started_at=exited.get("started_at"),
            peak_memory_kib=exited.get("maxrss_kib"),
            cpu_seconds=exited.get("cpu_s"),
            exit_code=exited.get("exit_code"),
            signal=exited.get("signal"),
        )
        if isinstance(report, dict):
            run.function_started_at = report.get("function_started_at")
            run.function_ended_at = report.get("function_ended_at")
        if exited.get("error"):
            run.status, run.reason = "error", exited["error"]
        elif too_large:
            mib = protocol.MAX_RESULT_BYTES // (1024 * 1024)
            run.reason = protocol.RESULT_TOO_LARGE_REASON.format(mib=mib)
        elif isinstance(report, dict) and report.get("ok"):
            run.status, run.outputs = "succeeded", report.get("outputs") or {}
        elif isinstance(report, dict):
            run.reason = report.get("reason") or "The execution failed"
            if report.get("platform_error"):
                run.status = "error"
        elif timed_out:
            return self._timed_out(spec, on_log, run)
        elif pending.gone and zygote.killed_by:
            run.reason = ZYGOTE_KILLED_REASON.format(
                number=zygote.killed_by, name=signal_name(zygote.killed_by)
            )
        elif pending.gone:
            run.status, run.reason = "error", ZYGOTE_GONE_REASON
        elif not exited:
            run.status, run.reason = "error", NO_EXIT_REASON
        elif run.signal == signal.SIGXCPU:
            run.reason = CPU_LIMIT_REASON.format(seconds=cpu_limit_s(spec.timeout_s))
        elif run.signal:
            run.reason = protocol.SIGNAL_REASON.format(
                number=run.signal, name=signal_name(run.signal)
            )
            if _near_memory_limit(zygote, spec, run.peak_memory_kib):
                run.reason = protocol.memory_limit_reason(spec.memory_limit_mib)
        else:
            run.reason = NO_RESULT_REASON.format(code=run.exit_code)
            if _near_memory_limit(zygote, spec, run.peak_memory_kib):
                run.reason = protocol.memory_limit_reason(spec.memory_limit_mib)
        return run

    def _timed_out(
        self, spec: RunSpec, on_log: LogCallback, run: RunResult
    ) -> RunResult:
        run.status = "failed"
        run.reason = protocol.timeout_reason(spec.timeout_s)
        on_log("stderr", time.time(), run.reason)
        return run


def cpu_limit_s(timeout_s: float) -> float | None:
    """CPU seconds an execution may use: every core busy until its timeout.

    The wall-clock timeout stops the execution itself; this bounds what it
    leaves behind (a detached grandchild spinning in the sandbox).
    """
    if not timeout_s or timeout_s <= 0:
        return None
    return math.ceil(timeout_s) * (os.cpu_count() or 1)


def _near_memory_limit(
    zygote: ZygoteHandle, spec: RunSpec, peak_kib: int | None
) -> bool:
    """Whether a child that died without a result had grown close to its memory limit."""
    if spec.memory_limit_mib <= 0 or not peak_kib:
        return False
    baseline = zygote.rss_kib or 0
    return peak_kib >= baseline + MEMORY_KILL_FRACTION * spec.memory_limit_mib * 1024
