from __future__ import annotations

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
