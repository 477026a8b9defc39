from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from platform_site.errors import ApiError, api_error_response, error_response

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/endpoints/")
STATUS_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    500: "InternalServerError",
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


class ApiJsonErrorsMiddleware:
    """Clients of /api and /endpoints only understand JSON errors.

    Django's own 404/405/403/413/500 answers are HTML; the official client turns
    those into "invalid response content" and loses the message.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not _is_api(request) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        return error_response(
            STATUS_MESSAGES.get(status, "Request failed."),
            status=status,
            name=STATUS_NAMES.get(status, "Error"),
        )

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not _is_api(request):
            return None
        if isinstance(exception, ApiError):
            return api_error_response(exception)
        if exception.__class__.__name__ == "RequestDataTooBig":
            return error_response(
                "Request body is too large.", status=413, name="PayloadTooLarge"
            )
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
