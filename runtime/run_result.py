"""What one run ended as: RunResult, decided in one place from the child's report and its exit.

The child reports its outputs or its reason itself when it can; when it
cannot (killed, timed out, out of memory, the zygote gone) its exit as the
zygote reported it says why, in one readable line: a failure of the user's
code, or an error of the platform's. Standard library only; never imports Django.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import dataclass, field

from . import protocol
from .handle import (
    ZYGOTE_GONE_REASON,
    ZYGOTE_KILLED_REASON,
    PendingRun,
    ZygoteHandle,
    signal_name,
)
from .lines import LogCallback
from .run_spec import RunSpec

# A child killed by a signal whose peak RSS grew by this share of its memory
# limit is reported as over its memory limit.
MEMORY_KILL_FRACTION = 0.9
CPU_LIMIT_REASON = "Execution exceeded its CPU time limit of {seconds:g} s"

NO_EXIT_REASON = "The execution process did not exit after being killed"
NO_RESULT_REASON = "Execution process exited with code {code} before returning a result"


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


def build_result(
    zygote: ZygoteHandle,
    spec: RunSpec,
    on_log: LogCallback,
    pending: PendingRun,
    result: bytearray,
    timed_out: bool,
    too_large: bool,
) -> RunResult:
    """What a finished run ended as: the child's report (result), else its exit as the zygote reported it."""
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
        return mark_timed_out(spec, on_log, run)
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


def mark_timed_out(spec: RunSpec, on_log: LogCallback, run: RunResult) -> RunResult:
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
