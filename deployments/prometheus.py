"""The deployments' part of /metrics: how late the oldest due periodic tick is.

Registered on platform_site.operations.metrics' registry in DeploymentsConfig.ready().
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from deployments.models import Deployment, ExecutionRule


class SchedulerLagCollector:
    def collect(self) -> Iterator:
        oldest = (
            Deployment.objects.filter(
                execution_rule=ExecutionRule.PERIODIC,
                is_enabled=True,
                next_run_at__lte=timezone.now(),
            )
            .aggregate(oldest=Min("next_run_at"))
            .get("oldest")
        )
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "platform_scheduler_lag_seconds",
            "How late the oldest due periodic tick is (0: none waiting).",
            value=max(0.0, lag),
        )
