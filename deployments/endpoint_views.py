"""Public endpoints (/endpoints/...): any HTTP client with `Authorization: EndpointToken <t>`.

Plain function views, csrf_exempt, no session: a cookie never opens an endpoint.
The trigger path is hot: one query finds the deployment and its pipeline, the
token is checked in constant time, then the execution is written and held on.
"""

from __future__ import annotations

import threading
from typing import Any
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

from deployments.models import Deployment
from deployments.selectors import deployment_for_endpoint_path
from deployments.services.deployment_triggers import (
    MAX_FILES_PER_CALL,
    deployment_call,
    endpoint_output_file,
    endpoint_outputs,
    execution_failure,
)
from deployments.tokens import token_decrypt, token_matches
from endpoint_access.rate_limit import RateLimited, endpoint_rate_limit_check
from endpoint_access.services import endpoint_main_token_used, endpoint_token_accepts
from executions.files import execution_file_name, execution_file_open
from executions.models import Execution, ExecutionStatus
from executions.services.lifecycle import execution_wait
from platform_site.bodies import MalformedJson, content_length, json_loads
from platform_site.db_retry import DATABASE_BLIPS
from platform_site.errors import (
    ApiError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    TooLarge,
    ValidationFailed,
    api_error_response,
)
from platform_site.http import public_url

# The SDK follows at most 30 redirects of the results route: hold longer there.
RESULTS_HOLD_S = 30
TOKEN_SCHEME = "endpointtoken"
ENDPOINT_TOKEN_MISSING = (
    "Missing endpoint token: send 'Authorization: EndpointToken <token>'."
)
ENDPOINT_REFUSED = "No endpoint at this path accepts this token."
# How "Triggered by" names the deployment's own token (named tokens go by their name).
MAIN_TOKEN_NAME = "main token"


def _header_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != TOKEN_SCHEME or not token.strip():
        return None
    return token.strip()


def _authorize(
    request: HttpRequest, path: str, token: str | None
) -> tuple[Deployment, str]:
    """(the deployment, the name of the token that opened it); 401 otherwise.

    401 without a token, and 401 alike for an unknown path and a wrong token:
    one answer for both, so that endpoint names cannot be enumerated.
    """
    if token is None:
        raise NotAuthenticated(ENDPOINT_TOKEN_MISSING)
    deployment = deployment_for_endpoint_path(path)
    expected = (
        token_decrypt(deployment.endpoint_token_encrypted) if deployment else None
    )
    if deployment is None:
        raise NotAuthenticated(ENDPOINT_REFUSED)
    if token_matches(token, expected):
        endpoint_main_token_used(deployment=deployment)
        return deployment, MAIN_TOKEN_NAME
    name = endpoint_token_accepts(deployment=deployment, raw=token)
    if name is None:
        raise NotAuthenticated(ENDPOINT_REFUSED)
    return deployment, name


def _decode_field(raw: str) -> Any:
    """SDK multipart fields hold json.dumps(value); curl -F a=x sends plain text."""
    try:
        return json_loads(raw)
    except MalformedJson:
        return raw


def trigger_body(request: HttpRequest) -> tuple[dict, dict]:
    """(values, files) keyed by endpoint input names, from JSON, multipart or an empty body."""
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        values = {key: _decode_field(request.POST[key]) for key in request.POST}
        files = {key: request.FILES[key] for key in request.FILES}
        if len(files) > MAX_FILES_PER_CALL:
            raise ValidationFailed(
                f"At most {MAX_FILES_PER_CALL} file per call; got {len(files)}: "
                + ", ".join(files)
                + "."
            )
        return values, files
    body = request.body
    if not body.strip():
        return {}, {}
    try:
        values = json_loads(body)
    except MalformedJson:
        if content_type == "application/x-www-form-urlencoded":
            # curl -d a=1 without a JSON content type: form fields, decoded like multipart.
            return {k: _decode_field(v) for k, v in request.POST.items()}, {}
        raise
    if not isinstance(values, dict):
        raise ValidationFailed(
            "The JSON body must be an object keyed by endpoint input names."
        )
    return values, {}


def _check_size(request: HttpRequest) -> None:
    length = content_length(request)
    if length > settings.MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"Request body is too large: {length} bytes, the limit is "
            f"{settings.MAX_UPLOAD_BYTES} bytes."
        )


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


def _errors_as_json(view):
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RateLimited as exc:
            response = api_error_response(exc)
            response["Retry-After"] = str(exc.retry_after_s)
            return response
        except ApiError as exc:
            return api_error_response(exc)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@csrf_exempt
@require_POST
@_errors_as_json
def endpoint_trigger(request: HttpRequest, path: str) -> HttpResponse:
    """Start an execution; 200 with its outputs if it ends within the hold, else 303."""
    deployment, token_name = _authorize(request, path, _header_token(request))
    endpoint_rate_limit_check(deployment)
    if not deployment.is_enabled:
        raise Forbidden(
            f"Deployment '{deployment.name}' is disabled: it accepts no executions "
            "until it is enabled again.",
            name="DeploymentDisabled",
        )
    _check_size(request)
    values, files = trigger_body(request)
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
    return request.GET.get("token") or _header_token(request)


# POST too: `curl -L -X POST` re-sends a POST after the trigger's 303.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@_errors_as_json
def endpoint_result(request: HttpRequest, path: str, execution_id: str) -> HttpResponse:
    """§5.4: hold, then 307 to the same URL (query kept) while running; outputs when done.

    A POST's body is ignored: the execution already has its inputs.
    """
    deployment, _ = _authorize(request, path, _request_token(request))
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
@_errors_as_json
def endpoint_output_file_view(
    request: HttpRequest, path: str, execution_id: str, output_name: str
) -> HttpResponse:
    """A file output's bytes, as application/octet-stream (token in the query)."""
    deployment, _ = _authorize(request, path, _request_token(request))
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
