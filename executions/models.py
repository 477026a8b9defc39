from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models

from pipelines.io_rules import MAPPING_LABELS, MappingType
from pipelines.models import Pipeline


class ExecutionStatus(models.TextChoices):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"  # the user code raised or returned something wrong
    ERROR = "Error"  # the platform failed (worker lost, pipeline not runnable)
    SKIPPED = "Skipped"


FINAL_STATUSES = (
    ExecutionStatus.SUCCEEDED,
    ExecutionStatus.FAILED,
    ExecutionStatus.ERROR,
    ExecutionStatus.SKIPPED,
)


class Trigger(models.TextChoices):
    RUN = "run"
    ENDPOINT = "endpoint"
    PERIODIC = "periodic"


class Execution(models.Model):
    """One run of a pipeline. PostgreSQL is the ledger; Redis only carries wake-ups.

    The row is written Pending in the request's transaction and enqueued on
    commit; a worker claims it with a conditional UPDATE Pending -> Running.
    Timing fields form the timeline shown on the execution page.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    execution_id = models.CharField(max_length=100, unique=True)  # public, URL-safe
    pipeline = models.ForeignKey(
        Pipeline, null=True, on_delete=models.SET_NULL, related_name="executions"
    )
    pipeline_name = models.CharField(max_length=63)
    deployment = models.ForeignKey(
        "deployments.Deployment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="executions",
    )
    deployment_name = models.CharField(max_length=63, null=True, blank=True)
    trigger = models.CharField(
        max_length=20, choices=Trigger.choices, default=Trigger.RUN
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The endpoint token an endpoint call came with, by name ("main token" for
    # the deployment's own): "Triggered by" names it rather than the deployment's owner.
    endpoint_token_name = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(
        max_length=20, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING
    )
    status_reason = models.TextField(
        null=True, blank=True
    )  # why it Failed / Errored, one readable line

    # Periodic ticks: (deployment, scheduled_for) is unique, so two schedulers
    # can never start the same tick twice.
    scheduled_for = models.DateTimeField(null=True, blank=True)

    # Limits in force for this execution.
    timeout_s = models.PositiveIntegerField()
    memory_limit_mib = models.PositiveIntegerField()

    # Timeline.
    created_at = models.DateTimeField(auto_now_add=True)  # queued
    enqueued_at = models.DateTimeField(
        null=True, blank=True
    )  # last message sent to the broker
    started_at = models.DateTimeField(null=True, blank=True)  # claimed by a worker
    process_started_at = models.DateTimeField(null=True, blank=True)
    function_started_at = models.DateTimeField(null=True, blank=True)
    function_ended_at = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(
        null=True, blank=True
    )  # outputs stored, final status set
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The process that claimed it (a worker or pod host, "<node>:<pid>"): when
    # that process dies, what it held is settled by one rule (sweeping.py).
    runner = models.CharField(max_length=200, blank=True, default="")
    # Earlier attempts that a dead pod, pod host or worker cut short:
    # [{"runner", "started_at", "ended"}], oldest first.
    attempts = models.JSONField(default=list, blank=True)

    # Resource usage of the child process.
    peak_memory_kib = models.PositiveBigIntegerField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    log_line_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "scheduled_for"], name="one_execution_per_tick"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["pipeline", "-created_at"]),
            models.Index(fields=["deployment", "-created_at"]),
            # A deployment's health figures (selectors.deployment_health) read
            # only these columns: an index-only scan of the window's rows.
            models.Index(
                fields=["deployment", "created_at"],
                include=["status", "end_date"],
                name="execution_health",
            ),
            # The home page: last hour's outcomes by deployment, last day's failures.
            models.Index(
                fields=["created_at"],
                include=["status", "deployment_name", "end_date"],
                name="execution_recent",
            ),
        ]

    def __str__(self) -> str:
        return self.execution_id

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def duration(self) -> timedelta | None:
        if self.end_date is None:
            return None
        return self.end_date - self.created_at

    @property
    def work_dir(self):
        return settings.EXECUTIONS_DIR / str(self.id)


class IoDirection(models.TextChoices):
    INPUT = "input"
    OUTPUT = "output"


class ExecutionIo(models.Model):
    """An input or output of an execution with its source or destination.

    mapping_type is run, endpoint, constant, environment_variable, datastore
    or is_null; mapping_value the dict of protocol keys for that source. Files
    live under the execution's folder in `file_path`; other values in `value`.
    """

    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="io"
    )
    direction = models.CharField(max_length=6, choices=IoDirection.choices)
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    data_type = models.CharField(max_length=10)
    mapping_type = models.CharField(
        max_length=30, choices=[(t.value, MAPPING_LABELS[t]) for t in MappingType]
    )
    mapping_value = models.JSONField(default=dict)
    value = models.JSONField(null=True, blank=True)
    file_path = models.CharField(max_length=500, null=True, blank=True)

    class Meta:
        ordering = ["direction", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "direction", "name"], name="one_io_per_name"
            ),
        ]


class LogStream(models.TextChoices):
    STDOUT = "stdout"
    STDERR = "stderr"


class LogLine(models.Model):
    """One line written by an execution. `seq` is the cursor for paging and live tails."""

    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="log_lines"
    )
    seq = models.PositiveIntegerField()
    timestamp = models.DateTimeField()
    stream = models.CharField(max_length=6, choices=LogStream.choices)
    message = models.TextField()

    class Meta:
        ordering = ["execution", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "seq"], name="one_log_line_per_seq"
            ),
        ]
        indexes = [models.Index(fields=["execution", "timestamp"])]


class EnvironmentVariable(models.Model):
    """A platform environment variable, visible to executions and input mappings."""

    name = models.CharField(max_length=200, unique=True)
    value = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RunnerKind(models.TextChoices):
    WORKER = "worker"
    POD_HOST = "pod host"


class RunnerLease(models.Model):
    """A process that runs executions (a worker, a pod host) says it is alive.

    Beaten about every second; one silent past PLATFORM_RUNNER_LEASE_S is
    taken for dead, and the executions it held are settled (sweeping.py).
    """

    name = models.CharField(max_length=200, primary_key=True)  # "<node>:<pid>"
    kind = models.CharField(max_length=20, choices=RunnerKind.choices)
    beat_at = models.DateTimeField(db_index=True)


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
        # Named as when the table was the metrics app's (it moved here with its rows).
        indexes = [
            models.Index(
                fields=["kind", "name", "created_at"],
                name="metrics_pip_kind_0b8456_idx",
            )
        ]


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
