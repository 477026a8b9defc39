"""Which parts of the platform one `runplatform` starts (`--roles`, `ROLES=` of `make run`).

One machine runs every role (the default); several machines split them, all
sharing one PostgreSQL and one Redis (README "Several machines").
"""

from __future__ import annotations

import os
import socket

ROLES = ("web", "worker", "scheduler", "sweeper", "pods")
ROLES_ENV = "PLATFORM_ROLES"
NODE_NAME_ENV = "PLATFORM_NODE_NAME"
UNKNOWN_ROLE = "Unknown role {role!r}: choose among {choices} (comma-separated)."
NO_ROLE = "No role given: choose among {choices} (comma-separated)."


class RolesError(ValueError):
    pass


def parse_roles(text: str | None) -> tuple[str, ...]:
    """The roles named in `text` (comma-separated), in canonical order; all of them when empty."""
    if text is None or not text.strip():
        return ROLES
    named = {part.strip() for part in text.split(",") if part.strip()}
    for role in sorted(named):
        if role not in ROLES:
            raise RolesError(UNKNOWN_ROLE.format(role=role, choices=", ".join(ROLES)))
    if not named:
        raise RolesError(NO_ROLE.format(choices=", ".join(ROLES)))
    return tuple(role for role in ROLES if role in named)


def own_roles() -> tuple[str, ...]:
    """The roles of the `runplatform` this process belongs to (it passes PLATFORM_ROLES down)."""
    try:
        return parse_roles(os.environ.get(ROLES_ENV))
    except RolesError:
        return ROLES


def node_name() -> str:
    """How this machine is named in /healthz: PLATFORM_NODE_NAME, else the host name."""
    return os.environ.get(NODE_NAME_ENV) or socket.gethostname()
