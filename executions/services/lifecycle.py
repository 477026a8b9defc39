"""An execution's life after its creation (creation.py): claimed Running, finished once, deleted.

PostgreSQL is the ledger. Every state change is a conditional UPDATE on the
current status, so a duplicate broker message, a late worker or the sweeper
can never move an execution out of a final state or run it twice.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from executions.files import execution_files_delete
from executions.models import (
    Execution,
    ExecutionStatus,
)
from executions.services.run_ledger import CLAIM_RETRY_S, execution_result_write
from platform_site.celery import app as celery_app
from platform_site.clients.db_retry import DATABASE_BLIPS, db_retry
from platform_site.clients.sqlite_writer import sqlite_write
from platform_site.http import notify
from platform_site.http.errors import NotFound

logger = logging.getLogger(__name__)

EXECUTION_RUN_TASK = "executions.run"  # executions/tasks.py
# Past this, the final announcement carries no result (every process receives it).
MAX_FINAL_MESSAGE_CHARS = 64 * 1024


def execution_channel(execution: Execution) -> str:
    return execution_pk_channel(execution.pk)


def execution_pk_channel(execution_pk: object) -> str:
    """Where an execution's changes are announced, known before its row is written."""
    return notify.channel_for("execution", execution_pk)


def final_message(
    *,
    status: str,
    reason: str | None,
    outputs: dict[str, dict[str, Any]] | None = None,
) -> str:
    """What a final status announces with its commit: a caller held on it answers without reading the row.

    Outputs by pipeline output name, {"value", "file": has a file}; too large
    a result announces only the change ("1") and the caller reads the row.
    """
    message = json.dumps(
        {
            "status": status,
            "reason": reason,
            "outputs": {
                name: {"value": o.get("value"), "file": bool(o.get("file_path"))}
                for name, o in (outputs or {}).items()
            },
        },
        separators=(",", ":"),
    )
    return message if len(message) <= MAX_FINAL_MESSAGE_CHARS else "1"


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

    fields = {
        "status": status,
        "status_reason": reason,
        "end_date": end_date,
        **(timeline or {}),
    }

    def write() -> bool:
        # One statement on PostgreSQL commits itself; SQLite's two share a
        # transaction with the other threads' writes waiting for their turn.
        return sqlite_write(
            lambda db: execution_result_write(
                execution=execution, fields=fields, outputs=outputs or {}, db=db
            )
        )

    if not db_retry(write, what=f"finishing {execution.execution_id}"):
        return False
    channel = execution_channel(execution)
    message = final_message(status=status, reason=reason, outputs=outputs)
    # Once committed: at once, or with the caller's transaction; after the
    # write's turn (sqlite_writer.py), which no Redis round trip holds.
    transaction.on_commit(lambda: notify.publish(channel, message))
    return True


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
        message = final_message(status=ExecutionStatus.ERROR, reason=reason)
        notify.publish(execution_channel(execution), message)
    return updated == 1


def execution_wait(*, execution: Execution, timeout_s: float) -> Execution:
    """Hold until the execution is final or `timeout_s` passes; return the fresh row.

    (The endpoint call holds in its own way: deployments/endpoints/hot_path.py.)
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
        notify.wait_until(execution_channel(execution), done, timeout_s=timeout_s)
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
