"""The declaration of a pipeline, validated once for the API, the UI and the tests.

`pipeline_spec_validate` raises ValidationFailed whose message starts with the
offending field (`inputs[1].data_type: ...`) and whose data names it, so the
SDK user and the form both learn what to fix.
"""

from __future__ import annotations

import math
import re
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic import model_validator as pydantic_model_validator

from pipelines.models import DATA_TYPES, NAME_PATTERN, NAME_RULE
from pipelines.sdk_multipart import to_bool
from platform_site.http.errors import ValidationFailed

# Names that would shadow a page of the UI (pipelines/new/).
RESERVED_PIPELINE_NAMES = ("new",)
IO_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,199}$")
IO_NAME_RULE = "letters, digits, underscores and dashes, starting with a letter or underscore, at most 200 characters"
UNSUPPORTED_CONFIG = {
    "dockerfile_path": "Dockerfile-based pipelines are not available on this platform: give function_path and function_name",
    "repository_url": "Git repositories are not available on this platform: pass container_config={'local_folder': ...}",
}
TEMPLATES_UNAVAILABLE = "Pipeline templates are not available on this platform"


def _relative_path(value: str, field: str) -> str:
    """A clean relative POSIX path inside the uploaded folder."""
    if "\x00" in value or "\\" in value:
        raise ValueError(f"{field} has a forbidden character")
    if value.startswith("/"):
        value = value.lstrip("/")  # the client strips it too when building the tar
    parts = [part for part in PurePosixPath(value).parts if part != "."]
    if not parts:
        raise ValueError(f"{field} must name a file")
    if ".." in parts:
        raise ValueError(f"{field} must stay inside the uploaded folder (no '..')")
    return "/".join(parts)


def _check_data_type(value: str) -> str:
    if value not in DATA_TYPES:
        raise ValueError(
            f"unknown data_type {value!r}; use one of {', '.join(DATA_TYPES)}"
        )
    return value


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    data_type: str
    is_required: bool = False
    default_value: Any = None
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not IO_NAME_PATTERN.match(value):
            raise ValueError(f"input name {value!r} must use {IO_NAME_RULE}")
        return value

    @field_validator("data_type")
    @classmethod
    def _data_type(cls, value: str) -> str:
        return _check_data_type(value)

    @field_validator("is_required", mode="before")
    @classmethod
    def _is_required(cls, value: Any) -> Any:
        if value is None or value == "":
            return False
        flag = to_bool(value)
        if flag is None:
            raise ValueError(f"is_required must be True or False, got {value!r}")
        return flag

    @pydantic_model_validator(mode="after")
    def _default_matches_type(self) -> InputSpec:
        self.default_value = check_default(self.default_value, self.data_type)
        return self


def check_default(value: Any, data_type: str) -> Any:
    """The default value if it suits data_type; ValueError naming the problem.

    Strings and json take any value: the client's own captured example sends a
    structure as the default of a string input.
    """
    if value is None:
        return None
    wrong = f"default_value {value!r} is not a valid {data_type}"
    if data_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(wrong)
        if not math.isfinite(value):
            raise ValueError(wrong)
    elif data_type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(wrong)
    elif data_type == "array":
        if not isinstance(value, list):
            raise ValueError(wrong)
    elif data_type == "file":
        raise ValueError("file inputs cannot have a default_value")
    return value


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    data_type: str
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not IO_NAME_PATTERN.match(value):
            raise ValueError(f"output name {value!r} must use {IO_NAME_RULE}")
        return value

    @field_validator("data_type")
    @classmethod
    def _data_type(cls, value: str) -> str:
        return _check_data_type(value)


class PipelineSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pipeline_name: str
    function_path: str
    function_name: str
    description: str | None = None
    inputs: list[InputSpec] = []
    outputs: list[OutputSpec] = []
    container_config: dict[str, Any] = {}

    @field_validator("pipeline_name")
    @classmethod
    def _pipeline_name(cls, value: str) -> str:
        if not re.match(NAME_PATTERN, value):
            raise ValueError(f"{value!r} is not a valid name: use {NAME_RULE}")
        if value in RESERVED_PIPELINE_NAMES:
            raise ValueError(f"{value!r} is reserved; choose another name")
        return value

    @field_validator("function_path")
    @classmethod
    def _function_path(cls, value: str) -> str:
        path = _relative_path(value, "function_path")
        if not path.endswith(".py"):
            raise ValueError("function_path must be a .py file")
        return path

    @field_validator("function_name")
    @classmethod
    def _function_name(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"{value!r} is not a Python function name")
        return value

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("container_config", mode="before")
    @classmethod
    def _config(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("container_config must be an object")
        config = {k: v for k, v in value.items() if k != "local_folder"}
        for key, message in UNSUPPORTED_CONFIG.items():
            if config.get(key):
                raise ValueError(f"{key}: {message}")
        requirements = config.get("requirements_path")
        if requirements is not None:
            if not isinstance(requirements, str):
                raise ValueError("requirements_path must be a path")
            config["requirements_path"] = _relative_path(
                requirements, "requirements_path"
            )
        folders = config.get("included_folders")
        if folders is not None and not (
            isinstance(folders, list) and all(isinstance(f, str) for f in folders)
        ):
            raise ValueError("included_folders must be a list of paths")
        return config

    @pydantic_model_validator(mode="after")
    def _unique_names(self) -> PipelineSpec:
        for field, items in (("inputs", self.inputs), ("outputs", self.outputs)):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise ValueError(f"{field}: duplicate name {item.name!r}")
                seen.add(item.name)
        return self


def _location(loc: tuple) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    field = _location(tuple(err.get("loc", ())))
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if err.get("type") == "missing":
        message = "this field is required"
    elif err.get("type") in ("string_type", "list_type", "dict_type", "bool_type"):
        message = f"{message} (got {err.get('input')!r})"
    if message.startswith(("inputs:", "outputs:")):
        field, _, message = message.partition(": ")
    for key in ("dockerfile_path", "repository_url"):
        if message.startswith(f"{key}: "):
            field, message = f"container_config.{key}", message[len(key) + 2 :]
    return field or "body", message


def pipeline_spec_validate(data: dict[str, Any]) -> PipelineSpec:
    """The validated declaration, or ValidationFailed naming the first bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be an object.")
    if data.get("pipeline_template_name"):
        raise ValidationFailed(
            f"{TEMPLATES_UNAVAILABLE}: create the pipeline from a function "
            "(function_path, function_name, container_config.local_folder).",
            data={"field": "pipeline_template_name"},
        )
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        field, message = _first_error(exc)
        raise ValidationFailed(f"{field}: {message}", data={"field": field}) from None
