"""Input/output mappings of deployments: validation and resolution (pure functions).

The rule book is the compatibility table of the product docs ("Run and serve your
pipelines"):

| source / destination | run | endpoint | periodic |
|---|---|---|---|
| constant (inputs, not file)          | yes | yes | yes |
| endpoint value or file               | -   | yes | -   |
| environment variable (inputs only)   | yes | yes | yes |
| data store file                      | yes | yes | yes |
| None / void (`is_null`)              | yes | yes | yes |

Endpoint rules auto-map every input/output left unmapped to an endpoint value of
the same name; periodic rules need every input and output mapped explicitly.
A resolved mapping holds one dict per pipeline input (pipeline order) with its
`pipeline_input_name` and exactly one source key (plus `is_required` /
`default_value` for endpoint inputs); outputs likewise.
"""

from __future__ import annotations

import re
from typing import Any

from datastore.keys import datastore_path_problem
from pipelines.io_rules import (
    INPUT_SOURCES,
    OUTPUT_DESTINATIONS,
    MappingType,
    one_key,
    type_problem,
)
from platform_site.http.errors import ValidationFailed

PERIODIC_UNMAPPED = (
    "Periodic deployments need every input and output mapped explicitly "
    "(constant, environment variable, data store or is_null); unmapped: {unmapped}."
)
ENDPOINT_ONLY_KEYS = ("is_required", "default_value")
REQUIRED_NOT_NULL = (
    "{where}: input '{name}' is required: map it to a value, not to null "
    "(None), or make it optional in the pipeline."
)
# Keys a client may echo back from a GET (deployment object); they carry no meaning.
ECHOED_KEYS = ("data_type", "description")

ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
# RELIABILITY X2: data store keys are allow-listed, never sanitised.
ENDPOINT_NAME_MAX = 200


def sources_for(execution_rule: str, data_type: str, direction: str) -> list[str]:
    """The mapping types (as shown in executions: `endpoint`, `constant`, …) allowed here."""
    kinds: list[str] = []
    if execution_rule == "endpoint":
        kinds.append(MappingType.ENDPOINT)
    elif execution_rule == "run":
        kinds.append(MappingType.RUN)
    if direction == "input" and data_type != "file":
        kinds += [MappingType.CONSTANT, MappingType.ENVIRONMENT_VARIABLE]
    return [*kinds, MappingType.DATASTORE, MappingType.IS_NULL]


def _single_source(
    entry: dict, allowed: dict[str, str], *, label: str, noun: str, field: str
) -> str:
    """The one key of `allowed` present in `entry`; 400 when none or several are.

    label: e.g. "inputs_mapping: input 'x'"; noun: "source" or "destination".
    """
    key, problem = one_key(entry, allowed, noun)
    if key is None:
        raise ValidationFailed(f"{label} {problem}.", field=field)
    return key


def _endpoint_name(
    value: Any, *, kind: str, name: str, execution_rule: str, where: str
) -> str:
    """The endpoint's name for a pipeline input or output; only endpoint deployments have one."""
    if execution_rule != "endpoint":
        raise ValidationFailed(
            f"{where}: {kind} '{name}' is mapped to an endpoint {kind}, which only "
            f"endpoint deployments have (this one is {execution_rule}).",
            field=where,
        )
    if not isinstance(value, str) or not value or len(value) > ENDPOINT_NAME_MAX:
        raise ValidationFailed(
            f"{where}: {kind} '{name}': endpoint_{kind}_name must be a non-empty string.",
            field=where,
        )
    return value


def mapping_input_check(
    entry: dict, spec: dict, execution_rule: str, where: str
) -> dict:
    """One input's mapping checked against its declared `spec`; ValidationFailed naming it.

    The API (through mappings_resolve) and the Deploy wizard's rows both call it.
    """
    name = spec["name"]
    data_type = spec.get("data_type")
    unknown = sorted(
        set(entry)
        - set(INPUT_SOURCES)
        - set(ENDPOINT_ONLY_KEYS)
        - set(ECHOED_KEYS)
        - {"pipeline_input_name"}
    )
    if unknown:
        if "endpoint_output_name" in unknown:
            raise ValidationFailed(
                f"{where}: input '{name}' cannot use endpoint_output_name.", field=where
            )
        raise ValidationFailed(
            f"{where}: input '{name}' has unknown key(s) {', '.join(unknown)}.",
            field=where,
        )
    key = _single_source(
        entry,
        INPUT_SOURCES,
        label=f"{where}: input '{name}'",
        noun="source",
        field=where,
    )
    value = entry[key]
    resolved: dict[str, Any] = {"pipeline_input_name": name}
    if key != "endpoint_input_name" and any(k in entry for k in ENDPOINT_ONLY_KEYS):
        raise ValidationFailed(
            f"{where}: input '{name}': is_required and default_value are only allowed "
            "with endpoint_input_name.",
            field=where,
        )
    if key == "endpoint_input_name":
        resolved["endpoint_input_name"] = _endpoint_name(
            value, kind="input", name=name, execution_rule=execution_rule, where=where
        )
        if "is_required" in entry:
            if not isinstance(entry["is_required"], bool):
                raise ValidationFailed(
                    f"{where}: input '{name}': is_required must be true or false.",
                    field=where,
                )
            resolved["is_required"] = entry["is_required"]
        if "default_value" in entry and entry["default_value"] is not None:
            problem = type_problem(entry["default_value"], data_type)
            if problem:
                raise ValidationFailed(
                    f"{where}: input '{name}': default_value {problem}.", field=where
                )
            resolved["default_value"] = entry["default_value"]
    elif key == "constant_value":
        if data_type == "file":
            raise ValidationFailed(
                f"{where}: input '{name}' is a file: constant values are not allowed for file inputs.",
                field=where,
            )
        problem = type_problem(value, data_type)
        if problem:
            raise ValidationFailed(
                f"{where}: input '{name}': constant_value {problem}.", field=where
            )
        resolved["constant_value"] = value
    elif key == "environment_variable_name":
        if data_type == "file":
            raise ValidationFailed(
                f"{where}: input '{name}' is a file: environment variables cannot feed file inputs.",
                field=where,
            )
        if not isinstance(value, str) or not ENV_NAME_PATTERN.match(value):
            raise ValidationFailed(
                f"{where}: input '{name}': environment_variable_name must be a variable name "
                "(letters, digits, '_', not starting with a digit).",
                field=where,
            )
        resolved["environment_variable_name"] = value
    elif key == "datastore_path":
        problem = datastore_path_problem(value, output=False)
        if problem:
            raise ValidationFailed(f"{where}: input '{name}': {problem}", field=where)
        resolved["datastore_path"] = value
    else:  # is_null
        if value is not True:
            raise ValidationFailed(
                f"{where}: input '{name}': is_null must be true.", field=where
            )
        # A required input fed None fails every execution: refuse it up front.
        if spec.get("is_required") is True:
            raise ValidationFailed(
                REQUIRED_NOT_NULL.format(where=where, name=name), field=where
            )
        resolved["is_null"] = True
    return resolved


def mapping_output_check(
    entry: dict, spec: dict, execution_rule: str, where: str
) -> dict:
    """One output's mapping checked against its declared `spec`; ValidationFailed naming it."""
    name = spec["name"]
    if "environment_variable_name" in entry:
        raise ValidationFailed(
            f"{where}: output '{name}': environment variables are for inputs only.",
            field=where,
        )
    if "constant_value" in entry:
        raise ValidationFailed(
            f"{where}: output '{name}': constant values are for inputs only.",
            field=where,
        )
    if "endpoint_input_name" in entry:
        raise ValidationFailed(
            f"{where}: output '{name}' cannot use endpoint_input_name; use endpoint_output_name.",
            field=where,
        )
    unknown = sorted(
        set(entry)
        - set(OUTPUT_DESTINATIONS)
        - set(ECHOED_KEYS)
        - {"pipeline_output_name"}
    )
    if unknown:
        raise ValidationFailed(
            f"{where}: output '{name}' has unknown key(s) {', '.join(unknown)}.",
            field=where,
        )
    key = _single_source(
        entry,
        OUTPUT_DESTINATIONS,
        label=f"{where}: output '{name}'",
        noun="destination",
        field=where,
    )
    value = entry[key]
    resolved: dict[str, Any] = {"pipeline_output_name": name}
    if key == "endpoint_output_name":
        resolved["endpoint_output_name"] = _endpoint_name(
            value, kind="output", name=name, execution_rule=execution_rule, where=where
        )
    elif key == "datastore_path":
        problem = datastore_path_problem(value, output=True)
        if problem:
            raise ValidationFailed(f"{where}: output '{name}': {problem}", field=where)
        resolved["datastore_path"] = value
    else:
        if value is not True:
            raise ValidationFailed(
                f"{where}: output '{name}': is_null must be true.", field=where
            )
        resolved["is_null"] = True
    return resolved


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


def mapping_type(mapping: dict, *, direction: str = "input") -> MappingType:
    """`endpoint`, `constant`, … for one resolved mapping dict."""
    table = INPUT_SOURCES if direction == "input" else OUTPUT_DESTINATIONS
    for key, kind in table.items():
        if key in mapping:
            return kind
    return MappingType.IS_NULL


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
