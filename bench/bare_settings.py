"""The platform's settings with one URL: the bare view the endpoint bench compares against."""

from __future__ import annotations

from platform_site.settings import *  # noqa: F403 - the same stack, one route replaced

ROOT_URLCONF = "bench.bare_urls"
