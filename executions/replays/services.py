"""Run an execution again: same pipeline version, deployment, trigger and resolved inputs."""

from __future__ import annotations

import shutil
import tempfile

from django.core.files import File
from django.db import transaction

from datastore.services import datastore_info
from executions.files import execution_file_name, execution_file_open
from executions.models import Execution, ExecutionReplay, IoDirection
from executions.services.creation import (
    execution_create,
)
from executions.services.inputs import ResolvedInput
from pipelines.io_rules import MappingType
from pipelines.models import PipelineStatus
from platform_site.http.errors import ApiError, Conflict

# Input files up to this size are copied in memory, larger ones through a temporary file.
SPOOL_BYTES = 8 * 1024 * 1024


class ReplayRefused(Conflict):
    name = "ReplayRefused"


def _input_file(row) -> File:
    try:
        source = execution_file_open(row.file_path)
    except FileNotFoundError:
        raise ReplayRefused(
            f"Input '{row.name}': its file no longer exists, so it cannot run again."
        ) from None
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by the caller
    with source:
        shutil.copyfileobj(source, spool)
    spool.seek(0)
    return File(spool, name=execution_file_name(row.file_path))


def _check_datastore_input(row) -> None:
    path = (row.mapping_value or {}).get("datastore_path")
    try:
        datastore_info(path)
    except ApiError:
        raise ReplayRefused(
            f"Input '{row.name}': data store file '{path}' no longer exists."
        ) from None


def _inputs(execution: Execution) -> tuple[list[ResolvedInput], list[File]]:
    inputs, files = [], []
    for row in execution.io.filter(direction=IoDirection.INPUT).order_by("position"):
        file = None
        if row.mapping_type == MappingType.DATASTORE:
            _check_datastore_input(row)
        elif row.file_path:
            file = _input_file(row)
            files.append(file)
        inputs.append(
            ResolvedInput(
                name=row.name,
                data_type=row.data_type,
                mapping_type=row.mapping_type,
                mapping_value=row.mapping_value or {},
                value=row.value,
                file=file,
            )
        )
    return inputs, files


def _outputs_mapping(execution: Execution) -> list[dict]:
    """The original destinations; outputs left to their default need no entry."""
    return [
        {"pipeline_output_name": row.name, **row.mapping_value}
        for row in execution.io.filter(direction=IoDirection.OUTPUT)
        if row.mapping_value
    ]


def execution_replay(*, execution: Execution, created_by) -> Execution:
    """A new Pending execution repeating `execution`; ReplayRefused (409) with the reason."""
    pipeline = execution.pipeline
    if pipeline is None:
        raise ReplayRefused(
            f"Pipeline '{execution.pipeline_name}' of this execution was deleted: "
            "it cannot run again."
        )
    if pipeline.status != PipelineStatus.READY:
        raise ReplayRefused(f"Pipeline '{pipeline.name}' is not ready to run.")
    if execution.deployment_name and execution.deployment is None:
        raise ReplayRefused(
            f"Deployment '{execution.deployment_name}' no longer exists."
        )
    inputs, files = _inputs(execution)
    try:
        with transaction.atomic():
            replay = execution_create(
                pipeline=pipeline,
                trigger=execution.trigger,
                created_by=created_by,
                inputs=inputs,
                outputs_mapping=_outputs_mapping(execution),
                deployment=execution.deployment,
                timeout_s=execution.timeout_s,
                memory_limit_mib=execution.memory_limit_mib,
            )
            ExecutionReplay.objects.create(
                replay=replay,
                original=execution,
                original_execution_id=execution.execution_id,
            )
    finally:
        for file in files:
            file.close()
    return replay


def replay_original(execution: Execution) -> ExecutionReplay | None:
    return ExecutionReplay.objects.filter(replay=execution).first()
