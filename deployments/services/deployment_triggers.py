"""Starting executions of deployments (endpoint calls, scheduler ticks) and reading them back."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from deployments.models import Deployment, ExecutionRule
from executions.files import S3_MARK
from executions.models import Execution, ExecutionIo, IoDirection, Trigger
from executions.services.creation import (
    BuiltExecution,
    execution_build,
    executions_save,
)
from executions.services.inputs import input_values_resolve
from pipelines.io_rules import MappingType
from platform_site.http.errors import ApiError, Forbidden, ValidationFailed

MAX_FILES_PER_CALL = 1


def deployment_enabled_check(deployment: Deployment) -> None:
    """403 DeploymentDisabled: the one check of every trigger (endpoint calls, the API, the scheduler)."""
    if not deployment.is_enabled:
        raise Forbidden(
            f"Deployment '{deployment.name}' is disabled: it accepts no executions "
            "until it is enabled again (update_deployment(..., is_enabled=True)).",
            name="DeploymentDisabled",
        )


def _endpoint_inputs(deployment: Deployment) -> dict[str, str]:
    """endpoint input name -> pipeline input name."""
    return {
        m["endpoint_input_name"]: m["pipeline_input_name"]
        for m in deployment.inputs_mapping
        if "endpoint_input_name" in m
    }


def _to_pipeline_names(
    deployment: Deployment, values: dict, files: dict
) -> tuple[dict, dict, dict[str, str]]:
    """Re-key what the caller sent (endpoint input names) by pipeline input name."""
    accepted = _endpoint_inputs(deployment)
    given: dict[str, Any] = {}
    given_files: dict[str, Any] = {}
    for source, target in ((values, given), (files, given_files)):
        for key, value in source.items():
            if key not in accepted:
                names = ", ".join(accepted) or "no inputs"
                raise ValidationFailed(
                    f"Unknown input '{key}': deployment '{deployment.name}' accepts {names}.",
                    data={"input": key},
                )
            target[accepted[key]] = value
    return given, given_files, {p: e for e, p in accepted.items()}


def _renamed(exc: ValidationFailed, endpoint_names: dict[str, str]) -> ValidationFailed:
    """Errors name pipeline inputs; a caller of a renamed endpoint input knows the other name."""
    pipeline_name = (
        (exc.data or {}).get("input") if isinstance(exc.data, dict) else None
    )
    endpoint_name = endpoint_names.get(pipeline_name) if pipeline_name else None
    if not endpoint_name or endpoint_name == pipeline_name:
        return exc
    message = exc.message.replace(f"'{pipeline_name}'", f"'{endpoint_name}'", 1)
    return ValidationFailed(message, data={"input": endpoint_name})


def deployment_trigger(**call: Any) -> Execution:
    """Start an execution (deployment_trigger_build's arguments): checked, then saved."""
    built = deployment_trigger_build(**call)
    executions_save([built])
    return built.execution


def deployment_trigger_build(
    *,
    deployment: Deployment,
    values: dict,
    files: dict,
    created_by,
    token_name: str = "",
    execution_pk: uuid.UUID | None = None,
) -> BuiltExecution:
    """An execution from values keyed by endpoint input names (§5.1, §5.2),
    checked, not saved yet (executions_save; calls written together:
    executions_build_and_save).

    `token_name` names the endpoint token of a call ("" for other triggers);
    `execution_pk`, when the caller watches the execution before it is written.
    """
    deployment_enabled_check(deployment)
    if not isinstance(values, dict):
        raise ValidationFailed(
            "The body must be a JSON object keyed by endpoint input names."
        )
    if deployment.execution_rule == ExecutionRule.ENDPOINT:
        trigger = Trigger.ENDPOINT
        given, given_files, endpoint_names = _to_pipeline_names(
            deployment, values, files
        )
    else:
        if values or files:
            raise ValidationFailed(
                f"Deployment '{deployment.name}' is periodic: its inputs come from its "
                "mapping, do not send values."
            )
        trigger, given, given_files, endpoint_names = Trigger.PERIODIC, {}, {}, {}
    try:
        inputs = input_values_resolve(
            pipeline=deployment.pipeline,
            given=given,
            files=given_files,
            inputs_mapping=deployment.inputs_mapping,
            source="endpoint",
        )
    except ValidationFailed as exc:
        raise _renamed(exc, endpoint_names) from None
    return execution_build(
        pipeline=deployment.pipeline,
        trigger=trigger,
        created_by=created_by,
        inputs=inputs,
        outputs_mapping=deployment.outputs_mapping,
        deployment=deployment,
        endpoint_token_name=token_name,
        execution_pk=execution_pk,
    )


def deployment_tick_build(
    *, deployment: Deployment, scheduled_for: datetime
) -> BuiltExecution:
    """The rows of one CRON tick's execution, inputs with their sources (constant, …).

    The scheduler saves a batch of them at once (executions_save); the unique
    constraint (deployment, scheduled_for) raises IntegrityError there when
    another scheduler already fired this tick.
    """
    inputs = input_values_resolve(
        pipeline=deployment.pipeline,
        given={},
        files={},
        inputs_mapping=deployment.inputs_mapping,
        source="periodic",
    )
    return execution_build(
        pipeline=deployment.pipeline,
        trigger=Trigger.PERIODIC,
        created_by=deployment.created_by,
        inputs=inputs,
        outputs_mapping=deployment.outputs_mapping,
        deployment=deployment,
        scheduled_for=scheduled_for,
    )


# -- reading results back ----------------------------------------------------------


def execution_failure(execution: Execution) -> ApiError:
    """The §5.4 error body of a pipeline that did not succeed (hosted product: 500)."""
    reason = execution.status_reason or execution.status
    return ApiError(
        f"Execution {execution.execution_id} failed: {reason}",
        status=500,
        name="ExecutionFailed",
        data={"execution_id": execution.execution_id, "status": execution.status},
    )


def endpoint_outputs(execution: Execution, *, wrap: bool, file_url) -> dict[str, Any]:
    """Outputs keyed by endpoint output name; outputs mapped elsewhere are absent.

    `wrap` gives the §5.4 shape ({"value": v}); file outputs are always
    {"url": file_url(endpoint_output_name)} (or {"url": None} when absent).
    """
    outputs: dict[str, Any] = {}
    rows = ExecutionIo.objects.filter(
        execution=execution,
        direction=IoDirection.OUTPUT,
        mapping_type=MappingType.ENDPOINT,
    ).only("name", "data_type", "mapping_value", "value", "file_path")
    for row in rows:
        name = (row.mapping_value or {}).get("endpoint_output_name") or row.name
        if row.data_type == "file":
            outputs[name] = {"url": file_url(name) if row.file_path else None}
        else:
            outputs[name] = {"value": row.value} if wrap else row.value
    return outputs


def endpoint_output_file(execution: Execution, endpoint_output_name: str) -> str | None:
    """The file_path (executions/files.py) of an endpoint-mapped file output, kept with its execution."""
    for row in ExecutionIo.objects.filter(
        execution=execution,
        direction=IoDirection.OUTPUT,
        mapping_type=MappingType.ENDPOINT,
    ):
        name = (row.mapping_value or {}).get("endpoint_output_name") or row.name
        if name != endpoint_output_name or not row.file_path:
            continue
        if row.file_path.startswith(S3_MARK):
            inside = row.file_path.startswith(f"{S3_MARK}executions/{execution.pk}/")
            return row.file_path if inside else None
        path = Path(row.file_path)
        if not path.is_absolute():
            path = execution.work_dir / path
        resolved = path.resolve()
        root = Path(execution.work_dir).resolve()
        if root not in resolved.parents or not resolved.is_file():
            return None
        return str(resolved)
    return None
