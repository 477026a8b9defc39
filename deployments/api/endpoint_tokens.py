"""Endpoint tokens and rate limits on /api/v1 (beyond the official client's one token)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import AwareDatetime, StrictInt

from deployments.endpoints import access
from deployments.models import Deployment, EndpointToken
from deployments.selectors import deployment_get_or_404
from platform_site.http.errors import NotFound
from platform_site.http.units import iso

router = Router(tags=["endpoint tokens"])


class TokenIn(Schema):
    name: str = ""
    # With its offset: a naive time would mean a different instant on each machine.
    expires_at: AwareDatetime | None = None


class RotateIn(Schema):
    grace_period_s: Annotated[StrictInt, Field(ge=0)] | None = None
    endpoint_token: str | None = None  # the caller's choice, else a new random one


class RateLimitIn(Schema):
    calls_per_minute: StrictInt | None = None  # its range is the service's rule


def token_to_api(token: EndpointToken) -> dict[str, Any]:
    return {
        "id": str(token.id),
        "name": token.name,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "expires_at": iso(token.expires_at),
        "revoked_at": iso(token.revoked_at),
    }


def _limits(deployment: Deployment) -> dict[str, Any]:
    deployment.refresh_from_db(fields=["calls_per_minute", "main_token_last_used_at"])
    return {
        "calls_per_minute": deployment.calls_per_minute,
        "main_token_last_used_at": iso(deployment.main_token_last_used_at),
    }


@router.get("/deployments/{name}/endpoint-tokens")
def list_tokens(request: HttpRequest, name: str):
    deployment = deployment_get_or_404(name)
    tokens = EndpointToken.objects.filter(deployment=deployment)
    return {"tokens": [token_to_api(t) for t in tokens], **_limits(deployment)}


@router.post("/deployments/{name}/endpoint-tokens")
def create_token(request: HttpRequest, name: str, token: TokenIn):
    issued = access.endpoint_token_create(
        deployment=deployment_get_or_404(name),
        name=token.name,
        expires_at=token.expires_at,
    )
    return {**token_to_api(issued.token), "endpoint_token": issued.raw}


@router.delete("/deployments/{name}/endpoint-tokens/{token_id}")
def revoke_token(request: HttpRequest, name: str, token_id: str):
    deployment = deployment_get_or_404(name)
    try:
        token_uuid = uuid.UUID(token_id)
    except ValueError:
        token_uuid = None
    token = (
        EndpointToken.objects.filter(deployment=deployment, pk=token_uuid).first()
        if token_uuid
        else None
    )
    if token is None:
        raise NotFound(f"Token '{token_id}' not found for this deployment.")
    access.endpoint_token_revoke(token=token)
    token.refresh_from_db()
    return token_to_api(token)


@router.post("/deployments/{name}/endpoint-token/rotate")
def rotate_token(request: HttpRequest, name: str, rotation: RotateIn):
    """Like generate-new-token, with an optional `grace_period_s` for the old token."""
    grace = rotation.grace_period_s or 0
    token = access.endpoint_token_rotate(
        deployment=deployment_get_or_404(name),
        token=rotation.endpoint_token or None,
        grace=timedelta(seconds=grace) if grace else None,
    )
    return {"endpoint_token": token, "grace_period_s": grace}


@router.put("/deployments/{name}/rate-limit")
def set_rate_limit(request: HttpRequest, name: str, limit: RateLimitIn):
    deployment = deployment_get_or_404(name)
    access.endpoint_rate_limit_set(
        deployment=deployment, calls_per_minute=limit.calls_per_minute
    )
    return _limits(deployment)
