"""Replay and compare on /api/v1."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest, JsonResponse
from ninja import Router

from executions import selectors
from executions.services import execution_to_api
from platform_site.errors import ValidationFailed
from replays.compare import execution_compare
from replays.services import execution_replay

router = Router(tags=["replays"])


@router.post("/executions/{execution_id}/replay")
def replay(request: HttpRequest, execution_id: str):
    """Run it again; 409 ReplayRefused naming what no longer exists."""
    original = selectors.execution_get(execution_id)
    new = execution_replay(execution=original, created_by=request.user)
    body = execution_to_api(new)
    body["replay_of"] = original.execution_id
    return JsonResponse(body, status=201)


@router.get("/execution-comparisons")
def compare(request: HttpRequest, a: str = "", b: str = ""):
    if not a or not b:
        raise ValidationFailed("Give two execution ids as a and b.", field="a")
    result = execution_compare(selectors.execution_get(a), selectors.execution_get(b))
    difference = result["first_log_difference"]
    return {
        **result,
        "inputs": [asdict(row) for row in result["inputs"]],
        "outputs": [asdict(row) for row in result["outputs"]],
        "first_log_difference": asdict(difference) if difference else None,
    }
