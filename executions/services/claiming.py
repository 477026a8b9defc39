"""A runner's first step for every execution, in two statements: claim it, and read what it runs on.

The ORM path this replaces on the hot path (an UPDATE, then the execution
joined to its pipeline, then its inputs/outputs) spent most of a pod host's
CPU per call building queries. Here the conditional UPDATE returns the row
it claimed (RETURNING: PostgreSQL, SQLite 3.35+) and one SELECT reads the
inputs and outputs; the runner already holds the pipeline. Rows become
model instances through Django's own raw() mapping, so every field is read
as the ORM reads it, and the rest of a run (staging, recording) is unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from django.db import connection
from django.utils import timezone

from executions.models import Execution, ExecutionIo, ExecutionStatus
from executions.services.lifecycle import CLAIM_RETRY_S
from executions.services.staging import execution_to_run
from platform_site.clients.db_retry import db_retry

if TYPE_CHECKING:
    from pipelines.models import Pipeline

_EXECUTION = Execution._meta
_IO = ExecutionIo._meta


def _column(model_meta, name: str) -> str:
    return connection.ops.quote_name(model_meta.get_field(name).column)


def _param(model_meta, name: str, value: object) -> object:
    return model_meta.get_field(name).get_db_prep_value(value, connection)


def _claim_sql() -> str:
    table = connection.ops.quote_name(_EXECUTION.db_table)
    sets = ", ".join(
        f"{_column(_EXECUTION, name)} = %s"
        for name in ("status", "started_at", "heartbeat_at", "runner")
    )
    return (
        f"UPDATE {table} SET {sets} WHERE {_column(_EXECUTION, 'id')} = %s "
        f"AND {_column(_EXECUTION, 'status')} = %s RETURNING *"
    )


def _io_sql() -> str:
    table = connection.ops.quote_name(_IO.db_table)
    return (
        f"SELECT * FROM {table} WHERE {_column(_IO, 'execution')} = %s "
        f"ORDER BY {_column(_IO, 'direction')}, {_column(_IO, 'position')}"
    )


def execution_claim_to_run(
    *, execution_pk: UUID | str, runner: str, pipeline: Pipeline | None = None
) -> Execution | None:
    """Pending -> Running, held by `runner`, and the execution with its inputs/outputs.

    None when another delivery already took it (or it is gone). `pipeline`,
    when the runner holds the execution's pipeline, saves reading it.
    Retried through a database blip like execution_claim.
    """
    now = timezone.now()
    pk = UUID(str(execution_pk))

    def claim() -> Execution | None:
        params = [
            _param(_EXECUTION, "status", ExecutionStatus.RUNNING),
            _param(_EXECUTION, "started_at", now),
            _param(_EXECUTION, "heartbeat_at", now),
            _param(_EXECUTION, "runner", runner),
            _param(_EXECUTION, "id", pk),
            _param(_EXECUTION, "status", ExecutionStatus.PENDING),
        ]
        claimed = list(Execution.objects.raw(_claim_sql(), params))
        if claimed:
            return claimed[0]
        return _claimed_by_a_lost_reply(pk, now)

    execution = db_retry(
        claim, what=f"claiming execution {execution_pk}", for_s=CLAIM_RETRY_S
    )
    if execution is None:
        return None
    io = list(ExecutionIo.objects.raw(_io_sql(), [_param(_EXECUTION, "id", pk)]))
    execution._prefetched_objects_cache = {
        "io": io
    }  # as prefetch_related("io") leaves it
    if pipeline is not None and pipeline.pk == execution.pipeline_id:
        execution.pipeline = pipeline
    return execution


def _claimed_by_a_lost_reply(pk: UUID, now: datetime) -> Execution | None:
    """Our own first UPDATE may have committed before its reply was lost (this started_at is ours alone)."""
    if not Execution.objects.filter(
        pk=pk, status=ExecutionStatus.RUNNING, started_at=now
    ).exists():
        return None
    return execution_to_run(pk)
