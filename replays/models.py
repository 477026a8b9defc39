from __future__ import annotations

from django.db import models

from executions.models import Execution


class ExecutionReplay(models.Model):
    """Links a "Run again" execution to the one it repeats."""

    replay = models.OneToOneField(
        Execution, on_delete=models.CASCADE, related_name="replay_of"
    )
    original = models.ForeignKey(
        Execution,
        null=True,
        on_delete=models.SET_NULL,
        related_name="replays",
    )
    # Kept when the original is deleted, so the page can still name it.
    original_execution_id = models.CharField(max_length=100)
