from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware

from platform_site.clients.db_retry import DATABASE_BLIPS
from platform_site.http.bodies import (
    body_error,
    body_size_error,
    media_type_error,
    query_error,
    unread_body_error,
)
from platform_site.http.disk import disk_full_error
from platform_site.http.errors import (
    ApiError,
    api_error_response,
    error_response,
    xml_error_for,
)

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/endpoints/")
# Signed data-store URLs answer the client's S3-style XML (docs/sdk-protocol.md §7.6).
SIGNED_PREFIX = "/data-store/signed/"
STATUS_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    500: "InternalServerError",
    507: "InsufficientStorage",
}
STATUS_MESSAGES = {
    403: "Forbidden.",
    404: "No such resource.",
    405: "Method not allowed.",
    413: "Request body is too large.",
    500: "Internal server error.",
}


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def refusal_response(request: HttpRequest, exc: ApiError) -> HttpResponse:
    """The refusal in the shape its face reads: JSON (API), XML (signed URLs), text (pages)."""
    if _is_api(request):
        return api_error_response(exc)
    if request.path.startswith(SIGNED_PREFIX):
        return xml_error_for(exc)
    return HttpResponse(
        exc.message, status=exc.status, content_type="text/plain; charset=utf-8"
    )


class ApiJsonErrorsMiddleware:
    """Clients of /api and /endpoints only understand JSON errors; no face ever gets a 500 for a bad body.

    Django's own 404/405/403/413/500 answers are HTML; the official client turns
    those into "invalid response content" and loses the message. Malformed
    bodies (platform_site.http.bodies) are refused here for every face, and
    oversized ones, and those no route schema reads (DELETE), before any view
    sees them.
    """

    sync_capable = True
    async_capable = True  # the endpoint handler's event loop (platform_site/asgi.py)

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal_response(request, refusal)
        return self._as_json(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal_response(request, refusal)
        return self._as_json(request, await self.get_response(request))

    @staticmethod
    def _refusal(request: HttpRequest) -> ApiError | None:
        refusal: ApiError | None = body_size_error(request) or query_error(request)
        if refusal is None and _is_api(request):
            refusal = media_type_error(request)
        return refusal or unread_body_error(request)

    @staticmethod
    def _as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not _is_api(request):
            return response
        status = response.status_code
        if status >= 400 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            response = error_response(
                STATUS_MESSAGES.get(status, "Request failed."),
                status=status,
                name=STATUS_NAMES.get(status, "Error"),
            )
        # API answers carry tokens and per-user data: never kept by a cache.
        response.setdefault("Cache-Control", "no-store")
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        refusal = body_error(exception) or disk_full_error(exception)
        if refusal is not None:
            if refusal.status == 507:
                logger.error("Disk full on %s: %s", request.path, exception)
            return refusal_response(request, refusal)
        if not _is_api(request):
            return None
        if isinstance(exception, DATABASE_BLIPS):
            # A blip, not a bug: say so, and when to come back. (An endpoint call
            # that was accepted answers its execution_id instead, see deployments/endpoints/views.py.)
            logger.warning("Database unavailable on %s: %s", request.path, exception)
            response = error_response(
                "The database is unavailable. Try again shortly.",
                status=503,
                name="ServiceUnavailable",
            )
            response["Retry-After"] = "1"
            return response
        logger.exception("Unhandled error on %s", request.path)
        return error_response(
            "Internal server error.", status=500, name="InternalServerError"
        )


class ContentSecurityPolicyMiddleware:
    """No inline script and no third-party origin: user text stays inert."""

    POLICY = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.POLICY)
        return response


class LoopSecurityMiddleware(SecurityMiddleware):
    """Django's SecurityMiddleware, run in the event loop (the endpoint handler, platform_site/asgi.py).

    Its checks read settings and set headers, no I/O; Django's mixin would run
    each on a thread, two crossings per request.
    """

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = self.process_request(request)
        if response is None:
            response = await self.get_response(request)  # type: ignore[misc]
        return self.process_response(request, response)
