"""What the pipeline pages show of executions: latest runs, metrics, last run in the list.

Registered with pipelines/pages.py in ExecutionsConfig.ready().
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from executions.metrics.display import pipeline_metrics_context
from executions.models import Execution
from pipelines.models import Pipeline

LATEST_EXECUTIONS = 10


def latest_executions(
    pipeline: Pipeline, request: HttpRequest | None
) -> dict[str, Any]:
    return {
        "latest_executions": list(pipeline.executions.all()[:LATEST_EXECUTIONS]),
        "show_deployment": True,
    }


def pipeline_metrics(pipeline: Pipeline, request: HttpRequest | None) -> dict[str, Any]:
    query = request.GET if request is not None else {}
    return pipeline_metrics_context(
        pipeline, query.get("metric"), query.get("list_metric")
    )


def last_execution(pipelines: QuerySet[Pipeline]) -> QuerySet[Pipeline]:
    latest = Execution.objects.filter(pipeline=OuterRef("pk")).order_by("-created_at")
    return pipelines.annotate(
        last_execution_id=Subquery(latest.values("execution_id")[:1]),
        last_execution_status=Subquery(latest.values("status")[:1]),
        last_execution_at=Subquery(latest.values("created_at")[:1]),
    )
