"""Retention on /api/v1: whether a deployment's executions are pinned."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import StrictBool

from deployments.selectors import deployment_get_or_404
from deployments.services.retention import deployment_is_pinned, deployment_pin_set

router = Router(tags=["retention"])


class RetentionIn(Schema):
    pinned: StrictBool


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
def set_retention(request: HttpRequest, name: str, retention: RetentionIn):
    deployment = deployment_get_or_404(name)
    deployment_pin_set(deployment=deployment, pinned=retention.pinned)
    return _state(deployment)
