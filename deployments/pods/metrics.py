"""The pods' part of /metrics: each low-latency queue's oldest Pending call, each pod host's lease age.

Registered on platform_site.operations.metrics' registry by pods/apps.py, so the
project's core never imports the pods.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from deployments.pods.selectors import pods_health


class PodsCollector:
    """Read at each scrape, like the platform's own collector."""

    def collect(self) -> Iterator:
        health = pods_health()
        waiting = GaugeMetricFamily(
            "platform_pods_oldest_pending_seconds",
            "How long the oldest Pending call of each low-latency deployment has waited.",
            labels=["deployment"],
        )
        for name, age in health["oldest_pending_s"].items():
            waiting.add_metric([name], age)
        yield waiting
        silent = GaugeMetricFamily(
            "platform_pod_host_lease_age_seconds",
            "Seconds since each pod host last beat its lease (dead past PLATFORM_RUNNER_LEASE_S).",
            labels=["host"],
        )
        for host, age in health["hosts"].items():
            silent.add_metric([host], age)
        yield silent
