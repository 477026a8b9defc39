from __future__ import annotations

from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        from deployments import receivers
        from deployments.prometheus import SchedulerLagCollector
        from pipelines import pages
        from pipelines.signals import pipeline_deleting, pipeline_dependents
        from platform_site.metrics import registry

        pipeline_dependents.connect(
            receivers.pipeline_dependents, dispatch_uid="deployments"
        )
        pipeline_deleting.connect(
            receivers.pipeline_deleting, dispatch_uid="deployments"
        )
        pages.detail_context_register("deployments", receivers.pipeline_deployments)
        pages.list_annotation_register("deployments", receivers.deployment_count)
        registry.register(SchedulerLagCollector())
