"""Reads of deployments and pipelines: lookups, logs, executions lists, RAM totals.

Writes live in `deployments/services/`; the API shapes in `deployments/serializers.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q

from deployments.models import (
    Deployment,
    DeploymentMode,
    ExecutionRule,
    Pipeline,
    PipelineLog,
)
from deployments.tokens import token_decrypt
from executions.models import Execution, LogLine
from platform_site.errors import NotFound, ValidationFailed
from platform_site.units import iso, ram_request_mib

# -- lookups -------------------------------------------------------------------


def deployment_get_or_404(name: str) -> Deployment:
    deployment = (
        Deployment.objects.select_related("pipeline", "created_by", "updated_by")
        .filter(name=name)
        .first()
    )
    if deployment is None:
        raise NotFound(f"Deployment '{name}' not found.")
    return deployment


def deployment_for_endpoint_path(path: str) -> Deployment | None:
    """The endpoint deployment served at /endpoints/<path> (one query: pipeline,
    owner and access limits joined)."""
    return (
        Deployment.objects.select_related("pipeline", "created_by", "endpoint_limits")
        .filter(endpoint_url_path=path, execution_rule=ExecutionRule.ENDPOINT)
        .first()
    )


def pipeline_get_or_404(name: str) -> Pipeline:
    pipeline = Pipeline.objects.filter(name=name).first()
    if pipeline is None:
        raise NotFound(f"Pipeline '{name}' not found.")
    return pipeline


def deployment_token(deployment: Deployment) -> str | None:
    """The endpoint token in clear (None for periodic deployments)."""
    return token_decrypt(deployment.endpoint_token_encrypted)


# -- logs and executions ----------------------------------------------------------


def deployment_logs(
    *,
    deployment: Deployment,
    from_ms: int | None = None,
    to_ms: int | None = None,
    limit: int | None = None,
) -> list[dict]:
    """Elastic deployments have no pod of their own: their log is the lines of their executions.

    Each line says which execution wrote it in `pod_id` (one fresh process per
    execution); `from` is inclusive, `to` exclusive, oldest first, at most `limit`.
    """
    lines = LogLine.objects.filter(execution__deployment=deployment)
    if from_ms is not None:
        lines = lines.filter(timestamp__gte=datetime.fromtimestamp(from_ms / 1000, UTC))
    if to_ms is not None:
        lines = lines.filter(timestamp__lt=datetime.fromtimestamp(to_ms / 1000, UTC))
    lines = lines.order_by("timestamp", "execution_id", "seq").values(
        "timestamp", "message", "stream", "execution__execution_id"
    )
    if limit is not None:
        lines = lines[:limit]
    found = [
        {
            "timestamp": iso(line["timestamp"]),
            "message": line["message"],
            "stream": line["stream"],
            "pod_id": line["execution__execution_id"],
            "type": "deployment",
        }
        for line in lines
    ]
    if deployment.mode == "low_latency":
        # Pod starts, restarts and their reasons, what the module printed at import.
        from pods.selectors import pod_log_lines

        found = sorted(
            found + pod_log_lines(deployment, from_ms=from_ms, to_ms=to_ms),
            key=lambda line: line["timestamp"],
        )[:limit]
    return found


def deployment_executions(deployment: Deployment, *, limit: int = 100) -> list[dict]:
    rows = (
        Execution.objects.filter(deployment=deployment)
        .order_by("-created_at")
        .values(
            "execution_id",
            "status",
            "created_at",
            "created_by_id",
            "end_date",
            "pipeline_name",
            "deployment_name",
            "trigger",
            "scheduled_for",
        )[:limit]
    )
    return [
        {
            "execution_id": r["execution_id"],
            "status": r["status"],
            "created_at": iso(r["created_at"]),
            "created_by": None
            if r["created_by_id"] is None
            else str(r["created_by_id"]),
            "end_date": iso(r["end_date"]),
            "pipeline_name": r["pipeline_name"],
            "deployment_name": r["deployment_name"],
            "trigger": r["trigger"],
            "scheduled_for": iso(r["scheduled_for"]),
        }
        for r in rows
    ]


def deployment_latest_execution_id(deployment: Deployment) -> str | None:
    return (
        Execution.objects.filter(deployment=deployment)
        .order_by("-created_at")
        .values_list("execution_id", flat=True)
        .first()
    )


def _from_ms(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{field}: must be a timestamp in milliseconds")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValidationFailed(f"{field}: timestamp out of range") from None


def pipeline_logs_list(
    *,
    pipeline: Pipeline,
    from_ms: Any = None,
    to_ms: Any = None,
    limit: Any = None,
) -> list[PipelineLog]:
    """Creation log lines, chronological: `from` inclusive, `to` exclusive, first `limit`."""
    rows = PipelineLog.objects.filter(pipeline=pipeline).order_by("timestamp", "id")
    start = _from_ms(from_ms, "from")
    end = _from_ms(to_ms, "to")
    if start is not None:
        rows = rows.filter(timestamp__gte=start)
    if end is not None:
        rows = rows.filter(timestamp__lt=end)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValidationFailed("limit: must be a positive integer")
        rows = rows[:limit]
    return list(rows)


def pipeline_logs_after(*, pipeline: Pipeline, after_id: int) -> Iterable[PipelineLog]:
    """Lines after a cursor (the last line id seen), for the live log on the page."""
    return PipelineLog.objects.filter(pipeline=pipeline, id__gt=after_id).order_by("id")


# -- resources (the wizard's RAM step) ------------------------------------------------


def ram_requested_total_mib(exclude: Deployment | str | None = None) -> int:
    """RAM requested by enabled low-latency deployments (optionally leaving one out), in MiB.

    Elastic executions take memory only while they run, so only warm pods count.
    """
    rows = Deployment.objects.filter(
        is_enabled=True, mode=DeploymentMode.LOW_LATENCY
    ).exclude(Q(ram_request__isnull=True) | Q(ram_request=""))
    if isinstance(exclude, Deployment):
        rows = rows.exclude(pk=exclude.pk)
    elif isinstance(exclude, str):
        rows = rows.exclude(name=exclude)
    return sum(
        ram_request_mib(r) or 0 for r in rows.values_list("ram_request", flat=True)
    )


def machine_total_ram_mib() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20)
    except (ValueError, OSError, AttributeError):
        return 0
