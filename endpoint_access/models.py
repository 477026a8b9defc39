from __future__ import annotations

import uuid

from django.db import models

from deployments.models import Deployment


class EndpointToken(models.Model):
    """A named extra token of an endpoint deployment; only its SHA-256 digest is kept.

    The deployment's own token (the one `get_deployment` returns) stays on the
    deployment; a rotation with a grace period leaves the old one here with an
    expiry.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="extra_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8)  # shown in lists
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "digest"], name="one_endpoint_token_per_digest"
            ),
        ]


class EndpointLimits(models.Model):
    """Per-deployment access settings and the main token's last use."""

    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, related_name="endpoint_limits"
    )
    calls_per_minute = models.PositiveIntegerField(null=True, blank=True)
    main_token_last_used_at = models.DateTimeField(null=True, blank=True)
