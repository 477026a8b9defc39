"""Platform environment variables (docs/sdk-protocol.md §6)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from executions import selectors, services
from platform_site.http.errors import ValidationFailed
from platform_site.http.request import json_body

router = Router(tags=["environment variables"])


def _to_api(variable) -> dict:
    return {"name": variable.name, "value": variable.value}


@router.put("/environment-variables")
def put_environment_variables(request: HttpRequest):
    body = json_body(request)
    if not isinstance(body, dict) or "environment_variables" not in body:
        raise ValidationFailed(
            "environment_variables is required: an object of name: value pairs."
        )
    saved = services.environment_variables_set(values=body["environment_variables"])
    return {"environment_variables": [_to_api(v) for v in saved]}


@router.get("/environment-variables")
def list_environment_variables(request: HttpRequest):
    return [_to_api(v) for v in selectors.environment_variable_list()]


@router.delete("/environment-variables/{name}")
def delete_environment_variable(request: HttpRequest, name: str):
    return _to_api(services.environment_variable_delete(name=name))
