"""The strict baseline: the bare view with no middleware at all, on the same server, under Django's own handler."""

from __future__ import annotations

from bench.bare_settings import *  # noqa: F403 - the same stack, one route, no middleware

MIDDLEWARE: list[str] = []
ENDPOINT_MIDDLEWARE: list[str] = []
# Served by Django's stock ASGI handler (bench/bare_asgi.py), not the platform's.
WEB_ASGI_APPLICATION = "bench.bare_asgi:application"
