"""Platform environment variables (docs/sdk-protocol.md §6)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from executions import selectors, services

router = Router(tags=["environment variables"])


def _to_api(variable) -> dict:
    return {"name": variable.name, "value": variable.value}


class EnvironmentVariablesIn(Schema):
    # name: value pairs; names and values are the service's rules.
    environment_variables: dict[str, Any]


@router.put("/environment-variables")
def put_environment_variables(request: HttpRequest, variables: EnvironmentVariablesIn):
    saved = services.environment_variables_set(values=variables.environment_variables)
    return {"environment_variables": [_to_api(v) for v in saved]}


@router.get("/environment-variables")
def list_environment_variables(request: HttpRequest):
    return [_to_api(v) for v in selectors.environment_variable_list()]


@router.delete("/environment-variables/{name}")
def delete_environment_variable(request: HttpRequest, name: str):
    return _to_api(services.environment_variable_delete(name=name))
