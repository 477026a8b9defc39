from __future__ import annotations

from deployments.deployment_urls import urlpatterns as deployment_patterns
from deployments.pipeline_urls import urlpatterns as pipeline_patterns

app_name = "deployments"
urlpatterns = [*pipeline_patterns, *deployment_patterns]
