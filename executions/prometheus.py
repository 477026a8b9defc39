"""The executions' part of /metrics: executions by status and mode, durations, queue depth.

Registered on platform_site.operations.metrics' registry in ExecutionsConfig.ready().
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from executions.models import Execution, ExecutionStatus
from platform_site.clients.redis_client import redis_client

logger = logging.getLogger(__name__)

# Execution durations (end_date - started_at), in seconds.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class ExecutionsCollector:
    """Read at each scrape: the database and the broker are the truth."""

    def collect(self) -> Iterator:
        yield from self._executions()
        yield from self._durations()
        yield self._queue_depth()

    def _executions(self) -> Iterator:
        family = GaugeMetricFamily(
            "platform_executions",
            "Executions stored, by status and mode (run: started by hand or the SDK).",
            labels=["status", "mode"],
        )
        rows = (
            Execution.objects.annotate(
                mode=Coalesce(F("deployment__mode"), Value("run"))
            )
            .values("status", "mode")
            .annotate(count=Count("pk"))
            .order_by()
        )
        for row in rows:
            family.add_metric([row["status"], row["mode"]], row["count"])
        yield family

    def _durations(self) -> Iterator:
        duration = F("end_date") - F("started_at")
        ended = Execution.objects.filter(
            started_at__isnull=False, end_date__isnull=False
        )
        counts = ended.aggregate(
            total=Count("pk"),
            **{
                f"le_{i}": Count(
                    "pk",
                    filter=Q(end_date__lte=F("started_at") + timedelta(seconds=bound)),
                )
                for i, bound in enumerate(DURATION_BUCKETS)
            },
        )
        seconds = _sum_seconds(ended, duration)
        buckets = [
            (str(bound), counts[f"le_{i}"]) for i, bound in enumerate(DURATION_BUCKETS)
        ]
        buckets.append(("+Inf", counts["total"]))
        family = HistogramMetricFamily(
            "platform_execution_duration_seconds",
            "Claimed by a worker to final status, for every ended execution stored.",
        )
        family.add_metric([], buckets, seconds)
        yield family

    def _queue_depth(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "platform_queue_depth",
            "Work waiting: Pending executions (database), messages in the broker's queue.",
            labels=["where"],
        )
        pending = Execution.objects.filter(status=ExecutionStatus.PENDING).count()
        family.add_metric(["pending_executions"], pending)
        try:
            queued = redis_client().llen(settings.CELERY_TASK_DEFAULT_QUEUE)
            family.add_metric(["broker_messages"], queued)
        except Exception:  # any broker error: the database figure still stands
            logger.warning("Could not read the broker's queue length")
        return family


def _sum_seconds(ended, duration) -> float:
    total = ended.aggregate(total=Sum(duration))["total"]
    return total.total_seconds() if total else 0.0
