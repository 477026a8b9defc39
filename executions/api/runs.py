"""Run a pipeline and list its executions."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router

from deployments.models import Pipeline, PipelineStatus
from executions import selectors, services
from executions.models import Trigger
from platform_site.errors import NotFound, ValidationFailed

router = Router(tags=["executions"])


def pipeline_get(name: str) -> Pipeline:
    pipeline = Pipeline.objects.filter(name=name).first()
    if pipeline is None:
        raise NotFound(f"Pipeline '{name}' does not exist.")
    return pipeline


def _json_field(request: HttpRequest, field: str, *, kind: type, default: Any) -> Any:
    raw = request.POST.get(field)
    if raw is None or raw == "":
        return default
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValidationFailed(f"{field} must be valid JSON.") from None
    if not isinstance(value, kind):
        shape = "an object" if kind is dict else "a list"
        raise ValidationFailed(f"{field} must be {shape}.")
    return value


@router.post("/pipelines/{name}/run")
def run_pipeline(request: HttpRequest, name: str):
    pipeline = pipeline_get(name)
    if pipeline.status != PipelineStatus.READY:
        raise ValidationFailed(
            f"Pipeline '{name}' is not ready (status {pipeline.status}): it cannot run yet."
        )
    given = _json_field(request, "json_inputs", kind=dict, default={})
    inputs_mapping = _json_field(request, "inputs_mapping", kind=list, default=None)
    outputs_mapping = _json_field(request, "outputs_mapping", kind=list, default=None)
    inputs = services.input_values_resolve(
        pipeline=pipeline,
        given=given,
        files=dict(request.FILES.items()),
        inputs_mapping=inputs_mapping,
        source=Trigger.RUN,
    )
    execution = services.execution_create(
        pipeline=pipeline,
        trigger=Trigger.RUN,
        created_by=request.user,
        inputs=inputs,
        outputs_mapping=outputs_mapping,
    )
    return {"execution_id": execution.execution_id}


@router.get("/pipelines/{name}/executions")
def list_pipeline_executions(request: HttpRequest, name: str):
    pipeline = pipeline_get(name)
    return [
        services.execution_summary_to_api(e)
        for e in selectors.executions_for_pipeline(pipeline, limit=1000)
    ]


@router.get("/pipelines/{name}/executions/latest")
def latest_pipeline_execution(request: HttpRequest, name: str):
    latest = selectors.execution_latest_for_pipeline(pipeline_get(name))
    if latest is None:
        return HttpResponse(status=204)
    return {"execution_id": latest.execution_id}
