"""SDK tokens and the short-lived access tokens (JWT) exchanged for them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.access_tokens import access_token_decode, access_token_encode
from accounts.models import SdkToken
from platform_site.http.errors import NotAuthenticated

TOKEN_PREFIX = "sdk_"
SHOWN_PREFIX_CHARS = 12  # what lists show and what sign-in throttling counts by
INVALID_REFRESH_TOKEN = "Invalid or revoked SDK token."
INVALID_ACCESS_TOKEN = "Invalid or expired access token: exchange your SDK token again."


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: SdkToken
    raw: str  # shown once, never stored


def sdk_token_create(*, user: AbstractBaseUser, name: str) -> IssuedToken:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = SdkToken.objects.create(
        user=user,
        name=name[:100] or "token",
        prefix=raw[:SHOWN_PREFIX_CHARS],
        digest=_digest(raw),
    )
    return IssuedToken(token=token, raw=raw)


def sdk_token_revoke(*, token: SdkToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def sdk_token_lookup(raw: str) -> SdkToken | None:
    """The active token matching `raw`, or None.

    Lookup is by SHA-256 digest through a unique index, so the comparison never
    touches the secret byte by byte (no timing oracle).
    """
    if not isinstance(raw, str) or not raw:
        return None
    return (
        SdkToken.objects.select_related("user")
        .filter(digest=_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def access_token_issue(*, refresh_token: str) -> str:
    """Exchange an SDK token for a signed JWT; NotAuthenticated if the token is bad."""
    token = sdk_token_lookup(refresh_token)
    if token is None:
        raise NotAuthenticated(INVALID_REFRESH_TOKEN)
    with transaction.atomic():
        SdkToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return access_token_encode({"sub": str(token.user_id), "tid": str(token.id)})


def access_token_user(access_token: str) -> AbstractBaseUser | None:
    """The user an access token stands for, or None if forged, expired or revoked.

    Revocation is checked on every request so it takes effect at once.
    """
    claims = access_token_decode(access_token, required=("sub", "tid"))
    if claims is None:
        return None
    token = (
        SdkToken.objects.select_related("user")
        .filter(pk=claims["tid"], revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None or str(token.user_id) != claims["sub"]:
        return None
    return token.user


ADMIN_USERNAME = "admin"


def admin_user_ensure(*, password: str | None = None) -> str | None:
    """Create the `admin` superuser on first start; return its password then, else None.

    With no `password`, a random one is generated: the caller prints it once,
    and only its hash is stored.
    """
    user_model = get_user_model()
    with transaction.atomic():
        if user_model.objects.filter(username=ADMIN_USERNAME).exists():
            return None
        password = password or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(ADMIN_USERNAME, "", password)
    return password
