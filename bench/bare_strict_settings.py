"""The strict baseline: the bare view with no middleware at all, on the same server."""

from __future__ import annotations

from bench.bare_settings import *  # noqa: F403 - the same stack, one route, no middleware

MIDDLEWARE: list[str] = []
ENDPOINT_MIDDLEWARE: list[str] = []
