"""Run again (a button on the execution page) and the side-by-side comparison page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from executions import selectors
from executions.models import Execution
from executions.replays.compare import execution_compare
from executions.replays.services import ReplayRefused, execution_replay, replay_original
from platform_site.http.errors import NotFound

PICK_TWO = "Select exactly two executions to compare."


def replay_context(execution: Execution) -> dict[str, Any]:
    """What the execution page shows: where it came from, and its own replays."""
    return {
        "replay_link": replay_original(execution),
        "replays": list(execution.replays.select_related("replay")[:20]),
    }


def _execution_or_404(execution_id: str) -> Execution:
    try:
        return selectors.execution_get(execution_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


@login_required
@require_POST
def execution_run_again(request: HttpRequest, execution_id: str) -> HttpResponse:
    execution = _execution_or_404(execution_id)
    try:
        replay = execution_replay(execution=execution, created_by=request.user)
    except ReplayRefused as exc:
        messages.error(request, exc.message)
        return redirect("executions:execution_detail", execution.execution_id)
    messages.success(request, f"Running {execution.execution_id} again.")
    return redirect("executions:execution_detail", replay.execution_id)


@login_required
@require_GET
def executions_compare(request: HttpRequest) -> HttpResponse:
    ids = [i for i in request.GET.getlist("e") if i]
    if len(ids) != 2:
        messages.error(request, PICK_TWO)
        return redirect(reverse("executions:execution_list"))
    a, b = (_execution_or_404(i) for i in ids)
    result = execution_compare(a, b)
    context = {
        "a": a,
        "b": b,
        "a_facts": result["a"],
        "b_facts": result["b"],
        "sections": [("Inputs", result["inputs"]), ("Outputs", result["outputs"])],
        "first_log_difference": result["first_log_difference"],
    }
    return render(request, "executions/replays/compare.html", context)
