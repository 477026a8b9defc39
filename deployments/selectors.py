"""Reads of deployments: lookups, logs, executions lists, RAM totals.

Writes live in `deployments/services/`; the API shapes in `deployments/serializers.py`.
"""

from __future__ import annotations

import os

from django.db.models import Q

from deployments.endpoints.tokens import token_decrypt
from deployments.models import Deployment, DeploymentMode, ExecutionRule
from deployments.pods.selectors import pod_log_lines
from executions.models import Execution, LogLine
from platform_site.http.errors import NotFound
from platform_site.http.log_window import LogWindow
from platform_site.http.units import iso, ram_request_mib

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
    """The endpoint deployment served at /endpoints/<path> (one query: pipeline and owner joined)."""
    return (
        Deployment.objects.select_related("pipeline", "created_by")
        .filter(endpoint_url_path=path, execution_rule=ExecutionRule.ENDPOINT)
        .first()
    )


def deployment_token(deployment: Deployment) -> str | None:
    """The endpoint token in clear (None for periodic deployments)."""
    return token_decrypt(deployment.endpoint_token_encrypted)


# -- logs and executions ----------------------------------------------------------


def deployment_logs(
    *,
    deployment: Deployment,
    window: LogWindow,
) -> list[dict]:
    """Elastic deployments have no pod of their own: their log is the lines of their executions.

    Each line says which execution wrote it in `pod_id` (one fresh process per
    execution); the lines in the window (platform_site/http/log_window.py).
    """
    lines = (
        window.filter(LogLine.objects.filter(execution__deployment=deployment))
        .order_by("timestamp", "execution_id", "seq")
        .values("timestamp", "message", "stream", "execution__execution_id")[
            : window.max_lines
        ]
    )
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
        found = sorted(
            found + pod_log_lines(deployment, window=window),
            key=lambda line: line["timestamp"],
        )[: window.max_lines]
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
