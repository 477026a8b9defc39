"""Read-side queries: execution lookups and filtered lists."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, models
from django.db.models import Q, QuerySet

from executions.models import (
    EnvironmentVariable,
    Execution,
    ExecutionIo,
    ExecutionStatus,
    IoDirection,
    LogLine,
)
from pipelines.models import Pipeline
from platform_site.http.errors import NotFound


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
    # Deployments that have executions (executions never import deployments).
    deployments = sorted(
        Execution.objects.exclude(deployment__isnull=True)
        .values_list("deployment_name", flat=True)
        .distinct()
    )
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


# Figures of a deployment's health, over these windows (label, length).
HEALTH_WINDOWS = (
    ("Last hour", timedelta(hours=1)),
    ("Last 24 hours", timedelta(days=1)),
)
FAILED_STATUSES = (ExecutionStatus.FAILED, ExecutionStatus.ERROR)
# A deployment whose finished calls of the last hour fail this often is degraded.
DEGRADED_ERROR_RATE = 0.2


@dataclass(frozen=True)
class HealthFigures:
    """Calls, latency and errors of one deployment over one window."""

    label: str
    minutes: int
    calls: int
    finished: int
    failures: int
    p50_s: float | None  # created -> ended, queue included; None when none finished
    p95_s: float | None

    @property
    def calls_per_minute(self) -> float:
        return self.calls / self.minutes

    @property
    def error_rate(self) -> float | None:
        """Failed or Error among finished executions; None when none finished."""
        return self.failures / self.finished if self.finished else None


# One pass over the day's rows of one deployment; the hour is a FILTER of the
# same pass. The (deployment, created_at) INCLUDE (status, end_date) index
# (migration 0004) makes it an index-only range scan.
_HEALTH_SQL = """
SELECT
  {columns}
FROM executions_execution
WHERE deployment_id = %(deployment)s AND created_at >= %(since)s
"""
_WINDOW_COLUMNS = """
  count(*) FILTER (WHERE created_at >= %(since_{i})s),
  count(*) FILTER (WHERE created_at >= %(since_{i})s AND end_date IS NOT NULL),
  count(*) FILTER (WHERE created_at >= %(since_{i})s AND status = ANY(%(failed)s)),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM end_date - created_at))
    FILTER (WHERE created_at >= %(since_{i})s AND end_date IS NOT NULL),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM end_date - created_at))
    FILTER (WHERE created_at >= %(since_{i})s AND end_date IS NOT NULL)
"""


def deployment_health(
    deployment: models.Model, *, now: datetime
) -> list[HealthFigures]:
    """Figures of each HEALTH_WINDOWS window ending at `now`, in one query."""
    columns = ",".join(_WINDOW_COLUMNS.format(i=i) for i in range(len(HEALTH_WINDOWS)))
    params: dict = {
        "deployment": deployment.pk,
        "since": now - max(length for _, length in HEALTH_WINDOWS),
        "failed": [str(s) for s in FAILED_STATUSES],
    }
    for i, (_, length) in enumerate(HEALTH_WINDOWS):
        params[f"since_{i}"] = now - length
    with connection.cursor() as cursor:
        cursor.execute(_HEALTH_SQL.format(columns=columns), params)
        row = cursor.fetchone()
    figures = []
    for i, (label, length) in enumerate(HEALTH_WINDOWS):
        calls, finished, failures, p50, p95 = row[5 * i : 5 * i + 5]
        figures.append(
            HealthFigures(
                label=label,
                minutes=int(length.total_seconds() // 60),
                calls=calls,
                finished=finished,
                failures=failures,
                p50_s=float(p50) if p50 is not None else None,
                p95_s=float(p95) if p95 is not None else None,
            )
        )
    return figures
