from __future__ import annotations

from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from deployments import receivers
        from deployments.endpoints.endpoint_cache import endpoints_changed
        from deployments.models import Deployment, EndpointToken
        from deployments.pods import metrics, selectors, services
        from deployments.prometheus import SchedulerLagCollector
        from executions.routing import route_register
        from executions.signals import execution_runs_again
        from pipelines import pages
        from pipelines.models import Pipeline
        from pipelines.signals import pipeline_deleting, pipeline_dependents
        from platform_site.operations import health
        from platform_site.operations.metrics import registry
        from platform_site.signals import child_died

        pipeline_dependents.connect(
            receivers.pipeline_dependents, dispatch_uid="deployments"
        )
        pipeline_deleting.connect(
            receivers.pipeline_deleting, dispatch_uid="deployments"
        )
        pages.detail_context_register("deployments", receivers.pipeline_deployments)
        pages.list_annotation_register("deployments", receivers.deployment_count)
        registry.register(SchedulerLagCollector())
        # The pods: a retried execution goes first, a dead pod host's pods are freed.
        route_register("pods", services.pod_route)
        execution_runs_again.connect(services.enqueue_first, dispatch_uid="pods")
        child_died.connect(services.release_dead_host, dispatch_uid="pods")
        health.register_check("pods", selectors.pods_health)
        registry.register(metrics.PodsCollector())
        # What an endpoint call reads from its process's cache, forgotten on any
        # change (a deleted owner too: executions name their creator).
        for model in (Deployment, EndpointToken, Pipeline):
            post_save.connect(endpoints_changed, sender=model, dispatch_uid="endpoints")
        for model in (Deployment, EndpointToken, Pipeline, get_user_model()):
            post_delete.connect(
                endpoints_changed, sender=model, dispatch_uid="endpoints"
            )
