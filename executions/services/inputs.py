"""Check and coerce execution inputs against a pipeline's declared inputs, before anything runs.

Every problem is a ValidationFailed (400) whose message names the input and
says what was expected, and whose `data` carries {"input": name} so forms can
show it next to the right field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from datastore.keys import datastore_path_problem
from executions.models import EnvironmentVariable
from pipelines.io_rules import (
    EXPECTED,
    INPUT_SOURCES,
    OUTPUT_DESTINATIONS,
    MappingType,
    describe,
    one_key,
    parse_text,
    type_problem,
)
from platform_site.http.errors import ValidationFailed


@dataclass
class ResolvedInput:
    """One pipeline input with its checked value and where it came from."""

    name: str
    data_type: str
    mapping_type: str
    mapping_value: dict = field(default_factory=dict)
    value: Any = None
    file: UploadedFile | bytes | None = None


def _invalid(name: str, message: str, *, kind: str = "Input") -> ValidationFailed:
    return ValidationFailed(message, data={kind.lower(): name})


def value_type_error(
    *, name: str, data_type: str, value: Any, kind: str = "Input"
) -> str | None:
    """None when `value` (decoded JSON) fits `data_type`, else the sentence to show."""
    problem = type_problem(value, data_type)
    return f"{kind} '{name}' {problem}." if problem else None


def coerce_text(*, name: str, data_type: str, raw: str) -> Any:
    """Turn text (a form field, an environment variable) into a value of `data_type`."""
    try:
        return parse_text(raw, data_type)
    except ValueError as exc:
        raise _invalid(name, f"Input '{name}' {exc}.") from None


def _check(name: str, data_type: str, value: Any) -> Any:
    error = value_type_error(name=name, data_type=data_type, value=value)
    if error:
        raise _invalid(name, error)
    return value


def _source_key(entry: dict, *, name: str) -> str:
    key, problem = one_key(entry, INPUT_SOURCES, "source")
    if key is None:
        raise _invalid(name, f"Input mapping for '{name}' {problem}.")
    return key


def _entries_by_name(
    pipeline, entries: list[dict] | None, *, kind: str
) -> dict[str, dict]:
    """A run's mapping entries keyed by the pipeline input (or output) each names once."""
    side = kind.lower()
    field = f"pipeline_{side}_name"
    declared = pipeline.input if kind == "Input" else pipeline.output
    by_name: dict[str, dict] = {}
    for entry in entries or []:
        if not isinstance(entry, dict) or not isinstance(entry.get(field), str):
            raise ValidationFailed(f"{side}s_mapping: every entry needs a {field}.")
        name = entry[field]
        if declared(name) is None:
            raise _invalid(
                name,
                f"{side}s_mapping: pipeline '{pipeline.name}' has no {side} '{name}'.",
                kind=kind,
            )
        if name in by_name:
            raise _invalid(
                name, f"{side}s_mapping: {side} '{name}' is mapped twice.", kind=kind
            )
        by_name[name] = entry
    return by_name


def _from_given(
    *,
    declared: dict,
    given: dict,
    files: dict,
    mapping_type: str,
    mapping_value: dict,
    is_required: bool,
    default: Any,
) -> ResolvedInput | None:
    name, data_type = declared["name"], declared["data_type"]
    resolved = ResolvedInput(name, data_type, mapping_type, mapping_value)
    if data_type == "file":
        upload = files.get(name)
        if upload is None and given.get(name) is not None:
            raise _invalid(
                name, f"Input '{name}' must be a file, got {describe(given[name])}."
            )
        if upload is None:
            if is_required:
                raise _invalid(name, f"Input '{name}' is required: upload a file.")
            return resolved
        resolved.file = upload
        resolved.value = {"filename": getattr(upload, "name", None) or name}
        return resolved
    if name in files:
        raise _invalid(
            name,
            f"Input '{name}' is of type {data_type}: send it as a value, not a file.",
        )
    value = given.get(name)
    if value is None:
        if default is not None:
            resolved.value = _check(name, data_type, default)
            return resolved
        if is_required:
            raise _invalid(
                name,
                f"Input '{name}' is required: expected {EXPECTED.get(data_type, data_type)}.",
            )
        return resolved
    resolved.value = _check(name, data_type, value)
    return resolved


def _from_mapping(
    *, declared: dict, entry: dict, key: str, given: dict, files: dict
) -> ResolvedInput:
    name, data_type = declared["name"], declared["data_type"]
    mapping_type = INPUT_SOURCES[key]
    if key == "endpoint_input_name":
        value_keys = {
            k: entry[k]
            for k in ("endpoint_input_name", "is_required", "default_value")
            if k in entry
        }
        is_required = entry.get("is_required")
        return _from_given(
            declared=declared,
            given=given,
            files=files,
            mapping_type=mapping_type,
            mapping_value=value_keys,
            is_required=bool(
                declared.get("is_required") if is_required is None else is_required
            ),
            default=entry.get("default_value", declared.get("default_value")),
        )
    resolved = ResolvedInput(name, data_type, mapping_type, {key: entry[key]})
    if key == "is_null":
        resolved.mapping_value = {"is_null": True}
        return resolved
    if key == "constant_value":
        if data_type == "file":
            raise _invalid(
                name, f"Input '{name}' is a file: it cannot be mapped to a constant."
            )
        resolved.value = _check(name, data_type, entry[key])
        return resolved
    if key == "environment_variable_name":
        var_name = entry[key]
        if data_type == "file":
            raise _invalid(
                name,
                f"Input '{name}' is a file: it cannot come from an environment variable.",
            )
        variable = (
            EnvironmentVariable.objects.filter(name=var_name).first()
            if isinstance(var_name, str)
            else None
        )
        if variable is None:
            raise _invalid(
                name,
                f"Input '{name}' is mapped to environment variable '{var_name}', which does not exist.",
            )
        resolved.value = coerce_text(name=name, data_type=data_type, raw=variable.value)
        return resolved
    error = datastore_path_problem(entry[key], output=False)
    if error:
        raise _invalid(name, f"Input '{name}': {error}")
    resolved.value = {"path": entry[key]}
    return resolved


def input_values_resolve(
    *,
    pipeline,
    given: dict,
    files: dict,
    inputs_mapping: list[dict] | None,
    source: str,
) -> list[ResolvedInput]:
    """Check `given` values and `files` against the pipeline's inputs, applying mappings.

    `source` is the mapping type of unmapped inputs ("run" or "endpoint").
    Inputs that are absent, optional and without default resolve to value None.
    """
    if not isinstance(given, dict):
        raise ValidationFailed("json_inputs must be a JSON object keyed by input name.")
    declared_names = [i["name"] for i in pipeline.inputs]
    for name in [*given, *files]:
        if name not in declared_names:
            known = ", ".join(declared_names) or "no inputs"
            raise _invalid(
                name,
                f"Unknown input '{name}': pipeline '{pipeline.name}' declares {known}.",
            )
    mapping = _entries_by_name(pipeline, inputs_mapping, kind="Input")
    resolved: list[ResolvedInput] = []
    for declared in pipeline.inputs:
        name = declared["name"]
        entry = mapping.get(name)
        if entry is not None:
            key = _source_key(entry, name=name)
            if key != "endpoint_input_name" and (name in given or name in files):
                raise _invalid(
                    name,
                    f"Input '{name}' is mapped to a {INPUT_SOURCES[key]}: do not also send a value.",
                )
            resolved.append(
                _from_mapping(
                    declared=declared, entry=entry, key=key, given=given, files=files
                )
            )
            continue
        mapping_value = {"endpoint_input_name": name} if source == "endpoint" else {}
        resolved.append(
            _from_given(
                declared=declared,
                given=given,
                files=files,
                mapping_type=source,
                mapping_value=mapping_value,
                is_required=bool(declared.get("is_required")),
                default=declared.get("default_value"),
            )
        )
    return resolved


def input_values_problems(*, pipeline, given: dict, files: dict) -> dict[str, str]:
    """Every problem of a run's own values at once, by input name (the Run form shows them all).

    The same checks input_values_resolve makes, input by input, without
    stopping at the first.
    """
    problems: dict[str, str] = {}
    for declared in pipeline.inputs:
        try:
            _from_given(
                declared=declared,
                given=given,
                files=files,
                mapping_type=MappingType.RUN,
                mapping_value={},
                is_required=bool(declared.get("is_required")),
                default=declared.get("default_value"),
            )
        except ValidationFailed as exc:
            problems[declared["name"]] = exc.message
    return problems


def outputs_mapping_resolve(
    *, pipeline, outputs_mapping: list[dict] | None, source: str
) -> list[dict]:
    """One {name, data_type, mapping_type, mapping_value} per declared output, in order."""
    by_name: dict[str, dict] = {}
    entries = _entries_by_name(pipeline, outputs_mapping, kind="Output")
    for name, entry in entries.items():
        key, problem = one_key(entry, OUTPUT_DESTINATIONS, "destination")
        if key is None:
            raise _invalid(
                name, f"Output mapping for '{name}' {problem}.", kind="Output"
            )
        if key == "datastore_path":
            error = datastore_path_problem(entry["datastore_path"], output=True)
            if error:
                raise _invalid(name, f"Output '{name}': {error}", kind="Output")
        by_name[name] = {key: True if key == "is_null" else entry[key]}
    result = []
    for declared in pipeline.outputs:
        name = declared["name"]
        if name in by_name:
            key = next(iter(by_name[name]))
            mapping_type, mapping_value = OUTPUT_DESTINATIONS[key], by_name[name]
        else:
            mapping_type = source
            mapping_value = (
                {"endpoint_output_name": name} if source == "endpoint" else {}
            )
        result.append(
            {
                "name": name,
                "data_type": declared["data_type"],
                "mapping_type": mapping_type,
                "mapping_value": mapping_value,
            }
        )
    return result
