from __future__ import annotations

from django.db import models

from deployments.models import Deployment


class DeploymentPin(models.Model):
    """A deployment whose executions retention never deletes."""

    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, related_name="retention_pin"
    )
    pinned_at = models.DateTimeField(auto_now_add=True)
