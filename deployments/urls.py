from __future__ import annotations

from django.urls import path

from deployments.endpoints import docs_views, pages
from deployments.views import deployments, retention, wizard

# cron-preview comes before <name>/ (it is also a valid deployment name).
app_name = "deployments"
urlpatterns = [
    path("deployments/", deployments.deployment_list, name="deployment_list"),
    path("deployments/cron-preview/", deployments.cron_preview, name="cron_preview"),
    path(
        "deployments/<str:name>/",
        deployments.deployment_detail,
        name="deployment_detail",
    ),
    path(
        "deployments/<str:name>/toggle/",
        deployments.deployment_toggle,
        name="deployment_toggle",
    ),
    path(
        "deployments/<str:name>/rotate-token/",
        deployments.deployment_rotate_token,
        name="deployment_rotate_token",
    ),
    path(
        "deployments/<str:name>/delete/",
        deployments.deployment_delete,
        name="deployment_delete",
    ),
    path("pipelines/<str:name>/deploy/", wizard.deploy_wizard, name="deploy_wizard"),
    # The endpoint's named tokens, rate limit and OpenAPI on its page.
    path("deployments/<str:name>/tokens/", pages.token_create, name="token_create"),
    path(
        "deployments/<str:name>/tokens/<uuid:token_id>/revoke/",
        pages.token_revoke,
        name="token_revoke",
    ),
    path(
        "deployments/<str:name>/rate-limit/",
        pages.rate_limit_set,
        name="rate_limit_set",
    ),
    path(
        "deployments/<str:name>/openapi.json",
        docs_views.deployment_openapi_json,
        name="deployment_openapi_json",
    ),
    path(
        "deployments/<str:name>/api-docs/",
        docs_views.deployment_api_docs,
        name="deployment_api_docs",
    ),
    path(
        "deployments/<str:name>/pin/",
        retention.deployment_pin,
        name="deployment_pin",
    ),
]
