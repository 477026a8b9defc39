"""Pinning a deployment's executions against retention, and what pages say about it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from deployments.models import Deployment
from deployments.services.retention import deployment_is_pinned, deployment_pin_set


def retention_context(deployment: Deployment | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"retention_days": settings.RETENTION_DAYS}
    if deployment is not None:
        context["retention_pinned"] = deployment_is_pinned(deployment)
    return context


@login_required
@require_POST
def deployment_pin(request: HttpRequest, name: str) -> HttpResponse:
    deployment = get_object_or_404(Deployment, name=name)
    pinned = request.POST.get("pinned") == "true"
    deployment_pin_set(deployment=deployment, pinned=pinned)
    messages.success(
        request,
        "Its executions are kept whatever their age."
        if pinned
        else "Its executions follow the retention period again.",
    )
    url = reverse("deployments:deployment_detail", args=[deployment.name])
    return redirect(f"{url}#retention")
