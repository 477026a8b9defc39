"""Read-side queries: execution lookups and filtered lists."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.db.models import Q, QuerySet

from deployments.models import Deployment, Pipeline
from executions.models import (
    EnvironmentVariable,
    Execution,
    ExecutionIo,
    IoDirection,
    LogLine,
)
from platform_site.errors import NotFound


def execution_get(execution_id: str) -> Execution:
    """The execution with this public id; NotFound (404) when there is none."""
    execution = (
        Execution.objects.select_related("pipeline", "created_by")
        .filter(execution_id=execution_id)
        .first()
    )
    if execution is None:
        raise NotFound(f"Execution '{execution_id}' does not exist.")
    return execution


def execution_io_get(execution: Execution, *, direction: str, name: str) -> ExecutionIo:
    row = ExecutionIo.objects.filter(
        execution=execution, direction=direction, name=name
    ).first()
    if row is None:
        kind = "input" if direction == IoDirection.INPUT else "output"
        raise NotFound(f"Execution '{execution.execution_id}' has no {kind} '{name}'.")
    return row


def executions_for_pipeline(
    pipeline, *, limit: int | None = None
) -> QuerySet[Execution]:
    executions = Execution.objects.filter(pipeline=pipeline).order_by("-created_at")
    return executions[:limit] if limit else executions


def execution_latest_for_pipeline(pipeline) -> Execution | None:
    return Execution.objects.filter(pipeline=pipeline).order_by("-created_at").first()


@dataclass
class ExecutionFilters:
    pipeline: str = ""
    deployment: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None


def execution_list(
    filters: ExecutionFilters, *, before: str = ""
) -> QuerySet[Execution]:
    """Newest first, narrowed by the page's filters (dates are whole UTC days, inclusive).

    `before` is the execution_id of the last row of the previous page (keyset
    paging: no OFFSET, so page 1,000 costs what page 1 does); unknown ids are ignored.
    """
    executions = Execution.objects.order_by("-created_at", "-pk")
    cursor = (
        Execution.objects.filter(execution_id=before).values("created_at", "pk").first()
        if before
        else None
    )
    if cursor is not None:
        executions = executions.filter(
            Q(created_at__lt=cursor["created_at"])
            | Q(created_at=cursor["created_at"], pk__lt=cursor["pk"])
        )
    if filters.pipeline:
        executions = executions.filter(pipeline_name=filters.pipeline)
    if filters.deployment:
        executions = executions.filter(deployment_name=filters.deployment)
    if filters.status:
        executions = executions.filter(status=filters.status)
    if filters.date_from:
        start = datetime.combine(filters.date_from, time.min, tzinfo=UTC)
        executions = executions.filter(created_at__gte=start)
    if filters.date_to:
        end = datetime.combine(filters.date_to, time.max, tzinfo=UTC)
        executions = executions.filter(created_at__lte=end)
    return executions


def execution_filter_names() -> tuple[list[str], list[str]]:
    """(pipeline names, deployment names) the list's filters offer, sorted."""
    pipelines = sorted(Pipeline.objects.values_list("name", flat=True))
    deployments = sorted(Deployment.objects.values_list("name", flat=True))
    return pipelines, deployments


def environment_variable_list() -> QuerySet[EnvironmentVariable]:
    return EnvironmentVariable.objects.order_by("name")


LOG_SEARCH_LIMIT = 200


def log_lines_matching(execution: Execution, text: str) -> list[LogLine]:
    """The first lines containing `text` (any case), oldest first; [] for blank text."""
    if not text.strip():
        return []
    lines = LogLine.objects.filter(execution=execution, message__icontains=text)
    return list(lines.order_by("seq")[:LOG_SEARCH_LIMIT])


def log_lines_all(execution: Execution) -> Iterator[LogLine]:
    """Every line, oldest first, read in chunks (a log may hold a million lines)."""
    lines = LogLine.objects.filter(execution=execution).order_by("seq")
    return lines.only("timestamp", "stream", "message").iterator(chunk_size=2000)
