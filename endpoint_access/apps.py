from __future__ import annotations

from django.apps import AppConfig


class EndpointAccessConfig(AppConfig):
    name = "endpoint_access"
