"""Run a claimed execution in a fresh child process (elastic mode) and record the result.

The child gets only the platform environment variables and the execution
context: never DATABASE_URL, SECRET_KEY, the broker URL or a user's token
(only one scoped to its own execution's metrics). It talks to
us only through the runtime's pipes (log lines, outputs).
"""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection

from executions.models import (
    Execution,
    ExecutionStatus,
)
from executions.services.lifecycle import (
    execution_error,
    execution_finish,
    execution_heartbeat,
    execution_release,
)
from executions.services.logs import LogSink
from executions.services.run_ledger import execution_claim_to_run
from executions.services.runners import runner_name
from executions.services.staging import (
    UserInputError,
    child_environment,
    inputs_stage,
    outputs_store,
)
from pipelines.models import PipelineStatus
from pipelines.services.build import BuildFailed
from pipelines.services.local_ensure import pipeline_local_ensure
from platform_site.clients.db_retry import DATABASE_BLIPS, db_retry
from platform_site.http.errors import ApiError
from runtime import confined
from runtime.run_spec import RunSpec

logger = logging.getLogger(__name__)


def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


def _failure_reason(result) -> str:
    """The pool's reason (it alone guesses out-of-memory kills), or what the exit says."""
    if result.reason:
        return result.reason
    if result.signal:
        return f"The execution process was killed by signal {result.signal}"
    return f"The execution process exited with code {result.exit_code}"


def execution_run(*, execution_pk, pool) -> None:
    """Claim, run and record one execution. A duplicate delivery returns at once.

    A database blip before user code started hands the execution back
    (Pending, sent again); after, every write retries (db_retry) and one that
    still fails is left to the reaper: user code never runs twice.
    """
    execution = execution_claim_to_run(execution_pk=execution_pk, runner=runner_name())
    if execution is None:
        return
    user_code_started = threading.Event()
    try:
        _run_claimed(execution, pool, user_code_started)
    except DATABASE_BLIPS:
        if user_code_started.is_set():
            raise
        execution_release(execution_pk=execution_pk)


def _run_claimed(
    execution: Execution, pool, user_code_started: threading.Event
) -> None:
    pipeline = execution.pipeline
    if pipeline is None or pipeline.status != PipelineStatus.READY:
        state = "deleted" if pipeline is None else f"'{pipeline.status}'"
        execution_error(
            execution=execution,
            reason=f"Pipeline '{execution.pipeline_name}' is {state}, not ready: it cannot run.",
            from_status=ExecutionStatus.RUNNING,
        )
        return
    try:
        # A worker machine that never ran this pipeline makes its own copy first.
        pipeline_local_ensure(pipeline=pipeline)
    except (BuildFailed, OSError) as exc:
        execution_error(
            execution=execution,
            reason=f"Could not prepare the pipeline's code on this worker: {getattr(exc, 'message', exc)}",
            from_status=ExecutionStatus.RUNNING,
        )
        return
    work_dir = run_work_dir(execution)
    try:
        _run_in_work_dir(execution, pool, work_dir, user_code_started)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def run_work_dir(execution: Execution) -> Path:
    """Where the function runs: in its pipeline's runs folder, the one folder its sandbox may write."""
    return execution.pipeline.runs_dir / str(execution.id)


def _run_in_work_dir(
    execution: Execution, pool, work_dir: Path, user_code_started: threading.Event
) -> None:
    pipeline = execution.pipeline
    work_dir.parent.mkdir(parents=True, exist_ok=True)
    with confined.opened_dir(work_dir.parent, [work_dir.name, ".tmp"], create=True):
        pass
    try:
        inputs = inputs_stage(execution, work_dir)
        env = child_environment(execution, work_dir)
    except UserInputError as exc:
        execution_finish(
            execution=execution, status=ExecutionStatus.FAILED, reason=str(exc)
        )
        return
    spec = RunSpec(
        zygote_key=f"{pipeline.pk}:{pipeline.python_executable}",
        python_executable=pipeline.python_executable,
        code_dir=str(pipeline.code_dir),
        function_path=pipeline.function_path,
        function_name=pipeline.function_name,
        inputs=inputs,
        outputs=[
            {"name": o["name"], "data_type": o["data_type"]} for o in pipeline.outputs
        ],
        env=env,
        work_dir=str(work_dir),
        timeout_s=float(execution.timeout_s),
        memory_limit_mib=execution.memory_limit_mib,
        work_root=str(work_dir.parent),
        disk_limit_mib=settings.EXECUTION_DISK_MIB,
    )
    sink = LogSink(
        execution, heartbeat=lambda: execution_heartbeat(execution_pk=execution.pk)
    )
    sink.start()
    # The run may last an hour: its connection goes back to the pool meanwhile.
    connection.close()
    user_code_started.set()
    try:
        result = pool.run(spec, sink.on_log, cancel=sink.lost)
    except (
        Exception
    ) as exc:  # a platform failure, whatever it is: say so, never hang Running
        logger.exception("Runtime failed for %s", execution.execution_id)
        sink.stop()
        execution_error(
            execution=execution,
            reason=f"Platform error while running: {exc.__class__.__name__}: {exc}",
            from_status=ExecutionStatus.RUNNING,
        )
        return
    sink.stop()
    timeline = {
        "process_started_at": _when(result.process_started_at),
        "function_started_at": _when(result.function_started_at),
        "function_ended_at": _when(result.function_ended_at),
        "peak_memory_kib": result.peak_memory_kib,
        "cpu_seconds": result.cpu_seconds,
    }
    if result.status == "succeeded":
        try:
            stored, failure = db_retry(
                lambda: outputs_store(execution, result.outputs, work_dir),
                what=f"storing the outputs of {execution.execution_id}",
            )
        except ApiError as exc:
            stored, failure = {}, exc.message
        except (
            OSError
        ) as exc:  # our disk, not the function: say so, never lose the task
            logger.exception("Storing the outputs of %s failed", execution.execution_id)
            execution_error(
                execution=execution,
                reason=f"Platform error while storing the outputs: {exc}",
                from_status=ExecutionStatus.RUNNING,
            )
            return
        status = ExecutionStatus.FAILED if failure else ExecutionStatus.SUCCEEDED
        execution_finish(
            execution=execution,
            status=status,
            reason=failure,
            outputs=stored,
            timeline=timeline,
        )
        return
    status = (
        ExecutionStatus.ERROR if result.status == "error" else ExecutionStatus.FAILED
    )
    execution_finish(
        execution=execution,
        status=status,
        reason=_failure_reason(result),
        timeline=timeline,
    )
