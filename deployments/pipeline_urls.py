from __future__ import annotations

from django.urls import path

from deployments.views import pipelines

urlpatterns = [
    path("pipelines/", pipelines.pipeline_list, name="pipeline_list"),
]
