"""The one shape every API error leaves in: {"message", "name"} with its status."""

from __future__ import annotations

import uuid
from typing import Any
from xml.etree import ElementTree as ET

from django.http import HttpResponse, JsonResponse


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
    """400. `field` names the request field at fault (the wizard shows the error on its step)."""

    status = 400
    name = "ValidationError"

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.field = field


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


def xml_error(code: str, message: str, *, status: int, **extra: str) -> HttpResponse:
    """The S3-style error the client reads from signed URLs (docs/sdk-protocol.md §7.6)."""
    root = ET.Element("Error")
    for tag, text in (("Code", code), ("Message", message), *extra.items()):
        ET.SubElement(root, tag).text = text
    body = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?>\n{body}',
        status=status,
        content_type="application/xml",
    )


def xml_error_for(exc: ApiError, **extra: str) -> HttpResponse:
    code = next(
        (c for cls, c in XML_CODES.items() if isinstance(exc, cls)), "InvalidArgument"
    )
    return xml_error(code, exc.message, status=exc.status, **extra)


XML_CODES: dict[type[ApiError], str] = {
    NotFound: "NoSuchKey",
    TooLarge: "EntityTooLarge",
    Conflict: "Conflict",
}
