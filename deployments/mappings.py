"""A deployment's mappings as a whole: resolved against its pipeline with the rule's defaults, patched.

Endpoint rules auto-map every input/output left unmapped to an endpoint value of
the same name; periodic rules need every input and output mapped explicitly.
A resolved mapping holds one dict per pipeline input (pipeline order) with its
`pipeline_input_name` and exactly one source key (plus `is_required` /
`default_value` for endpoint inputs); outputs likewise. One entry is checked
by mapping_rules.py.
"""

from __future__ import annotations

from typing import Any

from datastore.keys import datastore_path_problem
from deployments.mapping_rules import (
    ECHOED_KEYS,
    PERIODIC_UNMAPPED,
    mapping_input_check,
    mapping_output_check,
    mapping_type,
)
from pipelines.io_rules import type_problem
from platform_site.http.errors import ValidationFailed


def _index_entries(
    entries: Any, *, key: str, specs: list[dict], pipeline_name: str, where: str
) -> dict[str, dict]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ValidationFailed(f"{where} must be a list of mappings.", field=where)
    known = {spec["name"] for spec in specs}
    kind = "input" if key == "pipeline_input_name" else "output"
    by_name: dict[str, dict] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValidationFailed(
                f"{where}: each mapping must be an object.", field=where
            )
        name = entry.get(key)
        if not isinstance(name, str) or not name:
            raise ValidationFailed(f"{where}: a mapping is missing {key}.", field=where)
        if name not in known:
            raise ValidationFailed(
                f"{where}: pipeline '{pipeline_name}' has no {kind} named '{name}'.",
                field=where,
            )
        if name in by_name:
            raise ValidationFailed(
                f"{where}: {kind} '{name}' is mapped more than once.", field=where
            )
        by_name[name] = entry
    return by_name


def _check_unique_endpoint_names(resolved: list[dict], key: str, where: str) -> None:
    seen: dict[str, str] = {}
    owner_key = (
        "pipeline_input_name"
        if key == "endpoint_input_name"
        else "pipeline_output_name"
    )
    for mapping in resolved:
        endpoint_name = mapping.get(key)
        if endpoint_name is None:
            continue
        if endpoint_name in seen:
            raise ValidationFailed(
                f"{where}: {key} '{endpoint_name}' is used by both "
                f"'{seen[endpoint_name]}' and '{mapping[owner_key]}'.",
                field=where,
            )
        seen[endpoint_name] = mapping[owner_key]


def mappings_resolve(
    *,
    pipeline: Any,
    execution_rule: str,
    inputs_mapping: list[dict] | None,
    outputs_mapping: list[dict] | None,
) -> tuple[list[dict], list[dict]]:
    """Validate the caller's mappings against the pipeline and fill in the rule's defaults.

    Raises ValidationFailed naming the offending input or output.
    """
    inputs: list[dict] = list(pipeline.inputs or [])
    outputs: list[dict] = list(pipeline.outputs or [])
    given_inputs = _index_entries(
        inputs_mapping,
        key="pipeline_input_name",
        specs=inputs,
        pipeline_name=pipeline.name,
        where="inputs_mapping",
    )
    given_outputs = _index_entries(
        outputs_mapping,
        key="pipeline_output_name",
        specs=outputs,
        pipeline_name=pipeline.name,
        where="outputs_mapping",
    )

    if execution_rule == "periodic":
        unmapped = [
            f"input '{spec['name']}'"
            for spec in inputs
            if spec["name"] not in given_inputs
        ] + [
            f"output '{spec['name']}'"
            for spec in outputs
            if spec["name"] not in given_outputs
        ]
        if unmapped:
            first_is_input = unmapped[0].startswith("input")
            raise ValidationFailed(
                PERIODIC_UNMAPPED.format(unmapped=", ".join(unmapped)),
                field="inputs_mapping" if first_is_input else "outputs_mapping",
            )

    resolved_inputs = []
    for spec in inputs:
        entry = given_inputs.get(spec["name"])
        if (
            entry is None
        ):  # endpoint rule: auto-map to an endpoint input of the same name
            resolved_inputs.append(
                {
                    "pipeline_input_name": spec["name"],
                    "endpoint_input_name": spec["name"],
                }
            )
        else:
            resolved_inputs.append(
                mapping_input_check(entry, spec, execution_rule, "inputs_mapping")
            )
    resolved_outputs = []
    for spec in outputs:
        entry = given_outputs.get(spec["name"])
        if entry is None:
            resolved_outputs.append(
                {
                    "pipeline_output_name": spec["name"],
                    "endpoint_output_name": spec["name"],
                }
            )
        else:
            resolved_outputs.append(
                mapping_output_check(entry, spec, execution_rule, "outputs_mapping")
            )
    _check_unique_endpoint_names(
        resolved_inputs, "endpoint_input_name", "inputs_mapping"
    )
    _check_unique_endpoint_names(
        resolved_outputs, "endpoint_output_name", "outputs_mapping"
    )
    return resolved_inputs, resolved_outputs


def mappings_update(
    *,
    current: list[dict],
    changes: Any,
    direction: str,
    specs: list[dict],
    where: str,
) -> list[dict]:
    """Apply a PATCH: only constant_value / datastore_path values change, never the type."""
    key = "pipeline_input_name" if direction == "input" else "pipeline_output_name"
    if not isinstance(changes, list):
        raise ValidationFailed(f"{where} must be a list of mappings.", field=where)
    updated = [dict(m) for m in current]
    by_name = {m[key]: m for m in updated}
    data_types = {spec["name"]: spec.get("data_type") for spec in specs}
    editable = ("constant_value", "datastore_path")
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get(key), str):
            raise ValidationFailed(f"{where}: each mapping needs {key}.", field=where)
        name = change[key]
        mapping = by_name.get(name)
        if mapping is None:
            raise ValidationFailed(
                f"{where}: this deployment has no {direction} '{name}'.", field=where
            )
        given = [k for k in change if k not in (key, *ECHOED_KEYS)]
        if not given:
            continue
        current_kind = mapping_type(mapping, direction=direction)
        for k in given:
            if k not in editable or k not in mapping:
                raise ValidationFailed(
                    f"{where}: {direction} '{name}' is mapped to {current_kind}; only the "
                    "value of a constant_value or datastore_path mapping can change, "
                    "never the mapping type.",
                    field=where,
                )
            if k == "constant_value":
                problem = type_problem(change[k], data_types.get(name))
                if problem:
                    raise ValidationFailed(
                        f"{where}: {direction} '{name}': constant_value {problem}.",
                        field=where,
                    )
            else:
                problem = datastore_path_problem(
                    change[k], output=direction == "output"
                )
                if problem:
                    raise ValidationFailed(
                        f"{where}: {direction} '{name}': {problem}", field=where
                    )
            mapping[k] = change[k]
    return updated
