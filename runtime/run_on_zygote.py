"""One run on a zygote checked out of the pool: its cgroup, the request sent, the child's output collected.

The execution's kernel group is the spare's when one waits in it (the child
is then already inside), else made now; the child writes stdout, stderr and
its report on three pipes that only it holds the write ends of, so EOF means
it is gone. Whatever happens, the child is not left running and the group
is removed when this returns. Standard library only; never imports Django.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

from . import protocol
from .child import DISK_QUOTA_REASON
from .collect import (
    CANCELLED,
    OVER_DISK_QUOTA,
    OVER_MEMORY,
    TIMED_OUT,
    TOO_LARGE,
    RunCollector,
)
from .control_group import Cgroup
from .handle import ZYGOTE_START_TIMEOUT_S, PendingRun, ZygoteGone, ZygoteHandle
from .lines import LogCallback
from .run_result import RunResult, build_result, cpu_limit_s, mark_timed_out
from .run_spec import RunSpec
from .sandbox import Sandbox

CANCELLED_REASON = (
    "Execution was stopped: it is no longer this worker's to run (reaped or deleted)"
)
OOM_KILLED = "the kernel killed its largest process"

logger = logging.getLogger(__name__)


def run_on_zygote(
    zygote: ZygoteHandle,
    spec: RunSpec,
    on_log: LogCallback,
    started: float,
    deadline: float | None,
    cancel: threading.Event | None,
    *,
    sandbox: Sandbox | None,
) -> RunResult:
    """Run spec once on zygote, checked out for it: wait until it is ready, then one execution."""
    wait = ZYGOTE_START_TIMEOUT_S
    if deadline is not None:
        wait = max(0.0, min(wait, deadline - started))
    if not zygote.ready.wait(wait):
        if deadline is not None and time.monotonic() >= deadline:
            return mark_timed_out(spec, on_log, RunResult("failed"))
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
    return _execute(zygote, spec, on_log, deadline, cancel, sandbox=sandbox)


def _execute(
    zygote: ZygoteHandle,
    spec: RunSpec,
    on_log: LogCallback,
    deadline: float | None,
    cancel: threading.Event | None = None,
    *,
    sandbox: Sandbox | None,
) -> RunResult:
    spare_id, group, group_fds = _execution_cgroup(zygote, spec)
    try:
        return _execute_in(
            zygote,
            spec,
            on_log,
            deadline,
            cancel,
            group,
            group_fds,
            spare_id,
            sandbox=sandbox,
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
    zygote: ZygoteHandle, spec: RunSpec
) -> tuple[int | None, Cgroup | None, list[int]]:
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
    zygote: ZygoteHandle,
    spec: RunSpec,
    on_log: LogCallback,
    deadline: float | None,
    cancel: threading.Event | None,
    group: Cgroup | None,
    group_fds: list[int],
    spare_id: int | None = None,
    *,
    sandbox: Sandbox | None,
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
    if sandbox is not None:
        sandbox.hand_over(spec.work_dir, spec.zygote_key)
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
        return _collect(
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
    group: Cgroup | None = None,
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
    run = build_result(
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
