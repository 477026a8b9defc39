"""The deployment page's named-token and rate-limit forms (plain posts, CSRF-protected).

The main token's rotation is the page's one rotate form (deployments/views/deployments.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from deployments.endpoints import access
from deployments.models import Deployment, EndpointToken, ExecutionRule
from platform_site.http.errors import ApiError

MAX_EXPIRY_DAYS = 3650


def endpoint_access_context(deployment: Deployment) -> dict[str, Any]:
    """What the deployment page shows of its named tokens (its limit is the deployment's)."""
    return {
        "extra_tokens": list(EndpointToken.objects.filter(deployment=deployment)),
        "now": timezone.now(),
    }


def _get_endpoint(name: str) -> Deployment:
    return get_object_or_404(
        Deployment, name=name, execution_rule=ExecutionRule.ENDPOINT
    )


def _back(deployment: Deployment) -> HttpResponse:
    url = reverse("deployments:deployment_detail", args=[deployment.name])
    return redirect(f"{url}#tokens")


def whole_number(raw: str, *, label: str, low: int, high: int) -> int | None:
    """None for a blank field; ValueError with a sentence otherwise when out of range."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ValueError(f"{label} must be a whole number from {low} to {high}.")
    return int(raw)


@login_required
@require_POST
@never_cache  # the answer shows the new token once
def token_create(request: HttpRequest, name: str) -> HttpResponse:
    deployment = _get_endpoint(name)
    try:
        days = whole_number(
            request.POST.get("expires_in_days", ""),
            label="Expiry",
            low=1,
            high=MAX_EXPIRY_DAYS,
        )
        issued = access.endpoint_token_create(
            deployment=deployment,
            name=request.POST.get("name", ""),
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
    except (ValueError, ApiError) as exc:
        messages.error(request, getattr(exc, "message", None) or str(exc))
        return _back(deployment)
    return render(
        request,
        "deployments/endpoints/token_created.html",
        {"deployment": deployment, "issued": issued},
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, name: str, token_id: str) -> HttpResponse:
    deployment = _get_endpoint(name)
    token = get_object_or_404(EndpointToken, deployment=deployment, pk=token_id)
    access.endpoint_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked; the others still work.")
    return _back(deployment)


@login_required
@require_POST
def rate_limit_set(request: HttpRequest, name: str) -> HttpResponse:
    deployment = _get_endpoint(name)
    try:
        calls = whole_number(
            request.POST.get("calls_per_minute", ""),
            label="Calls per minute",
            low=1,
            high=1_000_000,
        )
    except ValueError as exc:
        messages.error(request, str(exc))
        return _back(deployment)
    access.endpoint_rate_limit_set(deployment=deployment, calls_per_minute=calls)
    messages.success(
        request,
        f"This endpoint now accepts {calls} calls per minute."
        if calls
        else "This endpoint has no rate limit.",
    )
    return _back(deployment)
