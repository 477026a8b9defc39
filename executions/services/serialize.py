"""The wire shapes of executions (docs/sdk-protocol.md §3.5), shared by the API and deployments."""

from __future__ import annotations

from typing import Any

from executions.models import Execution, ExecutionIo, IoDirection, LogLine
from pipelines.io_rules import MappingType
from platform_site.http.units import iso


def io_to_api(row: ExecutionIo, *, include_value: bool = True) -> dict[str, Any]:
    key = (
        "pipeline_input_name"
        if row.direction == IoDirection.INPUT
        else "pipeline_output_name"
    )
    item: dict[str, Any] = {
        key: row.name,
        "data_type": row.data_type,
        "mapping_type": row.mapping_type,
        "mapping_value": dict(row.mapping_value or {}),
    }
    if include_value:
        item["value"] = row.value
    return item


def _io_rows(execution: Execution) -> list[ExecutionIo]:
    cache = getattr(execution, "_prefetched_objects_cache", {})
    if "io" in cache:
        return list(cache["io"])
    return list(execution.io.all())


def execution_summary_to_api(execution: Execution) -> dict[str, Any]:
    """The list item of §3.7."""
    return {
        "execution_id": execution.execution_id,
        "status": execution.status,
        "created_at": iso(execution.created_at),
        "created_by": str(execution.created_by_id) if execution.created_by_id else None,
        "end_date": iso(execution.end_date),
        "pipeline_name": execution.pipeline_name,
        "deployment_name": execution.deployment_name,
    }


def execution_to_api(
    execution: Execution, include_io_values: bool = True
) -> dict[str, Any]:
    """The §3.5 execution object; `steps` has the one step of the pipeline."""
    rows = _io_rows(execution)
    pipeline = execution.pipeline
    step = {
        "name": execution.pipeline_name,
        "status": execution.status,
        "start_date": iso(execution.started_at),
        "end_date": iso(execution.end_date),
        "commit_id": None,
        "repository_url": None,
        "repository_branch": None,
        "requirements_path": pipeline.requirements_path if pipeline else None,
        "origin": pipeline.origin if pipeline else "local",
    }
    return {
        **execution_summary_to_api(execution),
        "status_reason": execution.status_reason,
        "trigger": execution.trigger,
        "steps": [step],
        "inputs": [
            io_to_api(r, include_value=include_io_values)
            for r in rows
            if r.direction == IoDirection.INPUT
        ],
        "outputs": [
            io_to_api(r, include_value=include_io_values)
            for r in rows
            if r.direction == IoDirection.OUTPUT
        ],
    }


def execution_outputs_for_api(execution: Execution) -> list[dict[str, Any]]:
    """The items of GET /executions/{id}/outputs (file values are fetched separately)."""
    return [
        io_to_api(r) for r in _io_rows(execution) if r.direction == IoDirection.OUTPUT
    ]


def execution_output_values(execution: Execution) -> dict[str, Any]:
    """{output name: value} for outputs that have one (file outputs: their stored path)."""
    return {
        r.name: r.value
        for r in _io_rows(execution)
        if r.direction == IoDirection.OUTPUT and r.mapping_type != MappingType.IS_NULL
    }


def log_line_to_api(line: LogLine) -> dict[str, Any]:
    return {
        "timestamp": iso(line.timestamp),
        "message": line.message,
        "stream": line.stream,
    }
