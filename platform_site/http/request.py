"""Request helpers shared by the API and endpoint views."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from platform_site.http.bodies import json_request_body
from platform_site.http.errors import ValidationFailed


class AuthenticatedHttpRequest(HttpRequest):
    user: User


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def public_url(path: str) -> str:
    """PLATFORM_PUBLIC_URL + path: what clients are handed, whatever Host header they sent."""
    return settings.PUBLIC_URL + path


def json_body(request: HttpRequest) -> Any:
    """Decode a JSON request body ({} when empty); 400 naming the problem otherwise."""
    return json_request_body(request)


def json_object_body(request: HttpRequest) -> dict[str, Any]:
    """A JSON body that must be an object, for the routes a schema cannot declare."""
    body = json_request_body(request)
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    return body
