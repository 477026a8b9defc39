from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.services import access_token_user


class AccessTokenAuth(HttpBearer):
    """`Authorization: Bearer <jwt>` on /api/v1. Session cookies are never accepted there."""

    def authenticate(self, request: HttpRequest, token: str):
        user = access_token_user(token)
        if user is not None:
            request.user = user
        return user


def metrics_allowed(request: HttpRequest) -> bool:
    """A staff user's access token (as the API takes it), or the operator's metrics token."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return False
    credential = credential.strip()
    operator_token = settings.METRICS_TOKEN
    if operator_token and hmac.compare_digest(
        credential.encode(), operator_token.encode()
    ):
        return True
    user = access_token_user(credential)
    return user is not None and user.is_staff
