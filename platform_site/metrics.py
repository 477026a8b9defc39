"""/metrics in Prometheus' text format, with the official prometheus_client.

Requests are counted in the web process (a middleware). Everything else is
read at scrape time from where it lives, so every worker, scheduler and web
process agrees: executions by status and mode and the execution-duration
histogram from PostgreSQL, the queue depth from the broker, the scheduler
lag from the oldest due tick. Only operators see it: a staff user's API
access token, or the PLATFORM_METRICS_TOKEN an operator sets for Prometheus.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Min, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from platform_site.disk import data_dir_free_mib
from platform_site.health import redis_client

logger = logging.getLogger(__name__)

# Execution durations (end_date - started_at), in seconds.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
FACES = (("/api/", "api"), ("/endpoints/", "endpoints"), ("/metrics", "metrics"))

registry = CollectorRegistry()
REQUESTS = Counter(
    "platform_http_requests",
    "HTTP requests answered by this web process, by face and status class.",
    ["face", "method", "status"],
    registry=registry,
)
REQUEST_SECONDS = Histogram(
    "platform_http_request_duration_seconds",
    "Time to answer, by face (endpoint calls include their hold).",
    ["face"],
    registry=registry,
)


def face_of(path: str) -> str:
    for prefix, face in FACES:
        if path.startswith(prefix):
            return face
    return "ui"


class RequestMetricsMiddleware:
    """Counts every request by face, method and status class (2xx, 4xx, …): few labels."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        face = face_of(request.path)
        REQUESTS.labels(
            face=face,
            method=request.method if request.method in ("GET", "POST") else "other",
            status=f"{response.status_code // 100}xx",
        ).inc()
        REQUEST_SECONDS.labels(face=face).observe(time.perf_counter() - started)
        return response


class PlatformCollector:
    """Read at each scrape: the database and the broker are the truth."""

    def collect(self) -> Iterator:
        yield from self._executions()
        yield from self._durations()
        yield self._queue_depth()
        yield self._scheduler_lag()
        yield GaugeMetricFamily(
            "platform_disk_free_bytes",
            "Free space on the data dir's file system (PLATFORM_DISK_MIN_FREE_MIB alerts on /healthz).",
            value=data_dir_free_mib() * 1024 * 1024,
        )

    def _executions(self) -> Iterator:
        from executions.models import Execution

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
        from executions.models import Execution

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
        from executions.models import Execution, ExecutionStatus

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

    def _scheduler_lag(self) -> GaugeMetricFamily:
        from deployments.models import Deployment, ExecutionRule

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
        return GaugeMetricFamily(
            "platform_scheduler_lag_seconds",
            "How late the oldest due periodic tick is (0: none waiting).",
            value=max(0.0, lag),
        )


def _sum_seconds(ended, duration) -> float:
    total = ended.aggregate(total=Sum(duration))["total"]
    return total.total_seconds() if total else 0.0


registry.register(PlatformCollector())


def metrics_allowed(request: HttpRequest) -> bool:
    """A staff user's access token (as the API takes it), or the operator's metrics token."""
    from accounts.services import access_token_user

    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return False
    credential = credential.strip()
    operator_token = settings.METRICS_TOKEN
    if operator_token and hmac.compare_digest(
        credential.encode(), operator_token.encode()
    ):
        return True
    user = access_token_user(credential)
    return user is not None and user.is_staff


def metrics_text() -> tuple[bytes, str]:
    """The exposition, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
