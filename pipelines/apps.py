from __future__ import annotations

from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"

    def ready(self) -> None:
        from pipelines.sandbox import sandbox_report
        from platform_site.operations import health

        health.register_report(sandbox_report)
