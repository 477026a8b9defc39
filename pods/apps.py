from __future__ import annotations

from django.apps import AppConfig


class PodsConfig(AppConfig):
    name = "pods"
