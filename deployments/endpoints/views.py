"""A file output of an endpoint call: GET /endpoints/v1/<path>/executions/<id>/outputs/<name>.

The call and its results route are the hot path (hot_path.py). Plain
function views, csrf_exempt, no session: a cookie never opens an endpoint.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_GET,
)

from deployments.endpoints.calls import (
    endpoint_authorize,
    endpoint_token_of,
    errors_as_json,
)
from deployments.models import Deployment
from deployments.services.deployment_triggers import (
    endpoint_output_file,
)
from executions.files import execution_file_name, execution_file_open
from executions.models import Execution
from platform_site.http.errors import (
    NotFound,
)


def _execution_of(deployment: Deployment, execution_id: str) -> Execution:
    execution = Execution.objects.filter(
        deployment=deployment, execution_id=execution_id
    ).first()
    if execution is None:
        raise NotFound(f"Execution '{execution_id}' not found for this endpoint.")
    return execution


def _request_token(request: HttpRequest) -> str | None:
    return request.GET.get("token") or endpoint_token_of(request)


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
