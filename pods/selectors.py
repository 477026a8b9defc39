"""Reads of pods: the pod lines of a low-latency deployment's log."""

from __future__ import annotations

from datetime import UTC, datetime

from deployments.models import Deployment
from platform_site.units import iso
from pods.models import PodLog


def pod_log_lines(
    deployment: Deployment, *, from_ms: int | None = None, to_ms: int | None = None
) -> list[dict]:
    lines = PodLog.objects.filter(deployment=deployment)
    if from_ms is not None:
        lines = lines.filter(timestamp__gte=datetime.fromtimestamp(from_ms / 1000, UTC))
    if to_ms is not None:
        lines = lines.filter(timestamp__lt=datetime.fromtimestamp(to_ms / 1000, UTC))
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
