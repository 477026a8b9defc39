"""Access tokens: one JWT rule (signing, lifetime, required claims) for every kind.

A user's SDK token and an execution's token (executions/metrics/tokens.py)
are both exchanged at /auth/refresh for a short-lived access token. The
execution's kind belongs to a later app, so it registers its exchange here
(by token prefix) in its AppConfig.ready(): accounts never imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
from django.conf import settings

JWT_ALGORITHM = "HS256"

# {token prefix: raw token -> access token, or None when refused}
_exchanges: dict[str, Callable[[str], str | None]] = {}


def access_token_encode(claims: dict[str, Any]) -> str:
    """A signed access token with these claims, valid ACCESS_TOKEN_LIFETIME_S from now."""
    now = int(time.time())
    claims = {**claims, "iat": now, "exp": now + settings.ACCESS_TOKEN_LIFETIME_S}
    return jwt.encode(claims, settings.SECRET_KEY, algorithm=JWT_ALGORITHM)


def access_token_decode(
    access_token: str, *, required: tuple[str, ...]
) -> dict[str, Any] | None:
    """The claims of a genuine, unexpired token that has every `required` claim, else None."""
    try:
        return jwt.decode(
            access_token,
            settings.SECRET_KEY,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", *required]},
        )
    except jwt.PyJWTError:
        return None


def token_exchange_register(prefix: str, exchange: Callable[[str], str | None]) -> None:
    """Tokens starting with `prefix` are exchanged by `exchange` instead of as SDK tokens."""
    _exchanges[prefix] = exchange


def token_exchange_for(raw: str) -> Callable[[str], str | None] | None:
    return next(
        (exchange for prefix, exchange in _exchanges.items() if raw.startswith(prefix)),
        None,
    )
