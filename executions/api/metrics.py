"""Pipeline metrics on /api/v1 (docs/sdk-protocol.md §8).

Writes come from user code with an execution-scoped token; reads from users
with their own access token, paged with an exact `total_count` (the client
keeps asking until it holds that many items).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.security import HttpBearer

from executions.metrics import selectors, services
from executions.metrics.tokens import execution_for_access_token, pod_sibling
from executions.models import MetricKind
from platform_site.http.errors import Forbidden, ValidationFailed
from platform_site.http.request import json_body

router = Router(tags=["metrics"])

MAX_ITEMS_PER_PAGE = 5000
OTHER_EXECUTION = "This token records metrics for its own execution only."


class ExecutionTokenAuth(HttpBearer):
    """An access token exchanged for an execution's SDK token, while that execution runs."""

    def authenticate(self, request: HttpRequest, token: str):
        return execution_for_access_token(token)


def _own_execution(request: HttpRequest, body: dict):
    """The execution named in the body, if the token may record for it."""
    execution = request.auth
    target = body.get("execution_id")
    if target == execution.execution_id:
        return execution
    sibling = pod_sibling(execution, target) if isinstance(target, str) else None
    if sibling is None:
        raise Forbidden(OTHER_EXECUTION)
    return sibling


def _body(request: HttpRequest) -> dict:
    body = json_body(request)
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.")
    return body


@router.put("/metrics/single-value/{name}", auth=ExecutionTokenAuth())
def record_value(request: HttpRequest, name: str):
    body = _body(request)
    execution = _own_execution(request, body)
    services.metric_record_value(
        execution=execution, name=name, value=body.get("value")
    )
    return {"name": name, "execution_id": execution.execution_id}


@router.post("/metrics/list-values/{name}", auth=ExecutionTokenAuth())
def record_list_values(request: HttpRequest, name: str):
    body = _body(request)
    execution = _own_execution(request, body)
    services.metric_record_list_values(
        execution=execution, name=name, values=body.get("values")
    )
    return {"name": name, "execution_id": execution.execution_id}


def _positive(request: HttpRequest, key: str, default: int) -> int:
    raw = request.GET.get(key)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValidationFailed(f"{key} must be a positive integer.", field=key)
    return int(raw)


def _page(request: HttpRequest, kind: str) -> dict:
    filters = {key: request.GET.get(f"filters[{key}]") for key in selectors.FILTERS}
    per_page = min(_positive(request, "items_per_page", 100), MAX_ITEMS_PER_PAGE)
    page = _positive(request, "page", 1)
    queryset = selectors.metrics_filtered(kind=kind, filters=filters)
    start = (page - 1) * per_page
    return {
        "metrics": [
            selectors.metric_to_api(m) for m in queryset[start : start + per_page]
        ],
        "total_count": queryset.count(),
    }


@router.get("/metrics/single-value")
def list_values(request: HttpRequest):
    return _page(request, MetricKind.SINGLE)


@router.get("/metrics/list-values")
def list_list_values(request: HttpRequest):
    return _page(request, MetricKind.LIST)
