"""Data store keys: an allow-list, because deny-lists of `..` get bypassed by encodings.

MLflow's storage-key traversal fixes were bypassed five times (`%2e%2e`,
backslashes, unicode dots...). A key here is ASCII segments of
`[A-Za-z0-9._-]` joined by `/`; anything else is refused before it gets
near the filesystem. Pure functions: no settings, no filesystem.
"""

from __future__ import annotations

import re
from typing import Any

MAX_KEY_LENGTH = 1024
MAX_SEGMENT_LENGTH = 255  # the filesystem's NAME_MAX: longer names fail with an OSError
SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
# Output paths may name these; they are replaced when the output is stored.
PLACEHOLDERS = {
    "{execution_id}": "execution-id",
    "{date}": "20000101",
    "{date_time}": "20000101_000000",
}

KEY_EMPTY = "it is empty"
KEY_TOO_LONG = f"it is longer than {MAX_KEY_LENGTH} characters"
KEY_SEGMENT_TOO_LONG = (
    f"each name between '/' must be at most {MAX_SEGMENT_LENGTH} characters"
)
KEY_ABSOLUTE = "it must not start with '/'"
KEY_EMPTY_SEGMENT = "it must not end with '/' or contain '//'"
KEY_DOT_SEGMENT = "segments '.' and '..' are not allowed"
KEY_BAD_CHARACTERS = (
    "only letters, digits, '.', '_', '-' and '/' between names are allowed"
)


def key_problem(path: object) -> str | None:
    """Why `path` is not a valid key; None when it is valid."""
    if not isinstance(path, str) or not path:
        return KEY_EMPTY
    if len(path) > MAX_KEY_LENGTH:
        return KEY_TOO_LONG
    if path.startswith("/"):
        return KEY_ABSOLUTE
    for segment in path.split("/"):
        if not segment:
            return KEY_EMPTY_SEGMENT
        # fullmatch, not `$`: `$` would accept a trailing newline.
        if not SEGMENT.fullmatch(segment):
            return KEY_BAD_CHARACTERS
        if segment in (".", ".."):
            return KEY_DOT_SEGMENT
        if len(segment) > MAX_SEGMENT_LENGTH:
            return KEY_SEGMENT_TOO_LONG
    return None


def describe(path: object, problem: str, *, field: str = "path_to_object") -> str:
    """One sentence naming the field and (safely quoted, shortened) offending value."""
    shown = repr(path if not isinstance(path, str) else path[:100])
    return f"Invalid {field} {shown}: {problem}."


def path_error(path: object, *, template: bool, field: str) -> str | None:
    """None when `path` is a valid key (a valid output template with template=True), else one sentence."""
    problem = template_problem(path) if template else key_problem(path)
    return None if problem is None else describe(path, problem, field=field)


def template_problem(path: object) -> str | None:
    """Like key_problem, with the output placeholders ({date}...) allowed."""
    if not isinstance(path, str):
        return KEY_EMPTY
    rendered = path
    for placeholder, sample in PLACEHOLDERS.items():
        rendered = rendered.replace(placeholder, sample)
    return key_problem(rendered)


def render_template(
    path_template: str, *, execution_id: str, date: str, date_time: str
) -> str:
    """Replace the output placeholders; plain replace, never str.format on user text."""
    return (
        path_template.replace("{execution_id}", execution_id)
        .replace("{date_time}", date_time)
        .replace("{date}", date)
    )


def datastore_path_problem(path: Any, *, output: bool) -> str | None:
    """The data store's own key rule; output paths may hold {execution_id}, {date}, {date_time}."""
    if not isinstance(path, str) or not path:
        return "datastore_path must be a non-empty string"
    return path_error(path, template=output, field="datastore_path")
