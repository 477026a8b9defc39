"""An endpoint's OpenAPI document: for its callers (endpoint token) and on its pages (session)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from deployments.endpoints.calls import (
    endpoint_authorize,
    endpoint_token_of,
    errors_as_json,
)
from deployments.endpoints.openapi import endpoint_openapi
from deployments.models import Deployment, ExecutionRule


def _document(deployment: Deployment) -> dict:
    return endpoint_openapi(deployment, server_url=settings.PUBLIC_URL)


@csrf_exempt
@require_GET
@errors_as_json
def endpoint_openapi_json(request: HttpRequest, path: str) -> HttpResponse:
    """For callers: the same token, and the same 401 for unknown paths, as a call."""
    deployment, _ = endpoint_authorize(request, path, endpoint_token_of(request))
    return JsonResponse(_document(deployment))


def _get_endpoint(name: str) -> Deployment:
    return get_object_or_404(
        Deployment.objects.select_related("pipeline"),
        name=name,
        execution_rule=ExecutionRule.ENDPOINT,
    )


@login_required
@require_GET
def deployment_openapi_json(request: HttpRequest, name: str) -> HttpResponse:
    response = JsonResponse(_document(_get_endpoint(name)))
    response["Content-Disposition"] = f'inline; filename="{name}-openapi.json"'
    return response


@login_required
@require_GET
def deployment_api_docs(request: HttpRequest, name: str) -> HttpResponse:
    """Swagger UI from vendored assets, with the document embedded (json_script)."""
    deployment = _get_endpoint(name)
    return render(
        request,
        "deployments/endpoints/api_docs.html",
        {"deployment": deployment, "document": _document(deployment)},
    )
