"""Reading metrics: the paged API lists, and what the pages show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from executions.models import Execution, MetricKind, PipelineMetric
from pipelines.models import Pipeline
from platform_site.http.units import iso

FILTERS = {
    "name": "name",
    "pipeline_name": "execution__pipeline_name",
    "deployment_name": "execution__deployment_name",
    "execution_id": "execution__execution_id",
}
PIPELINE_CHART_EXECUTIONS = 50
# Lines drawn over one another stay readable up to about this many.
PIPELINE_OVERLAID_EXECUTIONS = 8


def metrics_filtered(*, kind: str, filters: dict[str, str]) -> QuerySet[PipelineMetric]:
    """Metrics of one kind matching every given filter, oldest first (stable for paging)."""
    queryset = PipelineMetric.objects.filter(kind=kind).select_related("execution")
    for key, lookup in FILTERS.items():
        if filters.get(key) is not None:
            queryset = queryset.filter(**{lookup: filters[key]})
    return queryset.order_by("created_at", "id")


def metric_to_api(metric: PipelineMetric) -> dict[str, Any]:
    item: dict[str, Any] = {"name": metric.name}
    if metric.kind == MetricKind.SINGLE:
        item["value"] = metric.value
    else:
        item["values"] = metric.values
    item.update(
        {
            "created_at": iso(metric.created_at),
            "execution_id": metric.execution.execution_id,
            "deployment_name": metric.execution.deployment_name,
            "pipeline_name": metric.execution.pipeline_name,
        }
    )
    return item


@dataclass
class ExecutionMetrics:
    singles: list[PipelineMetric]
    lists: list[PipelineMetric]


def execution_metrics(execution: Execution) -> ExecutionMetrics:
    metrics = list(execution.metrics.order_by("name"))
    return ExecutionMetrics(
        singles=[m for m in metrics if m.kind == MetricKind.SINGLE],
        lists=[m for m in metrics if m.kind == MetricKind.LIST],
    )


def pipeline_metric_names(pipeline: Pipeline) -> list[str]:
    """Names of the single-value metrics this pipeline's executions recorded."""
    return list(
        PipelineMetric.objects.filter(
            kind=MetricKind.SINGLE, execution__pipeline=pipeline
        )
        .values_list("name", flat=True)
        .distinct()
        .order_by("name")
    )


def pipeline_metric_series(
    pipeline: Pipeline, name: str, *, last: int = PIPELINE_CHART_EXECUTIONS
) -> list[tuple[str, float, datetime]]:
    """(execution_id, value, execution start) of `name` over the last executions, oldest first."""
    rows = list(
        PipelineMetric.objects.filter(
            kind=MetricKind.SINGLE, name=name, execution__pipeline=pipeline
        )
        .order_by("-execution__created_at")
        .values_list("execution__execution_id", "value", "execution__created_at")[:last]
    )
    rows.reverse()
    return rows


def pipeline_list_metric_names(pipeline: Pipeline) -> list[str]:
    """Names of the list metrics (values per step) this pipeline's executions recorded."""
    return list(
        PipelineMetric.objects.filter(
            kind=MetricKind.LIST, execution__pipeline=pipeline
        )
        .values_list("name", flat=True)
        .distinct()
        .order_by("name")
    )


def pipeline_list_metric_runs(
    pipeline: Pipeline, name: str, *, last: int = PIPELINE_OVERLAID_EXECUTIONS
) -> list[tuple[str, list[float]]]:
    """(execution_id, values) of list metric `name` for the last executions, oldest first."""
    rows = list(
        PipelineMetric.objects.filter(
            kind=MetricKind.LIST, name=name, execution__pipeline=pipeline
        )
        .order_by("-execution__created_at")
        .values_list("execution__execution_id", "values")[:last]
    )
    rows.reverse()
    return rows
