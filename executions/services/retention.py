"""Retention: finished executions older than PLATFORM_RETENTION_DAYS go, in small batches.

Off by default (0). An execution goes with its inputs, outputs, log lines and
metrics (rows that cascade) and its files; executions of a pinned deployment,
and any not yet final, stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from executions.files import execution_files_delete
from executions.models import FINAL_STATUSES, Execution

# Small batches keep each transaction (and its locks) short next to live traffic.
RETENTION_BATCH = 200


def retention_cutoff(*, now: datetime | None = None) -> datetime | None:
    """Executions created before this are deleted; None when retention is off."""
    if settings.RETENTION_DAYS <= 0:
        return None
    return (now or timezone.now()) - timedelta(days=settings.RETENTION_DAYS)


def executions_expire(
    *, now: datetime | None = None, batch: int = RETENTION_BATCH
) -> int:
    """Delete one batch of expired executions; returns how many went."""
    cutoff = retention_cutoff(now=now)
    if cutoff is None:
        return 0
    with transaction.atomic():
        # skip_locked: two sweepers take different rows, and rows a worker holds wait.
        pks = list(
            Execution.objects.filter(created_at__lt=cutoff, status__in=FINAL_STATUSES)
            # Deployment.executions_pinned_at (deployments come after executions).
            .exclude(deployment__executions_pinned_at__isnull=False)
            .order_by("created_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:batch]
        )
        if not pks:
            return 0
        Execution.objects.filter(pk__in=pks).delete()
        transaction.on_commit(lambda: execution_files_delete(pks))
    return len(pks)
