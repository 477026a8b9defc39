"""Staging an execution's files for its run and storing what it produced: elastic and pods alike.

Inputs are written into the run's working folder (files created with
O_EXCL, runtime/confined.py) and outputs read back from it without following
links, so user code can never make the platform write or read outside it.
The child's environment is built here too: the platform's environment
variables and the execution's context, never a platform secret.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from datastore.services import datastore_open, datastore_store_output
from executions.files import (
    execution_file_name,
    execution_file_open,
    execution_file_store,
    safe_filename,
)
from executions.metrics.tokens import execution_sdk_token_issue
from executions.models import Execution, ExecutionIo, IoDirection
from executions.services.inputs import value_type_error
from executions.services.variables import environment_variables
from pipelines.io_rules import MappingType
from platform_site.http.errors import ApiError
from runtime import confined

CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"


class UserInputError(Exception):
    """An input could not be prepared for reasons the user controls (a missing data store file)."""


def child_environment(execution: Execution, work_dir: Path) -> dict[str, str]:
    """Platform variables + execution context, and nothing from our own environment."""
    env = environment_variables()
    assert execution.pipeline is not None  # a run's pipeline is never gone
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


def execution_to_run(execution_pk: UUID | str) -> Execution | None:
    """The execution with its pipeline and inputs/outputs: two queries for a whole run."""
    return (
        Execution.objects.select_related("pipeline")
        .prefetch_related("io")
        .filter(pk=execution_pk)
        .first()
    )


def inputs_stage(execution: Execution, work_dir: Path) -> dict[str, Any]:
    """The function's keyword arguments; files are copied into the work dir as {"path"}.

    The work dir's parent may be writable by user code (a pod's runs folder):
    files are written through descriptors, never through a link it planted.
    """
    kwargs: dict[str, Any] = {}
    for row in _io_rows(execution, IoDirection.INPUT):
        if row.mapping_type == MappingType.DATASTORE:
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
        elif row.value is not None or row.mapping_type in (
            MappingType.IS_NULL,
            MappingType.CONSTANT,
        ):
            kwargs[row.name] = row.value
        # Absent optional inputs are left out, so the function's own default applies.
    return kwargs


def _stage_file(
    work_dir: Path, row: ExecutionIo, filename: str, source: BinaryIO
) -> str:
    """Copy one input file to <work dir>/inputs/<input name>/<filename>; its path."""
    parts = [work_dir.name, "inputs", safe_filename(row.name, "input"), filename]
    try:
        with source:
            return confined.write_new_file(work_dir.parent, parts, source)
    except confined.Refused as exc:
        raise UserInputError(f"Input '{row.name}' could not be staged: {exc}") from None


def outputs_store(
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
        if row.mapping_type == MappingType.IS_NULL:
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
        if row.mapping_type == MappingType.DATASTORE:
            _to_datastore(execution, row, io.BytesIO(json.dumps(value).encode()))
    return stored, None


def _open_output_file(value: Any, work_dir: Path) -> BinaryIO:
    raw = value.get("path") if isinstance(value, dict) else value
    if not isinstance(raw, str | os.PathLike):
        raise confined.Refused("no path was returned")
    return confined.open_regular_file(work_dir, raw)


def _store_file_output(
    execution: Execution, row: ExecutionIo, value: Any, source: BinaryIO
) -> dict[str, Any]:
    """Copy the opened output file to the execution's files (and the data store if mapped)."""
    raw: str | os.PathLike[str] = value["path"] if isinstance(value, dict) else value
    filename = safe_filename(os.path.basename(raw), row.name)
    stored = {
        "value": {"filename": filename},
        "file_path": execution_file_store(
            execution_pk=execution.pk,
            relative=f"outputs/{safe_filename(row.name, 'output')}/{filename}",
            source=source,
        ),
    }
    if row.mapping_type == MappingType.DATASTORE:
        source.seek(0)
        stored["value"] = {"path": _to_datastore(execution, row, source)}
    return stored


def _to_datastore(execution: Execution, row: ExecutionIo, source: BinaryIO) -> str:
    """Store an output in the data store at its mapped path; the path it got."""
    return datastore_store_output(
        path_template=row.mapping_value["datastore_path"],
        source=source,
        execution_id=execution.execution_id,
        now=timezone.now(),
    )
