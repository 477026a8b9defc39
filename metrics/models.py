from __future__ import annotations

from django.db import models

from executions.models import Execution


class MetricKind(models.TextChoices):
    SINGLE = "single"  # one value, replaced by each record_metric_value
    LIST = "list"  # values appended by each record_list_metric_values


class PipelineMetric(models.Model):
    """A metric an execution recorded through the SDK; deleted with its execution."""

    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="metrics"
    )
    kind = models.CharField(max_length=6, choices=MetricKind.choices)
    name = models.CharField(max_length=200)
    value = models.FloatField(null=True, blank=True)  # single
    values = models.JSONField(default=list, blank=True)  # list
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "kind", "name"], name="one_metric_per_name"
            ),
        ]
        indexes = [models.Index(fields=["kind", "name", "created_at"])]
