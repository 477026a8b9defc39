"""Check a function's return value against the pipeline's declared outputs.

Runs inside the execution's process (any Python >= 3.8), standard library only.
"""

from __future__ import annotations

import json
import math
import numbers
import os


class OutputError(Exception):
    """The function returned something that does not match the declared outputs."""


def check_outputs(value: object, declared: list[dict]) -> dict:
    """Return the declared outputs from the function's return value; raise OutputError naming the first bad one."""
    if not declared:
        if value is None or isinstance(value, dict):
            return {}
        raise OutputError(
            f"The function must return a dict or None, got {_type_name(value)}"
        )
    if not isinstance(value, dict):
        names = ", ".join(f"'{output['name']}'" for output in declared)
        raise OutputError(
            f"The function must return a dict with the outputs {names}, got {_type_name(value)}"
        )
    outputs = {}
    for output in declared:
        name = output["name"]
        if name not in value:
            raise OutputError(f"Output '{name}' is missing from the returned dict")
        outputs[name] = _check_output(
            name, output.get("data_type") or "json", value[name]
        )
    return outputs


def _check_output(name: str, data_type: str, value: object) -> object:
    if data_type == "string":
        if not isinstance(value, str):
            raise OutputError(
                f"Output '{name}' must be a string, got {_type_name(value)}"
            )
        _check_no_nul(name, value)
        return value
    if data_type == "number":
        # numbers.Real also admits numpy scalars (np.int64 is no int subclass).
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise OutputError(
                f"Output '{name}' must be a number, got {_type_name(value)}"
            )
        if isinstance(value, numbers.Integral):
            return int(value)
        if not math.isfinite(value):
            raise OutputError(f"Output '{name}' must be a finite number, got {value!r}")
        return float(value)
    if data_type == "boolean":
        if not isinstance(value, bool):
            raise OutputError(
                f"Output '{name}' must be a boolean, got {_type_name(value)}"
            )
        return value
    if data_type == "array" and not isinstance(value, list):
        raise OutputError(
            f"Output '{name}' must be an array (list), got {_type_name(value)}"
        )
    if data_type == "file":
        return {"path": _check_file(name, value)}
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise OutputError(f"Output '{name}' must be JSON-serialisable: {exc}") from None
    _check_no_nul(name, value)
    return value


def _check_no_nul(name: str, value: object) -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000: say so instead of failing to store it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise OutputError(
                    f"Output '{name}' contains a NUL character (\\u0000), which cannot be stored"
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_file(name: str, value: object) -> str:
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        path = value["path"]
    elif isinstance(value, str) or (
        isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)
    ):
        path = os.fspath(value)
    else:
        raise OutputError(
            f"Output '{name}' must be a file ({{'path': ...}} or a path), got {_type_name(value)}"
        )
    path = os.path.abspath(path)  # relative paths are relative to the work dir
    if not os.path.isfile(path):
        raise OutputError(f"Output '{name}' must be an existing file, got '{path}'")
    return path


def _type_name(value: object) -> str:
    return type(value).__name__
