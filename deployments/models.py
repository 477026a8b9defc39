from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from pipelines.models import Pipeline, name_validator


class ExecutionRule(models.TextChoices):
    ENDPOINT = "endpoint"
    PERIODIC = "periodic"


class DeploymentMode(models.TextChoices):
    ELASTIC = "elastic"
    LOW_LATENCY = "low_latency"


class DeploymentStatus(models.TextChoices):
    CREATION_PENDING = "creation_pending"
    UP = "up"
    CREATION_FAILED = "creation_failed"
    DOWN_RETRYING = "down_retrying"
    STANDBY = "standby"
    DISABLED = "disabled"


class Deployment(models.Model):
    """A pipeline bound to an execution rule, a mode and input/output mappings.

    `inputs_mapping` holds one dict per pipeline input, fully resolved at creation:
    {pipeline_input_name, <exactly one source key>, [is_required, default_value]}
    where the source key is endpoint_input_name, constant_value,
    environment_variable_name, datastore_path or is_null. `outputs_mapping`
    likewise with endpoint_output_name, datastore_path or is_null.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=63, unique=True, validators=[name_validator])
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="deployments"
    )
    execution_rule = models.CharField(max_length=20, choices=ExecutionRule.choices)
    mode = models.CharField(
        max_length=20, choices=DeploymentMode.choices, default=DeploymentMode.ELASTIC
    )
    description = models.TextField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=DeploymentStatus.choices, default=DeploymentStatus.UP
    )
    is_enabled = models.BooleanField(default=True)

    # Endpoint rule. The token is encrypted with a server key (Fernet): the
    # official client reads it back from get_deployment, so a hash alone won't do.
    endpoint_url_path = models.CharField(
        max_length=63, unique=True, null=True, blank=True
    )
    endpoint_token_encrypted = models.TextField(null=True, blank=True)
    # Access: calls per minute (None: no limit); the main token's last use, to
    # the minute (named tokens, EndpointToken below, keep their own).
    calls_per_minute = models.PositiveIntegerField(null=True, blank=True)
    main_token_last_used_at = models.DateTimeField(null=True, blank=True)

    # Periodic rule. next_run_at is indexed so the scheduler takes due rows cheaply.
    schedule = models.CharField(max_length=200, null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # Execution settings.
    enable_parallel_executions = models.BooleanField(default=False)
    max_parallel_executions_per_pod = models.PositiveIntegerField(default=6)
    ram_request = models.CharField(max_length=20, null=True, blank=True)
    gpu_request = models.PositiveIntegerField(null=True, blank=True)
    execution_timeout_s = models.PositiveIntegerField(null=True, blank=True)

    inputs_mapping = models.JSONField(default=list)
    outputs_mapping = models.JSONField(default=list)

    # Set: retention never deletes this deployment's executions
    # (executions/services/retention.py), whatever their age.
    executions_pinned_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


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


# -- the pods of low-latency deployments, and what happened to them (the log) --


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
        # Named as when the table was the pods app's (it moved here with its rows).
        indexes = [
            models.Index(
                fields=["deployment", "timestamp"],
                name="pods_podlog_deploym_435587_idx",
            )
        ]
