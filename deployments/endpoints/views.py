"""Public endpoints (/endpoints/...): any HTTP client with `Authorization: EndpointToken <t>`.

Plain function views, csrf_exempt, no session: a cookie never opens an endpoint.
The trigger path is hot: one query finds the deployment and its pipeline, the
token is checked in constant time, then the execution is written and held on.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from deployments.endpoints.calls import (
    call_body,
    call_size_check,
    endpoint_authorize,
    endpoint_token_of,
    errors_as_json,
)
from deployments.endpoints.rate_limit import endpoint_rate_limit_check
from deployments.models import Deployment
from deployments.services.deployment_triggers import (
    deployment_call,
    deployment_enabled_check,
    endpoint_output_file,
    endpoint_outputs,
    execution_failure,
)
from executions.files import execution_file_name, execution_file_open
from executions.models import Execution, ExecutionStatus
from executions.services.lifecycle import execution_wait
from platform_site.clients.db_retry import DATABASE_BLIPS
from platform_site.http.errors import (
    NotFound,
)
from platform_site.http.request import public_url

# The SDK follows at most 30 redirects of the results route: hold longer there.
RESULTS_HOLD_S = 30


def _results_path(path: str, execution: Execution) -> str:
    return reverse(
        "endpoints:result",
        kwargs={"path": path, "execution_id": execution.execution_id},
    )


def _file_url(request: HttpRequest, path: str, execution: Execution):
    def build(output_name: str) -> str:
        # No query string: the SDK appends `?token=` to this URL as it is.
        return public_url(
            reverse(
                "endpoints:output_file",
                kwargs={
                    "path": path,
                    "execution_id": execution.execution_id,
                    "output_name": quote(output_name, safe=""),
                },
            )
        )

    return build


@csrf_exempt
@require_POST
@errors_as_json
def endpoint_trigger(request: HttpRequest, path: str) -> HttpResponse:
    """Start an execution; 200 with its outputs if it ends within the hold, else 303."""
    deployment, token_name = endpoint_authorize(
        request, path, endpoint_token_of(request)
    )
    endpoint_rate_limit_check(deployment)
    deployment_enabled_check(deployment)
    call_size_check(request)
    values, files = call_body(request)
    with deployment_call(
        deployment=deployment,
        values=values,
        files=files,
        created_by=deployment.created_by,
        token_name=token_name,
    ) as (execution, watched):
        try:
            return _held_answer(request, path, execution, watched)
        except DATABASE_BLIPS:
            # Accepted and committed: the caller gets its execution_id and the
            # result route, never a bare 500 that a retrying client would re-run.
            return _see_result(path, execution)


def _see_result(path: str, execution: Execution) -> HttpResponse:
    response = JsonResponse({"execution_id": execution.execution_id}, status=303)
    response["Location"] = _results_path(path, execution)
    return response


def _held_answer(
    request: HttpRequest, path: str, execution: Execution, watched: threading.Event
) -> HttpResponse:
    """Hold for the result: 200 with the outputs when it ends in time, else 303."""
    execution = execution_wait(
        execution=execution, timeout_s=settings.ENDPOINT_HOLD_S, watched=watched
    )
    if not execution.is_final:
        return _see_result(path, execution)
    if execution.status != ExecutionStatus.SUCCEEDED:
        raise execution_failure(execution)
    outputs = endpoint_outputs(
        execution, wrap=False, file_url=_file_url(request, path, execution)
    )
    return JsonResponse({"execution_id": execution.execution_id, "outputs": outputs})


def _execution_of(deployment: Deployment, execution_id: str) -> Execution:
    execution = Execution.objects.filter(
        deployment=deployment, execution_id=execution_id
    ).first()
    if execution is None:
        raise NotFound(f"Execution '{execution_id}' not found for this endpoint.")
    return execution


def _request_token(request: HttpRequest) -> str | None:
    return request.GET.get("token") or endpoint_token_of(request)


# POST too: `curl -L -X POST` re-sends a POST after the trigger's 303.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@errors_as_json
def endpoint_result(request: HttpRequest, path: str, execution_id: str) -> HttpResponse:
    """§5.4: hold, then 307 to the same URL (query kept) while running; outputs when done.

    A POST's body is ignored: the execution already has its inputs.
    """
    deployment, _ = endpoint_authorize(request, path, _request_token(request))
    execution = _execution_of(deployment, execution_id)
    execution = execution_wait(execution=execution, timeout_s=RESULTS_HOLD_S)
    if not execution.is_final:
        response = JsonResponse({"execution_id": execution.execution_id}, status=307)
        response["Location"] = request.get_full_path()
        return response
    if execution.status != ExecutionStatus.SUCCEEDED:
        raise execution_failure(execution)
    outputs = endpoint_outputs(
        execution, wrap=True, file_url=_file_url(request, path, execution)
    )
    return JsonResponse({"execution_id": execution.execution_id, "outputs": outputs})


@csrf_exempt
@require_GET
@errors_as_json
def endpoint_output_file_view(
    request: HttpRequest, path: str, execution_id: str, output_name: str
) -> HttpResponse:
    """A file output's bytes, as application/octet-stream (token in the query)."""
    deployment, _ = endpoint_authorize(request, path, _request_token(request))
    execution = _execution_of(deployment, execution_id)
    file_path = endpoint_output_file(execution, output_name)
    if file_path is None:
        raise NotFound(
            f"Execution '{execution_id}' has no file output '{output_name}'."
        )
    try:
        handle = execution_file_open(file_path)
    except FileNotFoundError:
        raise NotFound(
            f"Execution '{execution_id}' has no file output '{output_name}'."
        ) from None
    return FileResponse(
        handle,
        content_type="application/octet-stream",
        as_attachment=True,
        filename=execution_file_name(file_path),
    )
