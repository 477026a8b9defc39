"""Pinning a deployment: retention (executions/services/retention.py) never deletes its executions."""

from __future__ import annotations

from django.utils import timezone

from deployments.models import Deployment


def deployment_pin_set(*, deployment: Deployment, pinned: bool) -> None:
    """Pin or unpin; pinning again keeps the first pin's time."""
    rows = Deployment.objects.filter(pk=deployment.pk)
    if pinned:
        rows.filter(executions_pinned_at__isnull=True).update(
            executions_pinned_at=timezone.now()
        )
    else:
        rows.update(executions_pinned_at=None)
    deployment.refresh_from_db(fields=["executions_pinned_at"])


def deployment_is_pinned(deployment: Deployment) -> bool:
    """Read from the database: the object in hand may predate a pin."""
    return Deployment.objects.filter(
        pk=deployment.pk, executions_pinned_at__isnull=False
    ).exists()
