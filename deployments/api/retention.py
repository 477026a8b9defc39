"""Retention on /api/v1: whether a deployment's executions are pinned."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Router

from deployments.selectors import deployment_get_or_404
from deployments.services.retention import deployment_is_pinned, deployment_pin_set
from platform_site.http.errors import ValidationFailed
from platform_site.http.request import json_body

router = Router(tags=["retention"])


def _state(deployment) -> dict:
    return {
        "deployment_name": deployment.name,
        "pinned": deployment_is_pinned(deployment),
        "retention_days": settings.RETENTION_DAYS or None,
    }


@router.get("/deployments/{name}/retention")
def get_retention(request: HttpRequest, name: str):
    return _state(deployment_get_or_404(name))


@router.put("/deployments/{name}/retention")
def set_retention(request: HttpRequest, name: str):
    deployment = deployment_get_or_404(name)
    body = json_body(request)
    pinned = body.get("pinned") if isinstance(body, dict) else None
    if not isinstance(pinned, bool):
        raise ValidationFailed("pinned must be true or false.", field="pinned")
    deployment_pin_set(deployment=deployment, pinned=pinned)
    return _state(deployment)
