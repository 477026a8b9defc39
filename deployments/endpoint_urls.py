"""Public endpoint routes (/endpoints/...), authenticated by EndpointToken."""

from __future__ import annotations

urlpatterns: list = []
