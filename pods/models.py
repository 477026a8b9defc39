"""Pods of low-latency deployments, and what happened to them (the deployment's log)."""

from __future__ import annotations

from django.db import models

from deployments.models import Deployment


class PodStatus(models.TextChoices):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"


class Pod(models.Model):
    """The one pod of a low-latency deployment, owned by the pod host that claimed it.

    `host` beats `heartbeat_at`; a pod whose host went silent is claimed by
    another pod host (row lock on the deployment, skip locked).
    """

    deployment = models.OneToOneField(
        Deployment, primary_key=True, on_delete=models.CASCADE, related_name="pod"
    )
    pod_id = models.CharField(max_length=100)
    host = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=PodStatus.choices, default=PodStatus.STARTING
    )
    pid = models.PositiveIntegerField(null=True, blank=True)
    rss_kib = models.PositiveBigIntegerField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField()


class PodLog(models.Model):
    """A line of a low-latency deployment's log: pod starts, restarts and why, import output."""

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="pod_logs"
    )
    pod_id = models.CharField(max_length=100)
    timestamp = models.DateTimeField()
    stream = models.CharField(max_length=6, default="stdout")
    message = models.TextField()

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [models.Index(fields=["deployment", "timestamp"])]
