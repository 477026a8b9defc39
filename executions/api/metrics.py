"""Pipeline metrics on /api/v1 (docs/sdk-protocol.md §8).

Writes come from user code with an execution-scoped token; reads from users
with their own access token, paged with an exact `total_count` (the client
keeps asking until it holds that many items).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import HttpBearer

from executions.metrics import selectors, services
from executions.metrics.tokens import execution_for_access_token, pod_sibling
from executions.models import MetricKind
from platform_site.http.errors import Forbidden, ValidationFailed

router = Router(tags=["metrics"])

MAX_ITEMS_PER_PAGE = 5000
OTHER_EXECUTION = "This token records metrics for its own execution only."


class ExecutionTokenAuth(HttpBearer):
    """An access token exchanged for an execution's SDK token, while that execution runs."""

    def authenticate(self, request: HttpRequest, token: str):
        return execution_for_access_token(token)


class MetricValueIn(Schema):
    execution_id: str | None = None
    value: Any = None  # its type is the service's rule


class MetricValuesIn(Schema):
    execution_id: str | None = None
    values: Any = None


def _own_execution(request: HttpRequest, target: str | None):
    """The execution named in the body, if the token may record for it."""
    execution = request.auth
    if target == execution.execution_id:
        return execution
    sibling = pod_sibling(execution, target) if target else None
    if sibling is None:
        raise Forbidden(OTHER_EXECUTION)
    return sibling


@router.put("/metrics/single-value/{name}", auth=ExecutionTokenAuth())
def record_value(request: HttpRequest, name: str, metric: MetricValueIn):
    execution = _own_execution(request, metric.execution_id)
    services.metric_record_value(execution=execution, name=name, value=metric.value)
    return {"name": name, "execution_id": execution.execution_id}


@router.post("/metrics/list-values/{name}", auth=ExecutionTokenAuth())
def record_list_values(request: HttpRequest, name: str, metric: MetricValuesIn):
    execution = _own_execution(request, metric.execution_id)
    services.metric_record_list_values(
        execution=execution, name=name, values=metric.values
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
