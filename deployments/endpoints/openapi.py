"""One endpoint deployment's OpenAPI 3.1 document, built from its mappings.

Only what a caller sees: the endpoint names of its mapped inputs and
outputs (renamed ones under their endpoint name), their types, file inputs
as multipart parts, and the 200/303 contract with the results route.
"""

from __future__ import annotations

from typing import Any

from deployments.models import Deployment

TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "json": {},  # any JSON value
    "array": {"type": "array", "items": {}},
    "file": {"type": "string", "format": "binary"},
}
FILE_OUTPUT = {
    "type": "object",
    "properties": {"url": {"type": ["string", "null"], "format": "uri"}},
    "required": ["url"],
}
ERROR = {"$ref": "#/components/schemas/Error"}

OPENAPI_VERSION = "1.0"


def _types(items: list[dict[str, Any]]) -> dict[str, str]:
    return {i["name"]: i.get("data_type", "string") for i in items}


def _inputs(deployment: Deployment) -> tuple[dict[str, Any], list[str], bool]:
    """(properties, required names, has files) of the request body."""
    declared = {i["name"]: i for i in deployment.pipeline.inputs}
    properties: dict[str, Any] = {}
    required: list[str] = []
    has_files = False
    for entry in deployment.inputs_mapping:
        name = entry.get("endpoint_input_name")
        if name is None:
            continue
        spec = declared.get(entry["pipeline_input_name"], {})
        data_type = spec.get("data_type", "string")
        schema = dict(TYPE_SCHEMAS.get(data_type, {}))
        if spec.get("description"):
            schema["description"] = spec["description"]
        default = entry.get("default_value", spec.get("default_value"))
        if default is not None and data_type != "file":
            schema["default"] = default
        properties[name] = schema
        has_files = has_files or data_type == "file"
        if entry.get("is_required", spec.get("is_required", False)) and default is None:
            required.append(name)
    return properties, required, has_files


def _outputs(deployment: Deployment, *, wrap: bool) -> dict[str, Any]:
    types = _types(deployment.pipeline.outputs)
    properties: dict[str, Any] = {}
    for entry in deployment.outputs_mapping:
        name = entry.get("endpoint_output_name")
        if name is None:
            continue
        data_type = types.get(entry["pipeline_output_name"], "string")
        if data_type == "file":
            properties[name] = FILE_OUTPUT
        else:
            value = dict(TYPE_SCHEMAS.get(data_type, {}))
            properties[name] = (
                {"type": "object", "properties": {"value": value}} if wrap else value
            )
    return {"type": "object", "properties": properties}


def _result(outputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"execution_id": {"type": "string"}, "outputs": outputs},
        "required": ["execution_id", "outputs"],
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _errors(*codes: tuple[str, str]) -> dict[str, Any]:
    return {code: _json(ERROR, text) for code, text in codes}


def endpoint_openapi(deployment: Deployment, *, server_url: str) -> dict[str, Any]:
    properties, required, has_files = _inputs(deployment)
    body_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        body_schema["required"] = required
    if has_files:
        # File inputs travel as parts; other values as parts holding JSON (or plain text).
        content = {"multipart/form-data": {"schema": body_schema}}
    else:
        content = {"application/json": {"schema": body_schema}}
    path = deployment.endpoint_url_path
    execution_ref = {
        "type": "object",
        "properties": {"execution_id": {"type": "string"}},
    }
    results_path = f"/endpoints/v1/{path}/executions/{{execution_id}}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{deployment.name} endpoint",
            # A person reads this badge: the API's shape version, not a timestamp;
            # when the mappings last changed goes in the description.
            "version": OPENAPI_VERSION,
            "description": (
                f"Runs pipeline '{deployment.pipeline.name}' (deployment last "
                f"changed {deployment.updated_at:%Y-%m-%d %H:%M} UTC). The call waits a few "
                "seconds: a finished execution answers 200 with its outputs, a "
                "longer one 303 to its results route, which answers 307 to itself "
                "until the outputs are ready."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"EndpointToken": []}],
        "paths": {
            f"/endpoints/{path}": {
                "post": {
                    "operationId": "trigger",
                    "summary": "Start an execution",
                    "requestBody": {"required": bool(required), "content": content},
                    "responses": {
                        "200": _json(
                            _result(_outputs(deployment, wrap=False)),
                            "Finished within the hold: its outputs by endpoint name.",
                        ),
                        "303": {
                            **_json(execution_ref, "Still running: follow Location."),
                            "headers": {
                                "Location": {
                                    "schema": {"type": "string"},
                                    "description": "The results route of this execution.",
                                }
                            },
                        },
                        **_errors(
                            ("400", "An input is missing or has the wrong type."),
                            ("401", "Missing or wrong endpoint token."),
                            ("403", "The deployment is disabled."),
                            ("413", "The body is too large."),
                            (
                                "429",
                                "Over the deployment's calls per minute (Retry-After).",
                            ),
                            ("500", "The execution failed."),
                        ),
                    },
                }
            },
            results_path: {
                "get": {
                    "operationId": "result",
                    "summary": "Wait for an execution's outputs",
                    "parameters": [
                        {
                            "name": "execution_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _json(
                            _result(_outputs(deployment, wrap=True)),
                            'Its outputs, each as {"value": ...} (files as {"url": ...}).',
                        ),
                        "307": {
                            "description": "Still running: ask the same URL again."
                        },
                        **_errors(
                            ("401", "Missing or wrong endpoint token."),
                            ("404", "No such execution for this endpoint."),
                            ("500", "The execution failed."),
                        ),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "EndpointToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The value 'EndpointToken <token>'.",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "message": {"type": "string"},
                        "name": {"type": "string"},
                    },
                    "required": ["message", "name"],
                }
            },
        },
    }
