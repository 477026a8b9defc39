"""Pipeline routes of /api/v1 as the official client drives them (docs/sdk-protocol.md §2)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status

from pipelines.models import Pipeline, PipelineLog
from pipelines.sdk_multipart import (
    FormShapeError,
    coerce_pipeline_form,
    rebuild,
    to_bool,
)
from pipelines.selectors import pipeline_get_or_404, pipeline_logs_list
from pipelines.services.files import pipeline_download_path
from pipelines.services.pipelines import (
    pipeline_create,
    pipeline_delete,
    pipeline_wait,
)
from pipelines.services.validation import pipeline_spec_validate
from platform_site.http.bodies import content_length
from platform_site.http.errors import TooLarge, ValidationFailed
from platform_site.http.log_window import LogWindow
from platform_site.http.request import json_object_body, public_url
from platform_site.http.units import iso

router = Router(tags=["pipelines"])

CONTAINER_CONFIG_KEYS = (
    "language",
    "requirements_path",
    "included_folders",
    "system_dependencies",
    "dockerfile_path",
)


def pipeline_out(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline object of docs/sdk-protocol.md §2.4."""
    config = dict.fromkeys(CONTAINER_CONFIG_KEYS)
    config.update(pipeline.container_config or {})
    return {
        "parameters": {
            "pipeline_name": pipeline.name,
            "function_path": pipeline.function_path,
            "function_name": pipeline.function_name,
            "description": pipeline.description,
            "inputs": [
                {
                    "name": item["name"],
                    "data_type": item["data_type"],
                    "is_required": bool(item.get("is_required", False)),
                    "default_value": item.get("default_value"),
                    "description": item.get("description"),
                }
                for item in pipeline.inputs
            ],
            "outputs": [
                {
                    "name": item["name"],
                    "data_type": item["data_type"],
                    "description": item.get("description"),
                }
                for item in pipeline.outputs
            ],
            "container_config": config,
        },
        "creation_info": {
            "created_at": iso(pipeline.created_at),
            "created_by": str(pipeline.created_by_id)
            if pipeline.created_by_id
            else None,
            "commit_id": None,
            "status": pipeline.status,
            "origin": pipeline.origin,
            "pipeline_template": None,
        },
    }


def log_out(line: PipelineLog) -> dict[str, str | None]:
    return {"timestamp": iso(line.timestamp), "message": line.message}


def _declaration(request: HttpRequest) -> tuple[dict[str, Any], Any]:
    """The create_pipeline fields and the step_file, from JSON, urlencoded or multipart."""
    length = content_length(request)
    # Refuse before Django spools a huge upload to disk.
    if length > settings.MAX_UPLOAD_BYTES + 1024 * 1024:
        raise TooLarge(
            f"step_file: the request is larger than {settings.MAX_UPLOAD_BYTES} bytes"
        )
    if request.content_type == "application/json":
        return json_object_body(request), None
    try:
        data = rebuild(
            (key, value)
            for key, values in request.POST.lists()
            for value in values[-1:]
        )
    except FormShapeError as exc:
        raise ValidationFailed(str(exc)) from None
    return coerce_pipeline_form(data), request.FILES.get("step_file")


@router.get("/project-information")
def project_information(request: HttpRequest):
    # Non-null fallbacks make the client tar.add paths that may not exist locally.
    return {"included_folders": None, "requirements_path": None}


@router.post("/pipelines", response={201: dict})
def create(request: HttpRequest):
    data, step_file = _declaration(request)
    if data.get("pipeline_template_name"):
        pipeline_spec_validate(data)  # refuses templates with a clear message
    pipeline = pipeline_create(
        name=data.get("pipeline_name"),
        function_path=data.get("function_path"),
        function_name=data.get("function_name"),
        description=data.get("description"),
        inputs=data.get("inputs"),
        outputs=data.get("outputs"),
        container_config=data.get("container_config"),
        archive=step_file,
        created_by=request.user,
    )
    return Status(201, {"pipeline_name": pipeline.name, "status": pipeline.status})


@router.get("/pipelines")
def list_pipelines(request: HttpRequest):
    return [
        {
            "pipeline_name": pipeline.name,
            "created_at": iso(pipeline.created_at),
            "status": pipeline.status,
        }
        for pipeline in Pipeline.objects.order_by("-created_at")
    ]


@router.get("/pipelines/{name}")
def get(request: HttpRequest, name: str, wait_for_completion: str = "false"):
    pipeline = pipeline_get_or_404(name)
    if to_bool(wait_for_completion) and pipeline.status == "creation_pending":
        pipeline = pipeline_wait(pipeline=pipeline, timeout_s=settings.LONG_POLL_HOLD_S)
    return pipeline_out(pipeline)


@router.delete("/pipelines/{name}")
def delete(request: HttpRequest, name: str, force_deployments_deletion: str = "False"):
    force = to_bool(force_deployments_deletion)
    if force is None:
        raise ValidationFailed(
            "force_deployments_deletion: must be True or False",
            data={"field": "force_deployments_deletion"},
        )
    return pipeline_delete(pipeline=pipeline_get_or_404(name), force=force)


@router.get("/pipelines/{name}/download")
def download(request: HttpRequest, name: str):
    pipeline = pipeline_get_or_404(name)
    return {"signed_url": public_url(pipeline_download_path(pipeline=pipeline))}


@router.post("/pipelines/{name}/logs")
def logs(request: HttpRequest, name: str, window: LogWindow):
    lines = pipeline_logs_list(pipeline=pipeline_get_or_404(name), window=window)
    return [log_out(line) for line in lines]
