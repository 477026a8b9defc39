"""An execution's life: created Pending, claimed Running, finished once, deleted.

PostgreSQL is the ledger. Every state change is a conditional UPDATE on the
current status, so a duplicate broker message, a late worker or the sweeper
can never move an execution out of a final state or run it twice.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from executions.files import execution_file_store, execution_files_delete
from executions.models import (
    Execution,
    ExecutionIo,
    ExecutionStatus,
    IoDirection,
    Trigger,
)
from executions.routing import execution_routed
from executions.services.inputs import (
    ResolvedInput,
    input_values_resolve,
    outputs_mapping_resolve,
)
from pipelines.models import PipelineStatus
from platform_site.celery import app as celery_app
from platform_site.clients.db_retry import DATABASE_BLIPS, db_retry
from platform_site.http import notify
from platform_site.http.errors import NotFound, ValidationFailed
from platform_site.http.units import ram_request_mib

logger = logging.getLogger(__name__)

SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# A worker thread waits this long for the database to claim its message; past
# it the message is dropped and the sweeper re-sends the Pending row.
CLAIM_RETRY_S = 10.0
EXECUTION_RUN_TASK = "executions.run"  # executions/tasks.py


def execution_channel(execution: Execution) -> str:
    return notify.channel_for("execution", execution.pk)


def safe_filename(name: str | None, fallback: str) -> str:
    base = Path(str(name or "")).name
    cleaned = SAFE_FILENAME.sub("_", base).strip("._")
    return cleaned[:120] or fallback


def _store_input_file(execution: Execution, item: ResolvedInput) -> str:
    filename = safe_filename(getattr(item.file, "name", None), item.name)
    relative = f"inputs/{safe_filename(item.name, 'input')}/{filename}"
    source = (
        io.BytesIO(item.file) if isinstance(item.file, bytes | bytearray) else item.file
    )
    if hasattr(source, "seek"):
        source.seek(0)
    return execution_file_store(
        execution_pk=execution.pk, relative=relative, source=source
    )


def execution_enqueue(execution_pk: str) -> None:
    """Best effort: if the broker is away, the sweeper re-enqueues the Pending row."""
    try:
        # By name: the task module imports these services, not the reverse.
        celery_app.send_task(EXECUTION_RUN_TASK, args=[execution_pk])
    except Exception:  # any broker error: the row is durable, the sweeper retries
        logger.warning("Could not enqueue execution %s; the sweeper will", execution_pk)
        # Marked unsent, so the sweeper re-sends it as soon as the broker is back.
        Execution.objects.filter(
            pk=execution_pk, status=ExecutionStatus.PENDING
        ).update(enqueued_at=None)


def execution_create(**fields: Any) -> Execution:
    """Write a Pending execution (execution_build's arguments) and its
    inputs/outputs; enqueue it once committed."""
    built = execution_build(**fields)
    executions_save([built])
    return built.execution


@dataclass
class BuiltExecution:
    """A Pending execution and its input/output rows, not saved yet."""

    execution: Execution
    io: list[ExecutionIo]
    inputs: list[ResolvedInput]


def execution_build(
    *,
    pipeline,
    trigger: str,
    created_by,
    inputs: list[ResolvedInput],
    outputs_mapping: list[dict] | None,
    deployment=None,
    scheduled_for: datetime | None = None,
    timeout_s: int | None = None,
    memory_limit_mib: int | None = None,
    endpoint_token_name: str = "",
) -> BuiltExecution:
    """The rows of a new execution, checked, for executions_save."""
    source = "endpoint" if trigger == Trigger.ENDPOINT else "run"
    outputs = outputs_mapping_resolve(
        pipeline=pipeline, outputs_mapping=outputs_mapping, source=source
    )
    if timeout_s is None and deployment is not None:
        timeout_s = deployment.execution_timeout_s
    if memory_limit_mib is None and deployment is not None:
        memory_limit_mib = ram_request_mib(deployment.ram_request)
    execution = Execution(
        execution_id=f"{pipeline.name}-{secrets.token_hex(5)}",
        pipeline=pipeline,
        pipeline_name=pipeline.name,
        deployment=deployment,
        deployment_name=deployment.name if deployment is not None else None,
        trigger=trigger,
        created_by=created_by,
        # Set in the INSERT the call makes anyway: no extra query on the hot path.
        endpoint_token_name=endpoint_token_name,
        scheduled_for=scheduled_for,
        timeout_s=timeout_s or settings.EXECUTION_TIMEOUT_S,
        memory_limit_mib=memory_limit_mib or settings.EXECUTION_MEMORY_LIMIT_MIB,
        enqueued_at=timezone.now(),
    )
    rows = [
        ExecutionIo(
            execution=execution,
            direction=IoDirection.INPUT,
            position=position,
            name=item.name,
            data_type=item.data_type,
            mapping_type=item.mapping_type,
            mapping_value=item.mapping_value or {},
            value=item.value,
        )
        for position, item in enumerate(inputs)
    ]
    rows += [
        ExecutionIo(
            execution=execution,
            direction=IoDirection.OUTPUT,
            position=position,
            name=out["name"],
            data_type=out["data_type"],
            mapping_type=out["mapping_type"],
            mapping_value=out["mapping_value"],
        )
        for position, out in enumerate(outputs)
    ]
    return BuiltExecution(execution=execution, io=rows, inputs=inputs)


def executions_save(built: list[BuiltExecution]) -> None:
    """Insert executions with their rows (two statements for any number) and
    send each to its runner once committed.

    No savepoint inside a caller's transaction: nothing here is retried on
    its own, and the endpoint's hot path saves two round trips.
    """
    with transaction.atomic(savepoint=False):
        Execution.objects.bulk_create([item.execution for item in built])
        for item in built:
            for row, resolved in zip(item.io, item.inputs, strict=False):
                if resolved.file is not None:
                    row.file_path = _store_input_file(item.execution, resolved)
        ExecutionIo.objects.bulk_create([row for item in built for row in item.io])
        executions = [item.execution for item in built]
        transaction.on_commit(lambda: _send(executions))


def _send(executions: list[Execution]) -> None:
    for execution in executions:
        # Low-latency executions go straight to their pod host (executions/routing.py).
        if not execution_routed(execution):
            execution_enqueue(str(execution.pk))


def execution_create_for_run(
    *,
    pipeline,
    given: dict,
    files: dict,
    created_by,
    inputs_mapping: list[dict] | None = None,
    outputs_mapping: list[dict] | None = None,
) -> Execution:
    """An on-demand run (SDK or Run form): checked inputs, then a Pending execution."""
    if pipeline.status != PipelineStatus.READY:
        raise ValidationFailed(
            f"Pipeline '{pipeline.name}' is not ready (status {pipeline.status}): it cannot run yet."
        )
    inputs = input_values_resolve(
        pipeline=pipeline,
        given=given,
        files=files,
        inputs_mapping=inputs_mapping,
        source=Trigger.RUN,
    )
    return execution_create(
        pipeline=pipeline,
        trigger=Trigger.RUN,
        created_by=created_by,
        inputs=inputs,
        outputs_mapping=outputs_mapping,
    )


def execution_record_unrun(
    *, deployment, scheduled_for: datetime, status: str, reason: str
) -> Execution:
    """Record a periodic tick that did not run (Skipped, or Failed before it could start).

    Nothing is enqueued: the row exists so that a missed or refused tick is
    visible in the executions list instead of silently absent. The unique
    (deployment, scheduled_for) constraint still applies (IntegrityError).
    """
    now = timezone.now()
    return Execution.objects.create(
        execution_id=f"{deployment.pipeline.name}-{secrets.token_hex(5)}",
        pipeline=deployment.pipeline,
        pipeline_name=deployment.pipeline.name,
        deployment=deployment,
        deployment_name=deployment.name,
        trigger=Trigger.PERIODIC,
        created_by=deployment.created_by,
        status=status,
        status_reason=reason,
        scheduled_for=scheduled_for,
        timeout_s=deployment.execution_timeout_s or settings.EXECUTION_TIMEOUT_S,
        memory_limit_mib=ram_request_mib(deployment.ram_request)
        or settings.EXECUTION_MEMORY_LIMIT_MIB,
        end_date=now,
    )


def execution_claim(*, execution_pk, runner: str = "") -> bool:
    """Pending -> Running, held by `runner`. False when another delivery already took it (or it is gone)."""
    now = timezone.now()

    def claim() -> bool:
        if Execution.objects.filter(
            pk=execution_pk, status=ExecutionStatus.PENDING
        ).update(
            status=ExecutionStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            runner=runner,
        ):
            return True
        # A retry after a lost reply: our own first UPDATE may have committed
        # (this started_at, to the microsecond, is ours alone).
        return Execution.objects.filter(
            pk=execution_pk, status=ExecutionStatus.RUNNING, started_at=now
        ).exists()

    return db_retry(
        claim, what=f"claiming execution {execution_pk}", for_s=CLAIM_RETRY_S
    )


def execution_release(*, execution_pk) -> bool:
    """Running -> Pending, for a run the database interrupted before user code started.

    enqueued_at is cleared, so the sweeper sends it again at once (it is
    not the broker's copy that is lost, but that copy has been consumed).
    """
    return (
        db_retry(
            lambda: Execution.objects.filter(
                pk=execution_pk, status=ExecutionStatus.RUNNING
            ).update(
                status=ExecutionStatus.PENDING,
                started_at=None,
                heartbeat_at=None,
                enqueued_at=None,
                runner="",
            ),
            what=f"handing back execution {execution_pk}",
        )
        == 1
    )


def execution_heartbeat(*, execution_pk) -> bool:
    """False when the execution is no longer ours to run (reaped or deleted)."""
    return (
        Execution.objects.filter(
            pk=execution_pk, status=ExecutionStatus.RUNNING
        ).update(heartbeat_at=timezone.now())
        == 1
    )


def execution_finish(
    *,
    execution: Execution,
    status: str,
    reason: str | None,
    outputs: dict[str, dict[str, Any]] | None = None,
    timeline: dict[str, Any] | None = None,
) -> bool:
    """Running -> a final status, with outputs ({name: {value, file_path}}) and timings.

    Returns False (and writes nothing) when the execution was reaped, deleted
    or settled and taken by another runner meanwhile (a frozen pod host that
    wakes up never overwrites the retry's result). Retried through a database
    blip: the function ran, its result must not be lost.
    """
    end_date = timezone.now()

    def write() -> bool:
        with transaction.atomic():
            updated = Execution.objects.filter(
                pk=execution.pk,
                status=ExecutionStatus.RUNNING,
                runner=execution.runner,
            ).update(
                status=status,
                status_reason=reason,
                end_date=end_date,
                **(timeline or {}),
            )
            if updated != 1:
                return False
            for name, stored in (outputs or {}).items():
                ExecutionIo.objects.filter(
                    execution=execution, direction=IoDirection.OUTPUT, name=name
                ).update(value=stored.get("value"), file_path=stored.get("file_path"))
            channel = execution_channel(execution)
            transaction.on_commit(lambda: notify.publish(channel))
        return True

    return db_retry(write, what=f"finishing {execution.execution_id}")


def execution_error(*, execution: Execution, reason: str, from_status: str) -> bool:
    """Move to Error from `from_status` (a platform failure, never the user's code)."""
    end_date = timezone.now()
    updated = db_retry(
        lambda: Execution.objects.filter(pk=execution.pk, status=from_status).update(
            status=ExecutionStatus.ERROR, status_reason=reason, end_date=end_date
        ),
        what=f"recording the error of {execution.execution_id}",
    )
    if updated:
        notify.publish(execution_channel(execution))
    return updated == 1


def execution_watching(execution: Execution):
    """A context in which the execution's changes are watched (see execution_wait)."""
    return notify.watching(execution_channel(execution))


def execution_wait(
    *, execution: Execution, timeout_s: float, watched: threading.Event | None = None
) -> Execution:
    """Hold until the execution is final or `timeout_s` passes; return the fresh row.

    `watched` comes from execution_watching() entered before the execution
    was sent: the hold then reads the row only once woken.
    """
    pk = execution.pk
    last_seen: dict[str, Execution | None] = {}

    def done() -> bool:
        try:
            row = Execution.objects.filter(pk=pk).first()
        except DATABASE_BLIPS:
            return False  # the database may be back by the next look
        last_seen["row"] = row
        if row is None or row.is_final:
            return True  # the caller reads its outputs next, on this connection
        # A held request must not pin a pooled connection while it waits.
        if not connection.in_atomic_block:
            connection.close()
        return False

    if not execution.is_final:
        if watched is not None and not connection.in_atomic_block:
            connection.close()  # as done() does before each wait
        notify.wait_until(
            execution_channel(execution), done, timeout_s=timeout_s, watched=watched
        )
    if "row" in last_seen:
        fresh = last_seen["row"]
    else:
        fresh = Execution.objects.filter(pk=pk).first()
    if fresh is None:
        raise NotFound(f"Execution '{execution.execution_id}' was deleted.")
    return fresh


def execution_delete(*, execution: Execution) -> None:
    """Remove the row (inputs, outputs and log lines cascade) and its files."""
    pk = execution.pk
    with transaction.atomic():
        Execution.objects.filter(pk=pk).delete()
        transaction.on_commit(lambda: execution_files_delete([pk]))
    notify.publish(execution_channel(execution))
