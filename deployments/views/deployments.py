"""Deployment pages: the list, one deployment (URL, token, snippets, schedule), actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from deployments.endpoints.access import MAX_GRACE, endpoint_token_rotate
from deployments.endpoints.pages import endpoint_access_context, whole_number
from deployments.forms import TriggerForm
from deployments.models import Deployment, ExecutionRule
from deployments.pods.selectors import pods_context
from deployments.schedules import schedule_describe, schedule_next_runs
from deployments.selectors import deployment_token
from deployments.services.deployments import (
    deployment_delete as deployment_delete_service,
)
from deployments.services.deployments import (
    deployment_update,
)
from deployments.views.deployment_display import endpoint_examples, mapping_rows
from deployments.views.retention import retention_context
from executions.models import Execution
from executions.selectors import deployment_health
from platform_site.http.errors import ApiError
from platform_site.http.request import HtmxHttpRequest, public_url

RECENT_EXECUTIONS = 10


def _get_deployment_for_user(request: HtmxHttpRequest, name: str) -> Deployment:
    """Deployments belong to the environment: every signed-in user may see them; 404 otherwise."""
    return get_object_or_404(Deployment.objects.select_related("pipeline"), name=name)


def _with_last_execution(deployments: QuerySet[Deployment]) -> QuerySet[Deployment]:
    latest = Execution.objects.filter(deployment=OuterRef("pk")).order_by("-created_at")
    return deployments.annotate(
        last_execution_id=Subquery(latest.values("execution_id")[:1]),
        last_execution_status=Subquery(latest.values("status")[:1]),
        last_execution_at=Subquery(latest.values("created_at")[:1]),
    )


def _after_action(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_GET
def deployment_list(request: HtmxHttpRequest) -> HttpResponse:
    deployments = _with_last_execution(Deployment.objects.select_related("pipeline"))
    return render(
        request, "deployments/deployment_list.html", {"deployments": deployments}
    )


def _endpoint_context(request: HtmxHttpRequest, deployment: Deployment) -> dict:
    """The absolute URL, the token and ready-to-paste snippets of an endpoint."""
    return {
        "endpoint_url": public_url(f"/endpoints/{deployment.endpoint_url_path}"),
        "base_url": settings.PUBLIC_URL,
        "token": deployment_token(deployment),
        **endpoint_examples(deployment.inputs_mapping, deployment.pipeline.inputs),
        **endpoint_access_context(deployment),
    }


@login_required
@require_GET
@never_cache  # the page holds the endpoint token
def deployment_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The deployment; with ?fragment=executions, only its live recent executions."""
    deployment = _get_deployment_for_user(request, name)
    latest = list(deployment.executions.all()[:RECENT_EXECUTIONS])
    if request.htmx and request.GET.get("fragment") == "executions":
        return render(
            request,
            "executions/_latest_executions.html",
            {"latest_executions": latest},
        )
    context: dict[str, Any] = {
        "deployment": deployment,
        "latest_executions": latest,
        "execution_count": deployment.executions.count(),
        "health": deployment_health(deployment, now=timezone.now()),
        "mappings": mapping_rows(deployment.inputs_mapping, deployment.outputs_mapping),
        **retention_context(deployment),
    }
    if deployment.mode == "low_latency":
        context.update(pods_context(deployment))
    if deployment.execution_rule == ExecutionRule.ENDPOINT:
        context.update(_endpoint_context(request, deployment))
    elif deployment.schedule:
        context.update(
            cron=deployment.schedule,
            description=schedule_describe(deployment.schedule),
            runs=schedule_next_runs(deployment.schedule, start=timezone.now()),
        )
    return render(request, "deployments/deployment_detail.html", context)


@login_required
@require_POST
def deployment_toggle(request: HtmxHttpRequest, name: str) -> HttpResponse:
    deployment = _get_deployment_for_user(request, name)
    enable = not deployment.is_enabled
    deployment_update(deployment=deployment, updated_by=request.user, is_enabled=enable)
    state = "enabled" if enable else "disabled"
    messages.success(request, f"Deployment “{deployment.name}” {state}.")
    return _after_action(
        request, reverse("deployments:deployment_detail", args=[deployment.name])
    )


@login_required
@require_POST
def deployment_rotate_token(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The page's one rotate form: blank or 0 grace minutes stops the old token at once."""
    deployment = _get_deployment_for_user(request, name)
    try:
        minutes = whole_number(
            request.POST.get("grace_minutes", ""),
            label="Grace period",
            low=0,
            high=int(MAX_GRACE.total_seconds() // 60),
        )
        endpoint_token_rotate(
            deployment=deployment,
            grace=timedelta(minutes=minutes) if minutes else None,
        )
    except (ValueError, ApiError) as exc:
        messages.error(request, getattr(exc, "message", None) or str(exc))
    else:
        messages.success(
            request,
            f"New endpoint token generated: the previous one works for {minutes} more minutes."
            if minutes
            else "New endpoint token generated: the previous one no longer works.",
        )
    return _after_action(
        request, reverse("deployments:deployment_detail", args=[deployment.name])
    )


@login_required
@require_POST
def deployment_delete(request: HtmxHttpRequest, name: str) -> HttpResponse:
    deployment = _get_deployment_for_user(request, name)
    deployment_delete_service(deployment=deployment)
    messages.success(request, f"Deployment “{name}” and its executions were deleted.")
    return _after_action(request, reverse("deployments:deployment_list"))


SCHEDULE_HINT = "Type a CRON expression: the next runs appear here."


@login_required
@require_POST
def cron_preview(request: HtmxHttpRequest) -> HttpResponse:
    """Description and next five runs of the schedule being typed, or an inline error.

    Accepts the wizard's trigger fields (basic or advanced mode) or a bare
    `schedule`, which is read as a CRON expression.
    """
    state = request.POST.dict()
    state["execution_rule"] = ExecutionRule.PERIODIC
    state.setdefault("schedule_mode", "advanced")
    form = TriggerForm(data=state)
    context: dict[str, Any] = {}
    if state["schedule_mode"] == "advanced" and not state.get("schedule", "").strip():
        # Nothing typed yet: a hint, not "schedule is required".
        context["hint"] = SCHEDULE_HINT
    elif form.is_valid():
        cron = form.cleaned_data["cron"]
        context = {
            "cron": cron,
            "description": schedule_describe(cron),
            "runs": schedule_next_runs(cron, start=timezone.now()),
        }
    else:
        context["error"] = next(
            (str(e) for errors in form.errors.values() for e in errors),
            "Invalid schedule.",
        )
    return render(request, "deployments/cron_preview.html", context)
