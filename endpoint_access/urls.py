from __future__ import annotations

from django.urls import path

from endpoint_access import openapi_views, views

app_name = "endpoint_access"

urlpatterns = [
    path("deployments/<str:name>/tokens/", views.token_create, name="token_create"),
    path(
        "deployments/<str:name>/tokens/<uuid:token_id>/revoke/",
        views.token_revoke,
        name="token_revoke",
    ),
    path(
        "deployments/<str:name>/tokens/rotate/", views.token_rotate, name="token_rotate"
    ),
    path(
        "deployments/<str:name>/openapi.json",
        openapi_views.deployment_openapi_json,
        name="deployment_openapi_json",
    ),
    path(
        "deployments/<str:name>/api-docs/",
        openapi_views.deployment_api_docs,
        name="deployment_api_docs",
    ),
    path(
        "deployments/<str:name>/rate-limit/",
        views.rate_limit_set,
        name="rate_limit_set",
    ),
]
