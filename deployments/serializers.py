"""The API shapes of deployments (docs/sdk-protocol.md §4.4): the deployment object and list rows."""

from __future__ import annotations

from typing import Any

from deployments.models import Deployment, DeploymentMode, ExecutionRule
from deployments.pods.services import deployment_pods
from deployments.schedules import schedule_describe
from deployments.selectors import deployment_token
from platform_site.http.units import iso


def _input_entry(mapping: dict, spec: dict) -> dict:
    entry = {
        "pipeline_input_name": mapping["pipeline_input_name"],
        "data_type": spec.get("data_type"),
        "description": spec.get("description"),
    }
    entry.update({k: v for k, v in mapping.items() if k != "pipeline_input_name"})
    if "endpoint_input_name" in mapping:
        # Show the pipeline's own rule when the mapping does not override it.
        if "is_required" not in mapping and spec.get("is_required"):
            entry["is_required"] = True
        if "default_value" not in mapping and spec.get("default_value") is not None:
            entry["default_value"] = spec["default_value"]
    return entry


def _output_entry(mapping: dict, spec: dict) -> dict:
    return {
        "pipeline_output_name": mapping["pipeline_output_name"],
        "data_type": spec.get("data_type"),
        "description": spec.get("description"),
        **{k: v for k, v in mapping.items() if k != "pipeline_output_name"},
    }


def _user_id(user_id: Any) -> str | None:
    return None if user_id is None else str(user_id)


def deployment_to_api(deployment: Deployment) -> dict:
    """The §4.4 object; the endpoint token is returned in clear (gotcha 12)."""
    pipeline = deployment.pipeline
    inputs = {spec["name"]: spec for spec in pipeline.inputs or []}
    outputs = {spec["name"]: spec for spec in pipeline.outputs or []}
    data: dict[str, Any] = {
        "name": deployment.name,
        "mode": deployment.mode,
        "execution_rule": deployment.execution_rule,
        "pipeline": {"name": pipeline.name},
        "inputs_mapping": [
            _input_entry(m, inputs.get(m["pipeline_input_name"], {}))
            for m in deployment.inputs_mapping
        ],
        "outputs_mapping": [
            _output_entry(m, outputs.get(m["pipeline_output_name"], {}))
            for m in deployment.outputs_mapping
        ],
        "created_at": iso(deployment.created_at),
        "created_by": _user_id(deployment.created_by_id),
        "updated_at": iso(deployment.updated_at),
        "updated_by": _user_id(deployment.updated_by_id),
        "is_enabled": deployment.is_enabled,
        "description": deployment.description,
        "status": deployment.status,
        "enable_parallel_executions": deployment.enable_parallel_executions,
        "max_parallel_executions_per_pod": deployment.max_parallel_executions_per_pod,
        "ram_request": deployment.ram_request,
        "gpu_request": deployment.gpu_request,
        "execution_timeout_s": deployment.execution_timeout_s,
    }
    if deployment.mode == DeploymentMode.LOW_LATENCY:
        # A disabled deployment's pod is being stopped: it is not listed.
        data["pods"] = [
            {"pod_id": pod["pod_id"], "status": pod["status"]}
            for pod in deployment_pods(deployment)
            if deployment.is_enabled
        ]
    if deployment.execution_rule == ExecutionRule.ENDPOINT:
        data["endpoint_token"] = deployment_token(deployment)
        data["endpoint_url_path"] = deployment.endpoint_url_path
    else:
        data["schedule"] = deployment.schedule
        data["human_readable_schedule"] = schedule_describe(deployment.schedule or "")
        data["next_run_at"] = iso(deployment.next_run_at)
    return data


def deployment_list_item(deployment: Deployment) -> dict:
    return {
        "name": deployment.name,
        "pipeline_name": deployment.pipeline.name,
        "execution_rule": deployment.execution_rule,
        "mode": deployment.mode,
        "is_enabled": deployment.is_enabled,
        "status": deployment.status,
        "created_at": iso(deployment.created_at),
    }
