"""One input or output mapping of a deployment: which sources it may take, and its check (pure functions).

The rule book is the compatibility table of the product docs ("Run and serve your
pipelines"):

| source / destination | run | endpoint | periodic |
|---|---|---|---|
| constant (inputs, not file)          | yes | yes | yes |
| endpoint value or file               | -   | yes | -   |
| environment variable (inputs only)   | yes | yes | yes |
| data store file                      | yes | yes | yes |
| None / void (`is_null`)              | yes | yes | yes |

The Deploy wizard asks here entry by entry; mappings.py checks a whole set.
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


def mapping_type(mapping: dict, *, direction: str = "input") -> MappingType:
    """`endpoint`, `constant`, … for one resolved mapping dict."""
    table = INPUT_SOURCES if direction == "input" else OUTPUT_DESTINATIONS
    for key, kind in table.items():
        if key in mapping:
            return kind
    return MappingType.IS_NULL
