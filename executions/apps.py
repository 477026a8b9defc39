from __future__ import annotations

from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"

    def ready(self) -> None:
        from accounts.access_tokens import token_exchange_register
        from executions.metrics import tokens
        from executions.prometheus import ExecutionsCollector
        from executions.services.runners import settle_dead_child
        from executions.views import pipeline_sections
        from pipelines import pages
        from platform_site.operations.metrics import registry
        from platform_site.signals import child_died

        child_died.connect(settle_dead_child, dispatch_uid="executions-settle")
        pages.detail_context_register("executions", pipeline_sections.latest_executions)
        pages.detail_context_register("metrics", pipeline_sections.pipeline_metrics)
        pages.list_annotation_register("executions", pipeline_sections.last_execution)
        registry.register(ExecutionsCollector())
        token_exchange_register(
            tokens.EXECUTION_TOKEN_PREFIX, tokens.execution_access_token_issue
        )
