"""Endpoint access: the main token's rotation, named tokens and their revocation, the rate limit.

One service per operation, used alike by the API, the deployment page and
the official client's `generate_new_endpoint_token`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments.endpoints.endpoint_cache import endpoints_changed
from deployments.endpoints.tokens import (
    token_decrypt,
    token_digest,
    token_encrypt,
    token_format_error,
    token_generate,
)
from deployments.models import Deployment, EndpointToken, ExecutionRule
from platform_site.http.errors import Conflict, ValidationFailed

SHOWN_PREFIX_CHARS = 6
MAX_GRACE = timedelta(days=30)
NOT_AN_ENDPOINT = "Deployment '{name}' is not an endpoint deployment: it has no token."


def _require_endpoint(deployment: Deployment) -> None:
    if deployment.execution_rule != ExecutionRule.ENDPOINT:
        raise ValidationFailed(
            NOT_AN_ENDPOINT.format(name=deployment.name), field="deployment_name"
        )


@dataclass(frozen=True)
class IssuedEndpointToken:
    token: EndpointToken
    raw: str  # shown once, never stored


def endpoint_token_create(
    *, deployment: Deployment, name: str, expires_at: datetime | None = None
) -> IssuedEndpointToken:
    """A new named token that works at once, until revoked or `expires_at`."""
    _require_endpoint(deployment)
    name = (name or "").strip()
    if not name or len(name) > 100 or "\x00" in name:
        raise ValidationFailed(
            "A token needs a name of 1 to 100 characters.", field="name"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("expires_at must be in the future.", field="expires_at")
    if endpoint_tokens_active(deployment).filter(name=name).exists():
        raise Conflict(f"This deployment already has an active token named '{name}'.")
    raw = token_generate()
    token = EndpointToken.objects.create(
        deployment=deployment,
        name=name,
        prefix=raw[:SHOWN_PREFIX_CHARS],
        digest=token_digest(raw),
        expires_at=expires_at,
    )
    return IssuedEndpointToken(token=token, raw=raw)


def endpoint_token_revoke(*, token: EndpointToken) -> None:
    """Stops this token at once; the others keep working."""
    EndpointToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    endpoints_changed()


def endpoint_tokens_active(deployment: Deployment):
    now = timezone.now()
    return EndpointToken.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        deployment=deployment,
        revoked_at__isnull=True,
    )


def endpoint_token_rotate(
    *, deployment: Deployment, token: str | None = None, grace: timedelta | None = None
) -> str:
    """A new main token (`token` when the caller chose one); the old one stops with this commit.

    With `grace`, the old one keeps working that long, as a named token
    with an expiry.
    """
    _require_endpoint(deployment)
    if grace is not None and not (timedelta(0) <= grace <= MAX_GRACE):
        raise ValidationFailed(
            f"grace_period_s must be between 0 and {int(MAX_GRACE.total_seconds())}.",
            field="grace_period_s",
        )
    new = token or token_generate()
    problem = token_format_error(new)
    if problem:
        raise ValidationFailed(problem, field="endpoint_token")
    with transaction.atomic():
        old = token_decrypt(deployment.endpoint_token_encrypted)
        deployment.endpoint_token_encrypted = token_encrypt(new)
        deployment.save(update_fields=["endpoint_token_encrypted", "updated_at"])
        if grace and old and old != new:
            now = timezone.now()
            EndpointToken.objects.update_or_create(
                deployment=deployment,
                digest=token_digest(old),
                defaults={
                    "name": f"previous main token (rotated {now:%Y-%m-%d %H:%M} UTC)",
                    "prefix": old[:SHOWN_PREFIX_CHARS],
                    "expires_at": now + grace,
                    "revoked_at": None,
                },
            )
    return new


def endpoint_rate_limit_set(
    *, deployment: Deployment, calls_per_minute: int | None
) -> None:
    """Calls per minute this endpoint accepts (None: no limit)."""
    _require_endpoint(deployment)
    if calls_per_minute is not None and (
        isinstance(calls_per_minute, bool)
        or not isinstance(calls_per_minute, int)
        or not 1 <= calls_per_minute <= 1_000_000
    ):
        raise ValidationFailed(
            "calls_per_minute must be a whole number from 1 to 1000000, or null.",
            field="calls_per_minute",
        )
    Deployment.objects.filter(pk=deployment.pk).update(
        calls_per_minute=calls_per_minute
    )
    endpoints_changed()
    deployment.calls_per_minute = calls_per_minute
