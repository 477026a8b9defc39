"""Run a pipeline and list its executions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router

from executions import selectors, services
from pipelines.selectors import pipeline_get_or_404
from platform_site.http.bodies import json_loads
from platform_site.http.errors import ValidationFailed

router = Router(tags=["executions"])


def _json_field(request: HttpRequest, field: str, *, kind: type, default: Any) -> Any:
    raw = request.POST.get(field)
    if raw is None or raw == "":
        return default
    value = json_loads(raw, what=field)
    if not isinstance(value, kind):
        shape = "an object" if kind is dict else "a list"
        raise ValidationFailed(f"{field} must be {shape}.")
    return value


@router.post("/pipelines/{name}/run")
def run_pipeline(request: HttpRequest, name: str):
    execution = services.execution_create_for_run(
        pipeline=pipeline_get_or_404(name),
        given=_json_field(request, "json_inputs", kind=dict, default={}),
        files=dict(request.FILES.items()),
        created_by=request.user,
        inputs_mapping=_json_field(request, "inputs_mapping", kind=list, default=None),
        outputs_mapping=_json_field(
            request, "outputs_mapping", kind=list, default=None
        ),
    )
    return {"execution_id": execution.execution_id}


@router.get("/pipelines/{name}/executions")
def list_pipeline_executions(request: HttpRequest, name: str):
    pipeline = pipeline_get_or_404(name)
    return [
        services.execution_summary_to_api(e)
        for e in selectors.executions_for_pipeline(pipeline, limit=1000)
    ]


@router.get("/pipelines/{name}/executions/latest")
def latest_pipeline_execution(request: HttpRequest, name: str):
    latest = selectors.execution_latest_for_pipeline(pipeline_get_or_404(name))
    if latest is None:
        return HttpResponse(status=204)
    return {"execution_id": latest.execution_id}
