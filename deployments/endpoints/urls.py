"""Public endpoint routes (/endpoints/...), authenticated by EndpointToken."""

from __future__ import annotations

from django.urls import path

from deployments.endpoints import docs_views, hot_path, views

app_name = "endpoints"
urlpatterns = [
    path(
        "v1/<str:path>/executions/<str:execution_id>",
        hot_path.endpoint_result,
        name="result",
    ),
    path(
        "v1/<str:path>/executions/<str:execution_id>/outputs/<str:output_name>",
        views.endpoint_output_file_view,
        name="output_file",
    ),
    path(
        "<str:path>/openapi.json",
        docs_views.endpoint_openapi_json,
        name="openapi",
    ),
    path("<str:path>", hot_path.endpoint_trigger, name="trigger"),
]
