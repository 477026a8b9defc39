"""The home page's figures: what runs now, what failed lately, deployments by state.

The one page that spans every concept lives in the last layer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q

from deployments.models import Deployment, DeploymentStatus
from executions.models import Execution, ExecutionStatus
from executions.selectors import DEGRADED_ERROR_RATE, FAILED_STATUSES


@dataclass(frozen=True)
class Overview:
    """What the home page shows: running now, recent failures, deployments by state."""

    running: list[Execution]
    running_count: int
    failures: list[Execution]
    failure_count: int
    deployments_by_state: list[tuple[str, int]]
    degraded: list[
        tuple[str, int, int]
    ]  # (deployment name, failures, finished) last hour


OVERVIEW_ROWS = 10


def platform_overview(*, now: datetime) -> Overview:
    """The home page's figures; failures over the last 24 hours, degradation over the last hour."""
    running = Execution.objects.filter(
        status__in=(ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
    ).order_by("-created_at")
    failures = Execution.objects.filter(
        status__in=FAILED_STATUSES, created_at__gte=now - timedelta(days=1)
    ).order_by("-created_at")
    states = Counter(
        DeploymentStatus.DISABLED if not enabled else status
        for status, enabled in Deployment.objects.values_list("status", "is_enabled")
    )
    hour = (
        Execution.objects.filter(
            created_at__gte=now - timedelta(hours=1),
            deployment__isnull=False,
            end_date__isnull=False,
        )
        .values("deployment_name")
        .annotate(
            finished=Count("pk"),
            failed=Count("pk", filter=Q(status__in=FAILED_STATUSES)),
        )
    )
    degraded = sorted(
        (row["deployment_name"], row["failed"], row["finished"])
        for row in hour
        if row["failed"] / row["finished"] >= DEGRADED_ERROR_RATE
    )
    return Overview(
        running=list(running[:OVERVIEW_ROWS]),
        running_count=running.count(),
        failures=list(failures[:OVERVIEW_ROWS]),
        failure_count=failures.count(),
        deployments_by_state=sorted(states.items()),
        degraded=degraded,
    )
