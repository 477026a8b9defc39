"""Platform environment variables: given to every execution and usable in input mappings."""

from __future__ import annotations

import re
import threading

from django.db import transaction

from executions.models import EnvironmentVariable
from platform_site.http import notify
from platform_site.http.errors import NotFound, ValidationFailed

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
        transaction.on_commit(_announce_change)
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
        transaction.on_commit(_announce_change)
    return variable


# -- what executions get ------------------------------------------------------
# Every execution starts with every variable. Processes that start many
# (worker, pod host) keep them and read them again only after a change was
# announced, so a call costs no query; the listener also wakes the watch when
# it reconnects to Redis, since a change may have been missed meanwhile.
CHANNEL_KIND = "environment-variables"
CHANGED_CHANNEL = notify.channel_for(CHANNEL_KIND, "changed")
_changed: threading.Event | None = None
_kept: dict[str, str] = {}
_kept_lock = threading.Lock()


def _announce_change() -> None:
    notify.publish(CHANGED_CHANNEL)


def _read() -> dict[str, str]:
    return dict(EnvironmentVariable.objects.values_list("name", "value"))


def environment_variables_keep() -> None:
    """From now on this process keeps the variables between announced changes."""
    global _changed
    with _kept_lock:
        if _changed is None:
            changed = notify.listener().watch(CHANGED_CHANNEL)
            changed.set()  # the first execution reads them
            _changed = changed


def environment_variables() -> dict[str, str]:
    """name -> value of every variable, as of now."""
    changed = _changed
    if changed is None:
        return _read()
    with _kept_lock:
        if changed.is_set():
            # Cleared before reading: a change committed meanwhile sets it again.
            changed.clear()
            try:
                _kept.clear()
                _kept.update(_read())
            except BaseException:
                changed.set()
                raise
        return dict(_kept)
