from __future__ import annotations

from django.urls import path

from deployments.views import deployments, wizard

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
]
