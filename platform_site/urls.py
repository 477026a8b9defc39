"""The root URLconf: the project's wiring, the one place besides settings that names every app.

It mounts each app's pages and the REST API the official craft-ai-sdk drives
(/api/v1, with its OpenAPI document), assembled here from each app's router.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from accounts import views as accounts_views
from accounts.api import router as accounts_router
from accounts.auth import AccessTokenAuth
from accounts.services import INVALID_ACCESS_TOKEN
from datastore.api import router as datastore_router
from deployments.api import router as deployments_router
from deployments.views import overview
from executions.api import router as executions_router
from pipelines.api import router as pipelines_router
from platform_site import views
from platform_site.http.bodies import json_request_body
from platform_site.http.errors import ApiError, api_error_response, error_response


class StrictJsonParser(Parser):
    """Schema bodies go through the same strict reader as every other body."""

    def parse_body(self, request: HttpRequest):
        return json_request_body(request)


api = NinjaAPI(
    parser=StrictJsonParser(),
    title="Platform API",
    version="1",
    description="Pipelines, deployments and executions. Wire-compatible with craft-ai-sdk 0.74.",
    auth=AccessTokenAuth(),
    urls_namespace="api",
    docs_url="/docs",
)
api.add_router("", accounts_router)
api.add_router("", pipelines_router)
api.add_router("", deployments_router)
api.add_router("", executions_router)
api.add_router("", datastore_router)


def first_error_message(exc: NinjaValidationError) -> str:
    """Turn pydantic's first error into a sentence naming the field."""
    if not exc.errors:
        return "Invalid request."
    err = exc.errors[0]
    loc = [str(part) for part in err.get("loc", ())]
    # ("body", <the view's parameter>, field...): the client never sent the
    # parameter's name; ("query" | "path", field...) otherwise.
    field = ".".join(loc[2:] if loc[:1] in (["body"], ["form"]) else loc[1:])
    field = field or "body"
    return f"{field}: {err.get('msg', 'invalid value')}"


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError):
    return api_error_response(exc)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError):
    return error_response(
        first_error_message(exc),
        status=400,
        name="ValidationError",
        data={"errors": exc.errors[:5]},
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError):
    return error_response(INVALID_ACCESS_TOKEN, status=401, name="Unauthorized")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404):
    return error_response(str(exc) or "Not found.", status=404, name="NotFound")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError):
    # ninja wraps the parser's error in "Cannot parse request body": keep ours.
    if isinstance(exc.__cause__, ApiError):
        return api_error_response(exc.__cause__)
    return error_response(str(exc), status=exc.status_code, name="Error")


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
