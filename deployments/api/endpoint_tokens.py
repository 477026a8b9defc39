"""Endpoint tokens and rate limits on /api/v1 (beyond the official client's one token)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils.dateparse import parse_datetime
from ninja import Router

from deployments.endpoints import access
from deployments.models import Deployment, EndpointToken
from deployments.selectors import deployment_get_or_404
from platform_site.http.errors import NotFound, ValidationFailed
from platform_site.http.request import json_body

router = Router(tags=["endpoint tokens"])


def _body(request: HttpRequest) -> dict[str, Any]:
    body = json_body(request)
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    return body


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def token_to_api(token: EndpointToken) -> dict[str, Any]:
    return {
        "id": str(token.id),
        "name": token.name,
        "prefix": token.prefix,
        "created_at": _iso(token.created_at),
        "last_used_at": _iso(token.last_used_at),
        "expires_at": _iso(token.expires_at),
        "revoked_at": _iso(token.revoked_at),
    }


def _expires_at(raw: Any) -> datetime | None:
    if raw is None:
        return None
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationFailed(
            "expires_at must be an ISO 8601 date and time with its offset.",
            field="expires_at",
        )
    return parsed


def _limits(deployment: Deployment) -> dict[str, Any]:
    deployment.refresh_from_db(fields=["calls_per_minute", "main_token_last_used_at"])
    return {
        "calls_per_minute": deployment.calls_per_minute,
        "main_token_last_used_at": _iso(deployment.main_token_last_used_at),
    }


@router.get("/deployments/{name}/endpoint-tokens")
def list_tokens(request: HttpRequest, name: str):
    deployment = deployment_get_or_404(name)
    tokens = EndpointToken.objects.filter(deployment=deployment)
    return {"tokens": [token_to_api(t) for t in tokens], **_limits(deployment)}


@router.post("/deployments/{name}/endpoint-tokens")
def create_token(request: HttpRequest, name: str):
    deployment = deployment_get_or_404(name)
    body = _body(request)
    issued = access.endpoint_token_create(
        deployment=deployment,
        name=body.get("name") if isinstance(body.get("name"), str) else "",
        expires_at=_expires_at(body.get("expires_at")),
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
def rotate_token(request: HttpRequest, name: str):
    """Like generate-new-token, with an optional `grace_period_s` for the old token."""
    deployment = deployment_get_or_404(name)
    body = _body(request)
    grace = body.get("grace_period_s")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise ValidationFailed(
            "grace_period_s must be a whole number of seconds.", field="grace_period_s"
        )
    chosen = body.get("endpoint_token")
    token = access.endpoint_token_rotate(
        deployment=deployment,
        token=chosen if isinstance(chosen, str) and chosen else None,
        grace=timedelta(seconds=grace) if grace else None,
    )
    return {"endpoint_token": token, "grace_period_s": grace or 0}


@router.put("/deployments/{name}/rate-limit")
def set_rate_limit(request: HttpRequest, name: str):
    deployment = deployment_get_or_404(name)
    access.endpoint_rate_limit_set(
        deployment=deployment, calls_per_minute=_body(request).get("calls_per_minute")
    )
    return _limits(deployment)
