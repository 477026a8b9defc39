"""How deployment settings read on pages: mapping summaries and snippet values."""

from __future__ import annotations

import json
from typing import Any

# Example values for the endpoint snippets, by data type.
EXAMPLE_VALUES: dict[str, Any] = {
    "string": "text",
    "number": 1,
    "boolean": True,
    "json": {"key": "value"},
    "array": [1, 2, 3],
}


def mapping_summary(entry: dict[str, Any]) -> tuple[str, str]:
    """(source or destination, what it holds) of one resolved mapping."""
    if "endpoint_input_name" in entry:
        extra = "required" if entry.get("is_required") else "optional"
        if "default_value" in entry:
            extra += f", default {json.dumps(entry['default_value'])}"
        return "Endpoint value", f"{entry['endpoint_input_name']} ({extra})"
    if "endpoint_output_name" in entry:
        return "Endpoint value", entry["endpoint_output_name"]
    if "constant_value" in entry:
        return "Constant", json.dumps(entry["constant_value"])
    if "environment_variable_name" in entry:
        return "Environment variable", entry["environment_variable_name"]
    if "datastore_path" in entry:
        return "Data store file", entry["datastore_path"]
    return "None (null)", ""


def mapping_rows(
    inputs_mapping: list[dict[str, Any]], outputs_mapping: list[dict[str, Any]]
) -> list[tuple[str, str, str, str]]:
    """(direction, pipeline name, source, value) for every input then every output."""
    return [
        ("input", e["pipeline_input_name"], *mapping_summary(e)) for e in inputs_mapping
    ] + [
        ("output", e["pipeline_output_name"], *mapping_summary(e))
        for e in outputs_mapping
    ]


def endpoint_examples(
    inputs_mapping: list[dict[str, Any]], pipeline_inputs: list[dict[str, Any]]
) -> dict[str, Any]:
    """Example request parts keyed by endpoint input names, for curl and the SDK."""
    types = {i["name"]: i.get("data_type", "string") for i in pipeline_inputs}
    values: dict[str, Any] = {}
    files: list[str] = []
    for mapping in inputs_mapping:
        endpoint_name = mapping.get("endpoint_input_name")
        if endpoint_name is None:
            continue
        if types.get(mapping["pipeline_input_name"]) == "file":
            files.append(endpoint_name)
        else:
            data_type = types.get(mapping["pipeline_input_name"], "string")
            values[endpoint_name] = EXAMPLE_VALUES.get(data_type, "text")
    python_items = [f"{json.dumps(k)}: {v!r}" for k, v in values.items()] + [
        f'{json.dumps(k)}: open("path/to/file", "rb")' for k in files
    ]
    return {
        "example_json": json.dumps(values),
        # Multipart fields carry JSON-encoded values (docs/sdk-protocol.md §5.1).
        "example_fields": [(k, json.dumps(v)) for k, v in values.items()],
        "example_files": files,
        "example_python_inputs": "{" + ", ".join(python_items) + "}"
        if python_items
        else None,
    }
