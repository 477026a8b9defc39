"""Rebuild the nested structure the official client flattens into form fields.

The client's `multipartify` turns `{"inputs": [{"name": "a"}]}` into the field
`inputs[0][name]=a`: every leaf becomes text (`True`, `3.5`, `None` -> ""), and
empty lists and dicts vanish. `rebuild` undoes the nesting; `coerce_pipeline_form`
restores the types a pipeline declaration needs. Framework-free: takes pairs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from platform_site.http.units import boolean_word

INT_PATTERN = re.compile(r"^[+-]?\d+$")
KEY_PATTERN = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
SEGMENT_PATTERN = re.compile(r"\[([^\[\]]*)\]")
MAX_DEPTH = 32


class FormShapeError(ValueError):
    """A field name or value that cannot be turned back into a structure."""


def split_key(key: str) -> list[str]:
    """`inputs[0][name]` -> ["inputs", "0", "name"]."""
    match = KEY_PATTERN.match(key)
    if match is None:
        raise FormShapeError(f"Malformed field name {key!r}.")
    segments = [match.group(1), *SEGMENT_PATTERN.findall(match.group(2))]
    if len(segments) > MAX_DEPTH:
        raise FormShapeError(f"Field {key!r} is nested too deeply.")
    return segments


def _listify(node: Any) -> Any:
    """Dicts whose keys are exactly 0..n-1 become lists (in index order)."""
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    # isascii: "³".isdigit() is True, but int("³") fails.
    if converted and all(key.isascii() and key.isdigit() for key in converted):
        indices = sorted(int(key) for key in converted)
        if indices == list(range(len(indices))):
            return [converted[str(i)] for i in indices]
    return converted


def rebuild(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest bracketed form fields; integer segments become list indices.

    Field order does not matter. A key given twice keeps its last value.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        segments = split_key(key)
        node = root
        for depth, segment in enumerate(segments[:-1]):
            child = node.setdefault(segment, {})
            if not isinstance(child, dict):
                joined = "".join(f"[{s}]" for s in segments[1 : depth + 1])
                raise FormShapeError(
                    f"Field {segments[0]}{joined} is both a value and a structure."
                )
            node = child
        if isinstance(node.get(segments[-1]), dict):
            raise FormShapeError(f"Field {key} is both a value and a structure.")
        node[segments[-1]] = value
    return _listify(root)


def to_bool(value: Any) -> bool | None:
    """True/False as the client writes them (also true/false/1/0); None if neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():  # an empty field says nothing
        return boolean_word(value)
    return None


def to_number(value: Any) -> int | float | None:
    """`3` -> 3, `3.5` -> 3.5; None for anything else (nan and inf included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if INT_PATTERN.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _empty_leaves_to_none(node: Any) -> Any:
    """The client writes None as an empty string; inside structures we undo it."""
    if isinstance(node, dict):
        return {key: _empty_leaves_to_none(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_empty_leaves_to_none(value) for value in node]
    return None if node == "" else node


def coerce_default(value: Any, data_type: Any) -> Any:
    """A default value received as form text, typed by its input's data_type.

    Values that cannot be converted are returned unchanged, so that validation
    reports them with the input's name.
    """
    if value is None:
        return None
    if isinstance(value, dict | list):
        # Best effort: the structure is back, its leaves stay text.
        return _empty_leaves_to_none(value)
    if data_type == "number":
        number = to_number(value)
        return value if number is None else number
    if data_type == "boolean":
        flag = to_bool(value)
        return value if flag is None else flag
    return value


def coerce_pipeline_form(data: dict[str, Any]) -> dict[str, Any]:
    """Restore the types of a rebuilt create_pipeline form."""
    out = dict(data)
    config = out.get("container_config")
    if isinstance(config, dict):
        # An empty string is the client's explicit null (CREATION_PARAMETER_VALUE.NULL).
        out["container_config"] = {
            key: (None if value == "" else value) for key, value in config.items()
        }
    for key in ("description",):
        if out.get(key) == "":
            out[key] = None
    inputs = out.get("inputs")
    if isinstance(inputs, list):
        out["inputs"] = [_coerce_input(item) for item in inputs]
    outputs = out.get("outputs")
    if isinstance(outputs, list):
        out["outputs"] = [_coerce_output(item) for item in outputs]
    return out


def _coerce_input(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    item = dict(item)
    if "is_required" in item:
        flag = to_bool(item["is_required"])
        if flag is not None:
            item["is_required"] = flag
        elif item["is_required"] == "":
            item["is_required"] = None
    if item.get("description") == "":
        item["description"] = None
    if "default_value" in item:
        item["default_value"] = coerce_default(
            item["default_value"], item.get("data_type")
        )
    return item


def _coerce_output(item: Any) -> Any:
    if isinstance(item, dict) and item.get("description") == "":
        return {**item, "description": None}
    return item
