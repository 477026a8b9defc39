"""A new execution: its rows written Pending (one, or a batch for the scheduler), then sent to its runner.

The rows are committed before anything runs: an execution that was accepted
is in the ledger even if the broker or a pod host is away (the sweeper and
the pods' scan of Pending rows send it later). A periodic tick that could not
run is recorded too, already final.
"""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from executions.files import execution_file_store, safe_filename
from executions.models import Execution, ExecutionIo, IoDirection, Trigger
from executions.routing import executions_routed
from executions.services.inputs import (
    ResolvedInput,
    input_values_resolve,
    outputs_mapping_resolve,
)
from executions.services.lifecycle import execution_enqueue
from executions.services.run_ledger import executions_insert, insert_chunks
from pipelines.models import PipelineStatus
from platform_site.clients.db_retry import DATABASE_BLIPS
from platform_site.clients.sqlite_writer import sqlite_write_turn
from platform_site.http.errors import ValidationFailed
from platform_site.http.units import ram_request_mib

# Past this many executions at once, one INSERT of them all with their
# inputs/outputs was slower than bulk_create's two (bench_scheduler_batch.py).
FEW = 32


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
    execution_pk: uuid.UUID | None = None,
) -> BuiltExecution:
    """The rows of a new execution, checked, for executions_save."""
    source = "endpoint" if trigger == Trigger.ENDPOINT else "run"
    outputs = outputs_mapping_resolve(
        pipeline=pipeline, outputs_mapping=outputs_mapping, source=source
    )
    execution = _execution_row(
        pipeline=pipeline,
        deployment=deployment,
        trigger=trigger,
        created_by=created_by,
        # Set in the INSERT the call makes anyway: no extra query on the hot path.
        endpoint_token_name=endpoint_token_name,
        # Chosen by a caller that watches the execution before it exists (the endpoint call).
        id=execution_pk or uuid.uuid4(),
        scheduled_for=scheduled_for,
        timeout_s=timeout_s,
        memory_limit_mib=memory_limit_mib,
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
    """Insert executions with their rows and send them to their runners once committed.

    Up to FEW executions (a call, calls written together): one statement on
    PostgreSQL, outside any transaction of its own, two on SQLite in one
    (run_ledger.executions_insert); more (a scheduler's batch): Django's
    bulk_create, two statements. Input files are stored first: a row never
    names a file that is not there yet. No savepoint inside a caller's
    transaction: nothing here is retried on its own.
    """
    for item in built:
        for row, resolved in zip(item.io, item.inputs, strict=False):
            if resolved.file is not None:
                row.file_path = _store_input_file(item.execution, resolved)
    executions = [item.execution for item in built]
    if len(built) > FEW:  # a scheduler's batch
        with sqlite_write_turn(connection), transaction.atomic(savepoint=False):
            Execution.objects.bulk_create(executions)
            ExecutionIo.objects.bulk_create([row for item in built for row in item.io])
    else:
        _insert_few(built)
    # Committed (or with the caller's transaction), after the write's turn.
    transaction.on_commit(lambda: _send(executions))


def _insert_few(built: list[BuiltExecution]) -> None:
    chunks = insert_chunks([(item.execution, item.io) for item in built])
    if len(chunks) == 1 and connection.vendor == "postgresql":
        # One statement commits itself (or the caller's transaction does).
        executions_insert(chunks[0])
        return
    with sqlite_write_turn(connection), transaction.atomic(savepoint=False):
        for chunk in chunks:
            executions_insert(chunk)


def executions_save_each(built: list[BuiltExecution]) -> list[Exception | None]:
    """executions_save of calls that came together: one write for all, and
    when it fails, one each, so that a bad one fails only its own caller.

    A database blip fails them all (the connection is in doubt: no retry here).
    """
    try:
        _save_undoable(built)
        return [None] * len(built)
    except DATABASE_BLIPS:
        raise
    except Exception as exc:
        if len(built) == 1:
            return [exc]
    failures: list[Exception | None] = []
    for item in built:
        try:
            _save_undoable([item])
            failures.append(None)
        except DATABASE_BLIPS:
            raise
        except Exception as exc:
            failures.append(exc)
    return failures


def _save_undoable(built: list[BuiltExecution]) -> None:
    # Inside a caller's transaction (in-process tests), a savepoint: a
    # failed write must leave it usable for the next attempt.
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        executions_save(built)


def executions_build_and_save(
    builds: list[Callable[[], BuiltExecution]],
) -> list[Execution | Exception]:
    """The executions of calls that came together (write_batches.WriteBatches):
    each built and checked on its own, all saved at once (executions_save_each).

    Each call's execution, or the exception that failed it alone.
    """
    results: list[Execution | Exception] = []
    built: list[BuiltExecution] = []
    for build in builds:
        try:
            item = build()
        except DATABASE_BLIPS:
            raise
        except Exception as exc:
            results.append(exc)
            continue
        built.append(item)
        results.append(item.execution)
    failures = iter(executions_save_each(built) if built else [])
    for index, result in enumerate(results):
        if isinstance(result, Execution):  # built: its save's outcome, in order
            failure = next(failures)
            if failure is not None:
                results[index] = failure
    return results


def _send(executions: list[Execution]) -> None:
    # Low-latency executions go straight to their pod host (executions/routing.py).
    for execution in executions_routed(executions):
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
    execution = _execution_row(
        pipeline=deployment.pipeline,
        deployment=deployment,
        trigger=Trigger.PERIODIC,
        created_by=deployment.created_by,
        status=status,
        status_reason=reason,
        scheduled_for=scheduled_for,
        end_date=timezone.now(),
    )
    execution.save(force_insert=True)
    return execution


def _execution_row(
    *,
    pipeline,
    deployment,
    trigger: str,
    timeout_s: int | None = None,
    memory_limit_mib: int | None = None,
    **fields: Any,
) -> Execution:
    """A new Execution (unsaved) with its public id, names and limits: the deployment's, else the platform's."""
    if timeout_s is None and deployment is not None:
        timeout_s = deployment.execution_timeout_s
    if memory_limit_mib is None and deployment is not None:
        memory_limit_mib = ram_request_mib(deployment.ram_request)
    return Execution(
        execution_id=f"{pipeline.name}-{secrets.token_hex(5)}",
        pipeline=pipeline,
        pipeline_name=pipeline.name,
        deployment=deployment,
        deployment_name=deployment.name if deployment is not None else None,
        trigger=trigger,
        timeout_s=timeout_s or settings.EXECUTION_TIMEOUT_S,
        memory_limit_mib=memory_limit_mib or settings.EXECUTION_MEMORY_LIMIT_MIB,
        **fields,
    )


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
