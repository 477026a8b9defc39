"""Run a claimed execution in a fresh child process (elastic mode) and record the result.

The child gets only the platform environment variables and the execution
context: never DATABASE_URL, SECRET_KEY, the broker URL or a user's token
(only one scoped to its own execution's metrics). It talks to
us only through the runtime's pipes (log lines, outputs).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from datastore.services import datastore_open, datastore_store_output
from executions.files import (
    execution_file_name,
    execution_file_open,
    execution_file_store,
)
from executions.metrics.tokens import execution_sdk_token_issue
from executions.models import (
    Execution,
    ExecutionIo,
    ExecutionStatus,
    IoDirection,
)
from executions.services.inputs import value_type_error
from executions.services.lifecycle import (
    execution_claim,
    execution_error,
    execution_finish,
    execution_heartbeat,
    execution_release,
    safe_filename,
)
from executions.services.logs import LogSink
from executions.services.runners import runner_name
from executions.services.variables import environment_variables
from pipelines.models import PipelineStatus
from pipelines.services.build import BuildFailed
from pipelines.services.local import pipeline_local_ensure
from platform_site.db_retry import DATABASE_BLIPS, db_retry
from platform_site.errors import ApiError
from runtime import confined

logger = logging.getLogger(__name__)

CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"


class UserInputError(Exception):
    """An input could not be prepared for reasons the user controls (a missing data store file)."""


def child_environment(execution: Execution, work_dir: Path) -> dict[str, str]:
    """Platform variables + execution context, and nothing from our own environment."""
    env = environment_variables()
    python_bin = str(Path(execution.pipeline.python_executable).parent)
    env.update(
        {
            "PATH": f"{python_bin}:{CHILD_PATH}",
            "HOME": str(work_dir),
            # Per execution, removed with it (the sandbox's /tmp lives as long as its zygote).
            "TMPDIR": str(work_dir / ".tmp"),
            "LANG": "C.UTF-8",
            "CRAFT_AI_EXECUTION_ID": execution.execution_id,
            "CRAFT_AI_PIPELINE_NAME": execution.pipeline_name,
        }
    )
    if execution.deployment_name:
        env["CRAFT_AI_DEPLOYMENT_NAME"] = execution.deployment_name
    env.update(_sdk_environment(execution))
    return env


def _sdk_environment(execution: Execution) -> dict[str, str]:
    """What `CraftAiSdk()` reads, with a token that only records this execution's metrics."""
    return {
        "CRAFT_AI_SDK_TOKEN": execution_sdk_token_issue(execution=execution),
        "CRAFT_AI_ENVIRONMENT_URL": settings.PUBLIC_URL,
        "CRAFT_AI_CONTROL_URL": settings.PUBLIC_URL,
    }


def _io_rows(execution: Execution, direction: str) -> list[ExecutionIo]:
    """Inputs or outputs in order; loaded with the execution (prefetch "io") or now."""
    return [row for row in execution.io.all() if row.direction == direction]


def execution_to_run(execution_pk) -> Execution | None:
    """The execution with its pipeline and inputs/outputs: two queries for a whole run."""
    return (
        Execution.objects.select_related("pipeline")
        .prefetch_related("io")
        .filter(pk=execution_pk)
        .first()
    )


def _stage_inputs(execution: Execution, work_dir: Path) -> dict[str, Any]:
    """The function's keyword arguments; files are copied into the work dir as {"path"}.

    The work dir's parent may be writable by user code (a pod's runs folder):
    files are written through descriptors, never through a link it planted.
    """
    kwargs: dict[str, Any] = {}
    for row in _io_rows(execution, IoDirection.INPUT):
        if row.mapping_type == "datastore":
            path = row.mapping_value["datastore_path"]
            try:
                source = datastore_open(path)
            except ApiError as exc:
                raise UserInputError(f"Input '{row.name}': {exc.message}") from None
            filename = safe_filename(path.rsplit("/", 1)[-1], "input")
            kwargs[row.name] = {"path": _stage_file(work_dir, row, filename, source)}
        elif row.data_type == "file":
            if row.file_path is None:
                kwargs[row.name] = None
                continue
            try:
                source = execution_file_open(row.file_path)
            except FileNotFoundError:
                raise UserInputError(f"Input '{row.name}': its file is gone.") from None
            filename = execution_file_name(row.file_path)
            kwargs[row.name] = {"path": _stage_file(work_dir, row, filename, source)}
        elif row.value is not None or row.mapping_type in ("is_null", "constant"):
            kwargs[row.name] = row.value
        # Absent optional inputs are left out, so the function's own default applies.
    return kwargs


def _stage_file(work_dir: Path, row: ExecutionIo, filename: str, source) -> str:
    """Copy one input file to <work dir>/inputs/<input name>/<filename>; its path."""
    parts = [work_dir.name, "inputs", safe_filename(row.name, "input"), filename]
    try:
        with source:
            return confined.write_new_file(work_dir.parent, parts, source)
    except confined.Refused as exc:
        raise UserInputError(f"Input '{row.name}' could not be staged: {exc}") from None


def _store_outputs(
    execution: Execution, outputs: dict[str, Any], work_dir: Path
) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Check and store declared outputs. Returns (stored, failure reason or None).

    A file output is opened once, below work_dir and without following
    links (confined.py); a value mapped to the data store is stored from
    memory, never written into the work dir first.
    """
    stored: dict[str, dict[str, Any]] = {}
    rows = _io_rows(execution, IoDirection.OUTPUT)
    if rows and not isinstance(outputs, dict):
        return {}, "The function must return a dict of outputs keyed by output name."
    for row in rows:
        if row.mapping_type == "is_null":
            continue
        if row.name not in outputs:
            return (
                {},
                f"Output '{row.name}' is missing from the function's return value.",
            )
        value = outputs[row.name]
        if value is None:
            stored[row.name] = {"value": None}
            continue
        if row.data_type == "file":
            try:
                source = _open_output_file(value, work_dir)
            except OSError as exc:
                return {}, (
                    f"Output '{row.name}' must be a regular file written in the "
                    f'execution\'s working directory, returned as {{"path": ...}}: {exc}'
                )
            with source:
                stored[row.name] = _store_file_output(execution, row, value, source)
            continue
        error = value_type_error(
            name=row.name, data_type=row.data_type, value=value, kind="Output"
        )
        if error:
            return {}, error
        stored[row.name] = {"value": value}
        if row.mapping_type == "datastore":
            _to_datastore(execution, row, io.BytesIO(json.dumps(value).encode()))
    return stored, None


def _open_output_file(value: Any, work_dir: Path):
    raw = value.get("path") if isinstance(value, dict) else value
    if not isinstance(raw, str | os.PathLike):
        raise confined.Refused("no path was returned")
    return confined.open_regular_file(work_dir, raw)


def _store_file_output(
    execution: Execution, row: ExecutionIo, value: Any, source
) -> dict[str, Any]:
    """Copy the opened output file to the execution's files (and the data store if mapped)."""
    raw = value.get("path") if isinstance(value, dict) else value
    filename = safe_filename(os.path.basename(os.fspath(raw)), row.name)
    stored = {
        "value": {"filename": filename},
        "file_path": execution_file_store(
            execution_pk=execution.pk,
            relative=f"outputs/{safe_filename(row.name, 'output')}/{filename}",
            source=source,
        ),
    }
    if row.mapping_type == "datastore":
        source.seek(0)
        stored["value"] = {"path": _to_datastore(execution, row, source)}
    return stored


def _to_datastore(execution: Execution, row: ExecutionIo, source) -> str:
    """Store an output in the data store at its mapped path; the path it got."""
    return datastore_store_output(
        path_template=row.mapping_value["datastore_path"],
        source=source,
        execution_id=execution.execution_id,
        now=timezone.now(),
    )


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
    if not execution_claim(execution_pk=execution_pk, runner=runner_name()):
        return
    user_code_started = threading.Event()
    try:
        _run_claimed(execution_pk, pool, user_code_started)
    except DATABASE_BLIPS:
        if user_code_started.is_set():
            raise
        execution_release(execution_pk=execution_pk)


def _run_claimed(execution_pk, pool, user_code_started: threading.Event) -> None:
    execution = execution_to_run(execution_pk)
    if execution is None:  # deleted between the claim and now
        return
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
    from runtime.pool import RunSpec

    pipeline = execution.pipeline
    work_dir.parent.mkdir(parents=True, exist_ok=True)
    with confined.opened_dir(work_dir.parent, [work_dir.name, ".tmp"], create=True):
        pass
    try:
        inputs = _stage_inputs(execution, work_dir)
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
                lambda: _store_outputs(execution, result.outputs, work_dir),
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
