"""/metrics in Prometheus' text format, with the official prometheus_client.

Requests are counted in the web process (a middleware). Everything else is
read at scrape time from where it lives, so every worker, scheduler and web
process agrees. Each app registers its own collector on `registry` in its
AppConfig.ready() (executions: by status and mode, durations, queue depth;
deployments: scheduler lag, pods), so the core imports none of them. Who may
read it is accounts' rule (accounts/views.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from platform_site.http.disk import data_dir_free_mib

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
    """Counts every request by face, method and status class (2xx, 4xx, …): few labels.

    Sync and async: the endpoint handler (platform_site/asgi.py) runs it in
    its event loop, the pages' stack in their thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        _count(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        _count(request, response, started)
        return response


def _count(request: HttpRequest, response: HttpResponse, started: float) -> None:
    face = face_of(request.path)
    REQUESTS.labels(
        face=face,
        method=request.method if request.method in ("GET", "POST") else "other",
        status=f"{response.status_code // 100}xx",
    ).inc()
    REQUEST_SECONDS.labels(face=face).observe(time.perf_counter() - started)


class DiskCollector:
    """The data dir's free space, read at each scrape."""

    def collect(self) -> Iterator:
        yield GaugeMetricFamily(
            "platform_disk_free_bytes",
            "Free space on the data dir's file system (PLATFORM_DISK_MIN_FREE_MIB alerts on /healthz).",
            value=data_dir_free_mib() * 1024 * 1024,
        )


registry.register(DiskCollector())


def metrics_text() -> tuple[bytes, str]:
    """The exposition, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
