"""The one shape every API error leaves in: {"message", "name"} with its status."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import JsonResponse


class ApiError(Exception):
    """Raised by services and API views; turned into a JSON error response."""

    status = 400
    name = "BadRequest"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        name: str | None = None,
        data: Any = None,
    ):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if name is not None:
            self.name = name
        self.data = data


class ValidationFailed(ApiError):
    status = 400
    name = "ValidationError"


class NotAuthenticated(ApiError):
    status = 401
    name = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    name = "Forbidden"


class NotFound(ApiError):
    status = 404
    name = "NotFound"


class Conflict(ApiError):
    status = 409
    name = "Conflict"


class TooLarge(ApiError):
    status = 413
    name = "PayloadTooLarge"


def error_response(
    message: str, *, status: int, name: str, data: Any = None
) -> JsonResponse:
    body: dict[str, Any] = {
        "message": message,
        "name": name,
        "request_id": str(uuid.uuid4()),
    }
    if data is not None:
        body["additional_data"] = data
    return JsonResponse(body, status=status)


def api_error_response(exc: ApiError) -> JsonResponse:
    return error_response(exc.message, status=exc.status, name=exc.name, data=exc.data)
