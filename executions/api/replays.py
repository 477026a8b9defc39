"""Replay and compare on /api/v1."""

from __future__ import annotations

import re
from dataclasses import asdict

from django.http import HttpRequest, JsonResponse
from ninja import Router

from executions import selectors
from executions.replays.compare import execution_compare
from executions.replays.services import execution_replay
from executions.services import execution_to_api
from platform_site.http.errors import ValidationFailed
from platform_site.http.request import json_body

router = Router(tags=["replays"])

EXECUTION_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


@router.post("/executions/{execution_id}/replay")
def replay(request: HttpRequest, execution_id: str):
    """Run it again; 409 ReplayRefused naming what no longer exists."""
    # No options yet, but a malformed body is refused as on every route.
    if request.content_type == "application/json":
        json_body(request)
    else:
        request.POST  # noqa: B018 - parsing a bad form or multipart body raises
    original = selectors.execution_get(execution_id)
    new = execution_replay(execution=original, created_by=request.user)
    body = execution_to_api(new)
    body["replay_of"] = original.execution_id
    return JsonResponse(body, status=201)


@router.get("/execution-comparisons")
def compare(request: HttpRequest, a: str = "", b: str = ""):
    if not EXECUTION_ID.fullmatch(a) or not EXECUTION_ID.fullmatch(b):
        raise ValidationFailed("Give two execution ids as a and b.", field="a")
    result = execution_compare(selectors.execution_get(a), selectors.execution_get(b))
    difference = result["first_log_difference"]
    return {
        **result,
        "inputs": [asdict(row) for row in result["inputs"]],
        "outputs": [asdict(row) for row in result["outputs"]],
        "first_log_difference": asdict(difference) if difference else None,
    }
