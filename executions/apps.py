from __future__ import annotations

from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"

    def ready(self) -> None:
        from executions.services.runners import settle_dead_child
        from platform_site.signals import child_died

        child_died.connect(settle_dead_child, dispatch_uid="executions-settle")
