"""Request helpers shared by the API and endpoint views."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from platform_site.errors import ValidationFailed


class AuthenticatedHttpRequest(HttpRequest):
    user: AbstractBaseUser


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: AbstractBaseUser | AnonymousUser


def json_body(request: HttpRequest) -> Any:
    """Decode a JSON request body ({} when empty); 400 naming the problem otherwise."""
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"Malformed JSON body: {exc}") from None
