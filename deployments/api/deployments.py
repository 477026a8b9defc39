"""Deployment routes of /api/v1 (docs/sdk-protocol.md §4 and §5.2, §5.5). Thin: services do the work.

Bodies are schemas for their types (an error names its field in `message`,
which is what the SDK shows its user); what a deployment may be is the
services' rule (deployments/services/deployment_rules.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router, Schema
from pydantic import ConfigDict, StrictBool, StrictInt

from deployments.endpoints.access import endpoint_token_rotate
from deployments.endpoints.calls import call_body
from deployments.models import Deployment, ExecutionRule
from deployments.selectors import (
    deployment_executions,
    deployment_get_or_404,
    deployment_latest_execution_id,
    deployment_logs,
)
from deployments.serializers import (
    deployment_list_item,
    deployment_to_api,
)
from deployments.services.deployment_triggers import (
    deployment_trigger,
)
from deployments.services.deployments import (
    deployment_create,
    deployment_delete,
    deployment_update,
    deployment_wait_ready,
)
from pipelines.models import Pipeline
from platform_site.http.errors import NotFound, ValidationFailed
from platform_site.http.log_window import LogWindow
from platform_site.http.request import json_object_body

router = Router(tags=["deployments"])

Mapping = dict[str, Any]


class DeploymentIn(Schema):
    """create_deployment's body; the SDK sends every key, None where unset."""

    pipeline_name: str
    name: str
    description: str | None = None
    mode: str | None = None
    enable_parallel_executions: StrictBool | None = None
    max_parallel_executions_per_pod: StrictInt | None = None
    ram_request: str | None = None
    gpu_request: StrictInt | None = None
    execution_timeout_s: StrictInt | None = None
    inputs_mapping: list[Mapping] | None = None
    outputs_mapping: list[Mapping] | None = None
    schedule: str | None = None  # periodic only
    endpoint_url_path: str | None = None  # endpoint only
    endpoint_token: str | None = None  # endpoint only


class DeploymentPatch(Schema):
    # Other keys are kept so that the answer can name what cannot change.
    model_config = ConfigDict(extra="allow")

    is_enabled: StrictBool | None = None
    schedule: str | None = None
    inputs_mapping: list[Mapping] | None = None
    outputs_mapping: list[Mapping] | None = None


def _pipeline(name: str) -> Pipeline:
    pipeline = Pipeline.objects.filter(name=name).first()
    if pipeline is None:
        raise NotFound(f"pipeline_name: pipeline '{name}' not found.")
    return pipeline


def _create(
    request: HttpRequest, body: DeploymentIn, execution_rule: str
) -> JsonResponse:
    options = body.dict(exclude={"pipeline_name", "name"}, exclude_none=True)
    deployment = deployment_create(
        pipeline=_pipeline(body.pipeline_name),
        name=body.name,
        execution_rule=execution_rule,
        created_by=request.user,
        **options,
    )
    return JsonResponse(deployment_to_api(deployment), status=201)


@router.post("/endpoints")
def create_endpoint_deployment(request: HttpRequest, deployment: DeploymentIn):
    return _create(request, deployment, ExecutionRule.ENDPOINT)


@router.post("/periodic-deployment")
def create_periodic_deployment(request: HttpRequest, deployment: DeploymentIn):
    return _create(request, deployment, ExecutionRule.PERIODIC)


@router.post("/endpoints/{name}/generate-new-token")
def generate_new_token(request: HttpRequest, name: str):
    """The SDK posts its chosen token (if any) as a form field; a JSON body is read too."""
    deployment = deployment_get_or_404(name)
    chosen = request.POST.get("endpoint_token") if request.POST else None
    if chosen is None and request.content_type == "application/json":
        chosen = json_object_body(request).get("endpoint_token")
    token = endpoint_token_rotate(deployment=deployment, token=chosen or None)
    return {"endpoint_token": token}


@router.get("/deployments")
def list_deployments(request: HttpRequest):
    rows = Deployment.objects.select_related("pipeline").order_by("-created_at")
    return JsonResponse([deployment_list_item(d) for d in rows], safe=False)


@router.get("/deployments/{name}")
def get_deployment(request: HttpRequest, name: str):
    deployment = deployment_get_or_404(name)
    if request.GET.get("wait_for_completion", "").lower() in ("true", "1"):
        deployment = deployment_wait_ready(
            deployment=deployment, timeout_s=settings.LONG_POLL_HOLD_S
        )
    return deployment_to_api(deployment)


@router.patch("/deployments/{name}")
def update_deployment(request: HttpRequest, name: str, patch: DeploymentPatch):
    deployment = deployment_get_or_404(name)
    unknown = sorted(patch.model_extra or {})
    if unknown:
        known = ", ".join(DeploymentPatch.model_fields)
        raise ValidationFailed(
            f"Cannot update {', '.join(unknown)}: only {known} can change."
        )
    deployment = deployment_update(
        deployment=deployment,
        updated_by=request.user,
        **patch.dict(exclude=set(patch.model_extra or {}), exclude_none=True),
    )
    return deployment_to_api(deployment)


@router.delete("/deployments/{name}")
def delete_deployment(request: HttpRequest, name: str):
    return deployment_delete(deployment=deployment_get_or_404(name))


@router.post("/deployments/{name}/logs")
def get_deployment_logs(request: HttpRequest, name: str, window: LogWindow):
    lines = deployment_logs(deployment=deployment_get_or_404(name), window=window)
    return JsonResponse(lines, safe=False)


@router.get("/deployments/{name}/executions/latest")
def latest_execution(request: HttpRequest, name: str):
    execution_id = deployment_latest_execution_id(deployment_get_or_404(name))
    if execution_id is None:
        return HttpResponse(status=204)
    return {"execution_id": execution_id}


@router.get("/deployments/{name}/executions")
def list_executions(request: HttpRequest, name: str):
    rows = deployment_executions(deployment_get_or_404(name))
    return JsonResponse(rows, safe=False)


@router.post("/deployments/{name}/executions")
def trigger_execution(request: HttpRequest, name: str):
    """§5.2: trigger with the SDK token; the client then waits on /executions/{id}/outputs."""
    deployment = deployment_get_or_404(name)
    values, files = call_body(request)
    execution = deployment_trigger(
        deployment=deployment, values=values, files=files, created_by=request.user
    )
    return {"execution_id": execution.execution_id}
