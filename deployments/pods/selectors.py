"""Reads of pods: the pod lines of a low-latency deployment's log."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from deployments.models import Deployment, DeploymentMode, PodLog
from deployments.pods.services import deployment_pods
from executions.models import Execution, ExecutionStatus, RunnerKind, RunnerLease
from platform_site.http.log_window import LogWindow
from platform_site.http.units import iso, ram_request_mib

RECENT_POD_LINES = 20


def pod_log_lines(deployment: Deployment, *, window: LogWindow) -> list[dict]:
    lines = window.filter(PodLog.objects.filter(deployment=deployment))[
        : window.max_lines
    ]
    return [
        {
            "timestamp": iso(line.timestamp),
            "message": line.message,
            "stream": line.stream,
            "pod_id": line.pod_id,
            "type": "pod",
        }
        for line in lines
    ]


def pods_context(deployment: Deployment) -> dict:
    """What the deployment page shows of its pod: status, memory against the request, last lines."""
    pods = [
        {**pod, "rss_mib": (pod["rss_kib"] or 0) // 1024}
        for pod in deployment_pods(deployment)
        if deployment.is_enabled
    ]
    lines = PodLog.objects.filter(deployment=deployment).order_by("-timestamp", "-id")
    return {
        "pods": pods,
        "ram_request_mib": ram_request_mib(deployment.ram_request),
        "pod_logs": list(reversed(lines[:RECENT_POD_LINES])),
    }


def pods_health(*, now: datetime | None = None) -> dict:
    """/healthz's view of low-latency work: pod hosts' lease ages, each queue's oldest Pending.

    A dispatcher that stopped taking work shows here as a Pending call that
    keeps aging, whatever its pod host's heartbeat says.
    """
    now = now or timezone.now()
    oldest = (
        Execution.objects.filter(
            status=ExecutionStatus.PENDING, deployment__mode=DeploymentMode.LOW_LATENCY
        )
        .values("deployment_name")
        .annotate(oldest=Min("created_at"))
        .order_by()
    )
    waiting = {
        row["deployment_name"]: round((now - row["oldest"]).total_seconds(), 1)
        for row in oldest
    }
    hosts = {
        name: round((now - beat_at).total_seconds(), 1)
        for name, beat_at in RunnerLease.objects.filter(
            kind=RunnerKind.POD_HOST
        ).values_list("name", "beat_at")
    }
    late = settings.PENDING_ALERT_S
    problems = [
        f"deployment {name}: its oldest Pending call has waited {age:g} s"
        for name, age in sorted(waiting.items())
        if age > late
    ]
    return {"hosts": hosts, "oldest_pending_s": waiting, "problems": problems}
