from __future__ import annotations

from django.apps import AppConfig


class PodsConfig(AppConfig):
    name = "pods"

    def ready(self) -> None:
        from executions.signals import execution_runs_again
        from platform_site import health
        from platform_site.metrics import registry
        from platform_site.signals import child_died
        from pods import metrics, selectors, services

        execution_runs_again.connect(services.enqueue_first, dispatch_uid="pods")
        child_died.connect(services.release_dead_host, dispatch_uid="pods")
        health.register_check("pods", selectors.pods_health)
        registry.register(metrics.PodsCollector())
