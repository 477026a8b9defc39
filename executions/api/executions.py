"""One execution: its object, outputs (long-poll), input/output values, logs, deletion."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from executions import selectors, services
from executions.files import execution_file_open
from executions.models import Execution, ExecutionStatus, IoDirection
from platform_site.http.errors import error_response
from platform_site.http.log_window import LogWindow

router = Router(tags=["executions"])


def failed_response(execution: Execution) -> JsonResponse:
    """The error the SDK raises for a Failed/Error execution (docs/sdk-protocol.md §3.3)."""
    return error_response(
        f"Execution {execution.execution_id} failed: {execution.status_reason or execution.status}",
        status=500,
        name="ExecutionFailed",
        data={"execution_id": execution.execution_id, "status": execution.status},
    )


@router.get("/executions/{execution_id}")
def get_execution(
    request: HttpRequest, execution_id: str, include_io_values: bool = True
):
    execution = selectors.execution_get(execution_id)
    return services.execution_to_api(execution, include_io_values=include_io_values)


@router.delete("/executions/{execution_id}")
def delete_execution(request: HttpRequest, execution_id: str):
    execution = selectors.execution_get(execution_id)
    services.execution_delete(execution=execution)
    return {"execution_id": execution_id}


@router.get("/executions/{execution_id}/outputs")
def get_execution_outputs(
    request: HttpRequest, execution_id: str, wait_for_completion: bool = False
):
    execution = selectors.execution_get(execution_id)
    if wait_for_completion and not execution.is_final:
        execution = services.execution_wait(
            execution=execution, timeout_s=settings.LONG_POLL_HOLD_S
        )
        if not execution.is_final:
            # The SDK re-requests the same URL on 307, immediately: the hold is the pacing.
            response = JsonResponse(
                {"execution_id": execution.execution_id, "status": execution.status},
                status=307,
            )
            response["Location"] = request.get_full_path()
            return response
    if execution.status in (ExecutionStatus.FAILED, ExecutionStatus.ERROR):
        return failed_response(execution)
    return {"outputs": services.execution_outputs_for_api(execution)}


def _value_response(execution: Execution, *, direction: str, name: str) -> HttpResponse:
    row = selectors.execution_io_get(execution, direction=direction, name=name)
    if row.data_type == "file" and row.file_path:
        try:
            handle = execution_file_open(row.file_path)
        except FileNotFoundError:
            return HttpResponse("null", content_type="application/json")
        return FileResponse(handle, content_type="application/octet-stream")
    return HttpResponse(json.dumps(row.value), content_type="application/json")


@router.get("/executions/{execution_id}/inputs/{name}")
def get_execution_input(request: HttpRequest, execution_id: str, name: str):
    execution = selectors.execution_get(execution_id)
    return _value_response(execution, direction=IoDirection.INPUT, name=name)


@router.get("/executions/{execution_id}/outputs/{name}")
def get_execution_output(request: HttpRequest, execution_id: str, name: str):
    execution = selectors.execution_get(execution_id)
    return _value_response(execution, direction=IoDirection.OUTPUT, name=name)


@router.post("/executions/{execution_id}/logs")
def get_execution_logs(request: HttpRequest, execution_id: str, window: LogWindow):
    execution = selectors.execution_get(execution_id)
    lines = services.log_lines_window(execution=execution, window=window)
    return [[services.log_line_to_api(line) for line in lines]]
