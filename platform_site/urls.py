from __future__ import annotations

from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView

from accounts import views as accounts_views
from deployments.views import overview
from platform_site import views
from platform_site.api import api

urlpatterns = [
    path("", overview.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages without a <link rel="icon"> (JSON, files).
    path(
        "favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)
    ),
    path("metrics", accounts_views.metrics, name="metrics"),
    path("api/v1/", api.urls),
    path("endpoints/", include("deployments.endpoints.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("pipelines.urls")),
    path("", include("deployments.urls")),
    path("", include("executions.urls")),
    path("", include("datastore.urls")),
]
