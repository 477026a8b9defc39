"""Platform environment variables: given to every execution and usable in input mappings."""

from __future__ import annotations

import re

from django.db import transaction

from executions.models import EnvironmentVariable
from platform_site.errors import NotFound, ValidationFailed

VARIABLE_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VARIABLE_NAME_RULE = "letters, digits and underscores, not starting with a digit"
MAX_NAME_LENGTH = 200


def variable_name_error(name: object) -> str | None:
    """None when `name` is a valid environment variable name, else the sentence to show."""
    if (
        not isinstance(name, str)
        or len(name) > MAX_NAME_LENGTH
        or not VARIABLE_NAME_PATTERN.match(name)
    ):
        return f"Invalid environment variable name '{name}': use {VARIABLE_NAME_RULE}."
    return None


def _as_text(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValidationFailed(
        f"Environment variable '{name}' must have a string or number value.",
        data={"name": name},
    )


def environment_variables_set(
    *, values: dict[str, object]
) -> list[EnvironmentVariable]:
    """Create or update several variables at once (all or nothing)."""
    if not isinstance(values, dict) or not values:
        raise ValidationFailed(
            "environment_variables must be a non-empty object of name: value pairs."
        )
    cleaned = {}
    for name, value in values.items():
        error = variable_name_error(name)
        if error:
            raise ValidationFailed(error, data={"name": name})
        cleaned[name] = _as_text(name, value)
    saved = []
    with transaction.atomic():
        for name, value in cleaned.items():
            variable, _ = EnvironmentVariable.objects.update_or_create(
                name=name, defaults={"value": value}
            )
            saved.append(variable)
    return saved


def environment_variable_delete(*, name: str) -> EnvironmentVariable:
    """Delete and return the variable; NotFound when there is none of that name."""
    with transaction.atomic():
        variable = (
            EnvironmentVariable.objects.select_for_update().filter(name=name).first()
        )
        if variable is None:
            raise NotFound(f"Environment variable '{name}' does not exist.")
        variable.delete()
    return variable
