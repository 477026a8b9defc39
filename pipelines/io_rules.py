"""The rules of pipeline inputs and outputs: data types, values, mapping sources. Framework-free.

Deployment mappings, execution inputs (runs and endpoint calls), the Deploy
wizard's and the Run page's forms all ask here, so a value or a mapping one
face accepts, every face accepts. Each function returns a problem phrase
("must be a number, got string 'abc'") or None; callers put the name of the
input in front and raise their own error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from platform_site.http.bodies import MalformedJson, json_loads
from platform_site.http.units import boolean_word

EXPECTED = {
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "string": "a string",
    "array": "an array",
    "json": "any JSON value",
    "file": "a file",
}


class MappingType(StrEnum):
    """Where an execution's input came from or its output went (ExecutionIo.mapping_type)."""

    RUN = "run"  # given to run_pipeline or the Run page
    ENDPOINT = "endpoint"
    CONSTANT = "constant"
    ENVIRONMENT_VARIABLE = "environment_variable"
    DATASTORE = "datastore"
    IS_NULL = "is_null"


MAPPING_LABELS = {
    MappingType.RUN: "Run input",
    MappingType.ENDPOINT: "Endpoint value",
    MappingType.CONSTANT: "Constant",
    MappingType.ENVIRONMENT_VARIABLE: "Environment variable",
    MappingType.DATASTORE: "Data store file",
    MappingType.IS_NULL: "None (null)",
}
# Mapping key -> the mapping type executions record.
INPUT_SOURCES = {
    "endpoint_input_name": MappingType.ENDPOINT,
    "constant_value": MappingType.CONSTANT,
    "environment_variable_name": MappingType.ENVIRONMENT_VARIABLE,
    "datastore_path": MappingType.DATASTORE,
    "is_null": MappingType.IS_NULL,
}
OUTPUT_DESTINATIONS = {
    "endpoint_output_name": MappingType.ENDPOINT,
    "datastore_path": MappingType.DATASTORE,
    "is_null": MappingType.IS_NULL,
}
# Text opening like JSON is meant as JSON: "{bad json" is a typo, not a string.
JSON_OPENERS = ("{", "[", '"')


def fits_type(value: Any, data_type: str) -> bool:
    """Whether `value` (decoded JSON) is a valid value of a declared `data_type`."""
    return {
        # NaN and Infinity are not JSON: PostgreSQL's jsonb refuses to store them.
        "number": isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value),
        "boolean": isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "json": True,
        "file": False,
    }.get(data_type, False)


def describe(value: Any) -> str:
    """A value as a person reads it in an error: "string 'abc'", "number 3"."""
    if isinstance(value, str):
        return f"string '{value[:40]}'" + ("..." if len(value) > 40 else "")
    kind = {
        bool: "boolean",
        int: "number",
        float: "number",
        list: "array",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    shown = json.dumps(value, default=str)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} {shown}"


def type_problem(value: Any, data_type: str) -> str | None:
    """None when `value` (decoded JSON) fits `data_type`, else "must be X, got Y"."""
    if fits_type(value, data_type):
        return None
    expected = EXPECTED.get(data_type, f"of type {data_type}")
    return f"must be {expected}, got {describe(value)}"


def parse_text(raw: str, data_type: str) -> Any:
    """A value of `data_type` from text a person typed or an environment variable holds.

    ValueError carries the problem phrase ("must be a number, got string 'x'").
    """
    text = raw.strip()
    if data_type == "string":
        return raw
    if data_type == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(type_problem(raw, "number")) from None
        if not math.isfinite(number):
            raise ValueError(f"must be a finite number, got string '{raw[:40]}'")
        whole = number.is_integer() and "." not in text and "e" not in text.lower()
        return int(text) if whole else number
    if data_type == "boolean":
        value = boolean_word(text)
        if value is None:
            raise ValueError(type_problem(raw, "boolean"))
        return value
    try:
        value = json_loads(text, what="value")
    except MalformedJson:
        if data_type == "json" and not text.startswith(JSON_OPENERS):
            return raw  # a bare word is a perfectly good JSON string for a human
        if data_type == "json":
            raise ValueError(
                f"must be valid JSON, got '{text[:40]}', which opens like JSON but does not parse"
            ) from None
        raise ValueError(
            f"must be a JSON {data_type}, got text that is not JSON"
        ) from None
    problem = type_problem(value, data_type)
    if problem:
        raise ValueError(problem)
    return value


def one_key(
    entry: dict[str, Any], allowed: Mapping[str, str], noun: str
) -> tuple[str | None, str | None]:
    """(the one key of `allowed` in `entry`, None), or (None, the problem) when none or several are."""
    keys = [key for key in allowed if key in entry]
    if not keys:
        return None, f"needs one {noun}: " + ", ".join(allowed)
    if len(keys) > 1:
        return None, f"has more than one {noun} ({', '.join(keys)}); give exactly one"
    return keys[0], None
