"""A run's two ends in the ledger, in as few statements as the database allows, outside the ORM's query building.

- The claim: the conditional UPDATE Pending -> Running returns the row it
  claimed (RETURNING: PostgreSQL, SQLite 3.35+) with its inputs and outputs:
  on PostgreSQL in one statement (the UPDATE in a WITH, joined to them), on
  SQLite a SELECT follows; a pod host already holds the pipeline.
- The record: the conditional UPDATE Running -> final and the outputs' values;
  on PostgreSQL one statement (the outputs' UPDATE joined to the execution's
  in a WITH), on SQLite two in one transaction.

The ORM path these replace on the hot path (an UPDATE, the execution joined
to its pipeline, its inputs/outputs; an UPDATE, one per output) spent most
of a pod host's CPU per call building queries. Rows become model instances
through Django's own raw() mapping and values are prepared by the model's
own fields, so everything is read and written as the ORM does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Field
from django.db.models.options import Options
from django.utils import timezone

from executions.models import Execution, ExecutionIo, ExecutionStatus, IoDirection
from executions.services.staging import execution_to_run
from pipelines.models import Pipeline
from platform_site.clients.db_retry import db_retry
from platform_site.clients.sqlite_writer import sqlite_write

# A worker thread waits this long for the database to claim its message; past
# it the message is dropped and the sweeper re-sends the Pending row.
CLAIM_RETRY_S = 10.0

_EXECUTION = Execution._meta
_IO = ExecutionIo._meta
_PIPELINE = Pipeline._meta


@functools.cache
def _field(model_meta: Options[Any], name: str) -> Field[Any, Any]:
    field = model_meta.get_field(name)
    assert isinstance(field, Field)  # a column, not a reverse relation
    return field


def _quoted(field: Field[Any, Any]) -> str:
    assert field.column is not None
    return connection.ops.quote_name(field.column)


@functools.cache  # one vendor per process
def _column(model_meta: Options[Any], name: str) -> str:
    return _quoted(_field(model_meta, name))


def _param(
    model_meta: Options[Any], name: str, value: object, db: BaseDatabaseWrapper
) -> Any:
    return _field(model_meta, name).get_db_prep_value(value, db)


class _Rows:
    """Rows of a model's every column, read and written as the ORM does (its converters and preparations).

    Built once per database vendor: the columns, the statements' text and
    the converters never change, and working them out is most of what
    raw() and bulk_create() cost per row.
    """

    def __init__(self, model_meta: Options[Any]) -> None:
        self.model = model_meta.model
        self.fields = model_meta.concrete_fields
        self.names = [field.attname for field in self.fields]
        self.columns = ", ".join(_quoted(field) for field in self.fields)
        self.converters: list[tuple[Any, list[Any]]] = []
        for field in self.fields:
            column = field.get_col(model_meta.db_table)
            found = connection.ops.get_db_converters(column)
            found += column.get_db_converters(connection)
            self.converters.append((column, found))
        # Every column but an automatic key, which the database numbers.
        self.written = [
            f for f in self.fields if not (f.primary_key and f.auto_created)
        ]
        written = ", ".join(_quoted(f) for f in self.written)
        table = connection.ops.quote_name(model_meta.db_table)
        self.insert_head = f"INSERT INTO {table} ({written}) VALUES "
        self.insert_row = "(" + ", ".join("%s" for _ in self.written) + ")"

    def insert(self, objs: list[Any], db: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        """INSERT of `objs`, with its parameters, as bulk_create prepares them."""
        params = [
            field.get_db_prep_save(field.pre_save(obj, True), db)
            for obj in objs
            for field in self.written
        ]
        return self.insert_head + ", ".join(self.insert_row for _ in objs), params

    def instance(self, row: Sequence[Any], db: BaseDatabaseWrapper) -> Any:
        values = list(row)
        for index, (column, found) in enumerate(self.converters):
            for convert in found:
                values[index] = convert(values[index], column, db)
        return self.model.from_db(db.alias, self.names, values)


def _cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor of `db`; on PostgreSQL one that binds parameters in the server.

    Django's cursors quote every value into the statement's text, so each
    call is a new statement to parse and plan. Bound in the server, the
    ledger's few statements are prepared once per connection (psycopg
    prepares a statement it runs prepare_threshold times), and kept
    connections (database threads, pod hosts) skip both afterwards.
    """
    if db.vendor != "postgresql":
        return db.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        raw: Any = ServerBindingCursor(db.connection)  # type: ignore[call-arg]
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


@dataclass(frozen=True)
class _Statements:
    executions: _Rows
    io: _Rows
    pipelines: _Rows
    # The claim; on PostgreSQL it returns the execution's columns then its
    # inputs/outputs' (NULL when it has none), a row per input/output.
    claim: str
    # The same, each row ending with the pipeline's columns (PostgreSQL).
    claim_with_pipeline: str
    # The inputs/outputs, after a claim that did not bring them (SQLite).
    read_io: str


@functools.cache
def _statements(vendor: str) -> _Statements:
    executions, io, pipelines = _Rows(_EXECUTION), _Rows(_IO), _Rows(_PIPELINE)
    table = connection.ops.quote_name(_EXECUTION.db_table)
    io_table = connection.ops.quote_name(_IO.db_table)
    sets = ", ".join(
        f"{_column(_EXECUTION, name)} = %s"
        for name in ("status", "started_at", "heartbeat_at", "runner")
    )
    claim = (
        f"UPDATE {table} SET {sets} WHERE {_column(_EXECUTION, 'id')} = %s "
        f"AND {_column(_EXECUTION, 'status')} = %s RETURNING {executions.columns}"
    )
    claim_with_pipeline = claim
    order = f"{_column(_IO, 'direction')}, {_column(_IO, 'position')}"
    if vendor == "postgresql":

        def columns(alias: str, rows: _Rows) -> str:
            return ", ".join(f"{alias}.{_quoted(f)}" for f in rows.fields)

        joined = (
            f"WITH claimed AS ({claim}) SELECT claimed.*, {columns('io', io)}{{more}} "
            f"FROM claimed LEFT JOIN {io_table} io ON io.{_column(_IO, 'execution')} = "
            f"claimed.{_column(_EXECUTION, 'id')}{{join}} ORDER BY {order}"
        )
        claim = joined.format(more="", join="")
        claim_with_pipeline = joined.format(
            more=f", {columns('p', pipelines)}",
            join=f" LEFT JOIN {connection.ops.quote_name(_PIPELINE.db_table)} p "
            f"ON p.{_column(_PIPELINE, 'id')} = claimed.{_column(_EXECUTION, 'pipeline')}",
        )
    read_io = (
        f"SELECT {io.columns} FROM {io_table} "
        f"WHERE {_column(_IO, 'execution')} = %s ORDER BY {order}"
    )
    return _Statements(executions, io, pipelines, claim, claim_with_pipeline, read_io)


# Parameters of one INSERT: within SQLite's 32766 and PostgreSQL's 65535.
_PARAMS_AT_ONCE = 30_000

ExecutionRows = tuple[Execution, list[ExecutionIo]]


def insert_chunks(rows: Sequence[ExecutionRows]) -> list[list[ExecutionRows]]:
    """`rows` in the groups that one executions_insert each can hold."""
    ledger = _statements(connection.vendor)
    width, io_width = len(ledger.executions.written), len(ledger.io.written)
    chunks: list[list[ExecutionRows]] = []
    size = _PARAMS_AT_ONCE
    for execution, io in rows:
        needed = width + io_width * len(io)
        if size + needed > _PARAMS_AT_ONCE:
            chunks.append([])
            size = 0
        chunks[-1].append((execution, io))
        size += needed
    return chunks


def executions_insert(rows: Sequence[ExecutionRows]) -> None:
    """New executions and their inputs/outputs (one chunk of insert_chunks):
    one statement on PostgreSQL, two on SQLite.

    On SQLite the caller holds a transaction (executions_save).
    """
    db = connections[DEFAULT_DB_ALIAS]
    ledger = _statements(db.vendor)
    executions = [execution for execution, _ in rows]
    io = [row for _, rows_io in rows for row in rows_io]
    insert_executions, params = ledger.executions.insert(executions, db)
    with _cursor(db) as cursor:
        if not io:
            cursor.execute(insert_executions, params)
        elif db.vendor == "postgresql":
            insert_io, io_params = ledger.io.insert(io, db)
            cursor.execute(
                f"WITH executions AS ({insert_executions}) {insert_io}",
                params + io_params,
            )
        else:
            cursor.execute(insert_executions, params)
            cursor.execute(*ledger.io.insert(io, db))
    for execution in executions:
        execution._state.adding = False


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
    db = connections[DEFAULT_DB_ALIAS]
    ledger = _statements(db.vendor)
    joined = db.vendor == "postgresql"
    with_pipeline = joined and pipeline is None
    width, io_width = len(ledger.executions.fields), len(ledger.io.fields)

    def claim() -> Execution | None:
        claimed_at = _param(_EXECUTION, "started_at", now, db)  # and heartbeat_at
        params = [
            _param(_EXECUTION, "status", ExecutionStatus.RUNNING, db),
            claimed_at,
            claimed_at,
            _param(_EXECUTION, "runner", runner, db),
            _param(_EXECUTION, "id", pk, db),
            _param(_EXECUTION, "status", ExecutionStatus.PENDING, db),
        ]

        def update(writer: BaseDatabaseWrapper) -> list[tuple[Any, ...]]:
            with _cursor(writer) as cursor:
                cursor.execute(
                    ledger.claim_with_pipeline if with_pipeline else ledger.claim,
                    params,
                )
                rows: list[tuple[Any, ...]] = cursor.fetchall()
                return rows

        rows = sqlite_write(update)
        if not rows:
            return _claimed_by_a_lost_reply(pk, now)
        execution: Execution = ledger.executions.instance(rows[0][:width], db)
        if joined:  # its inputs/outputs (and pipeline) came joined to it
            found = [
                ledger.io.instance(row[width : width + io_width], db)
                for row in rows
                if row[width]
            ]
            if with_pipeline and execution.pipeline_id is not None:
                execution.pipeline = ledger.pipelines.instance(
                    rows[0][width + io_width :], db
                )
        else:
            with db.cursor() as cursor:
                cursor.execute(ledger.read_io, [_param(_EXECUTION, "id", pk, db)])
                found = [ledger.io.instance(row, db) for row in cursor.fetchall()]
        # As prefetch_related("io") leaves it.
        execution._prefetched_objects_cache = {"io": found}  # type: ignore[attr-defined]
        return execution

    execution = db_retry(
        claim, what=f"claiming execution {execution_pk}", for_s=CLAIM_RETRY_S
    )
    if (
        execution is not None
        and pipeline is not None
        and pipeline.pk == execution.pipeline_id
    ):
        execution.pipeline = pipeline
    return execution


def _claimed_by_a_lost_reply(pk: UUID, now: datetime) -> Execution | None:
    """Our own first UPDATE may have committed before its reply was lost (this started_at is ours alone)."""
    if not Execution.objects.filter(
        pk=pk, status=ExecutionStatus.RUNNING, started_at=now
    ).exists():
        return None
    return execution_to_run(pk)


def execution_result_write(
    *,
    execution: Execution,
    fields: dict[str, Any],
    outputs: dict[str, dict[str, Any]],
    db: BaseDatabaseWrapper | None = None,
) -> bool:
    """Running -> `fields` (a final status, its reason and times) and the outputs' values, if still ours.

    False, with nothing written, when the execution is no longer Running
    under this runner. On SQLite, called inside a transaction (execution_finish);
    `db`: the connection to write with (this thread's by default).
    """
    db = db or connections[DEFAULT_DB_ALIAS]
    table = connection.ops.quote_name(_EXECUTION.db_table)
    sets = ", ".join(f"{_column(_EXECUTION, name)} = %s" for name in fields)
    update = (
        f"UPDATE {table} SET {sets} WHERE {_column(_EXECUTION, 'id')} = %s "
        f"AND {_column(_EXECUTION, 'status')} = %s AND {_column(_EXECUTION, 'runner')} = %s"
    )
    params = [_param(_EXECUTION, name, value, db) for name, value in fields.items()]
    params += [
        _param(_EXECUTION, "id", execution.pk, db),
        _param(_EXECUTION, "status", ExecutionStatus.RUNNING, db),
        _param(_EXECUTION, "runner", execution.runner, db),
    ]
    with _cursor(db) as cursor:
        if outputs and db.vendor == "postgresql":
            # One statement: the outputs are written only if the execution's UPDATE matched.
            outputs_sql, outputs_params = _outputs_update(outputs, execution.pk, db)
            cursor.execute(
                f"WITH claimed AS ({update} RETURNING 1), "
                f"outputs AS ({outputs_sql} AND EXISTS (SELECT 1 FROM claimed)) "
                "SELECT count(*) FROM claimed",
                params + outputs_params,
            )
            row = cursor.fetchone()
            return row is not None and row[0] == 1
        cursor.execute(update, params)
        if cursor.rowcount != 1:
            return False
        if outputs:
            outputs_sql, outputs_params = _outputs_update(outputs, execution.pk, db)
            cursor.execute(outputs_sql, outputs_params)
    return True


def _outputs_update(
    outputs: dict[str, dict[str, Any]], execution_pk: object, db: BaseDatabaseWrapper
) -> tuple[str, list[Any]]:
    """One UPDATE of every output's value and file (a CASE on its name)."""
    table = connection.ops.quote_name(_IO.db_table)
    name = _column(_IO, "name")
    value_cases = " ".join(f"WHEN {name} = %s THEN %s" for _ in outputs)
    file_cases = " ".join(f"WHEN {name} = %s THEN %s" for _ in outputs)
    names = ", ".join("%s" for _ in outputs)
    sql = (
        f"UPDATE {table} SET {_column(_IO, 'value')} = CASE {value_cases} END, "
        f"{_column(_IO, 'file_path')} = CASE {file_cases} END "
        f"WHERE {_column(_IO, 'execution')} = %s AND {_column(_IO, 'direction')} = %s "
        f"AND {name} IN ({names})"
    )
    params: list[Any] = []
    for output_name, stored in outputs.items():
        params += [output_name, _param(_IO, "value", stored.get("value"), db)]
    for output_name, stored in outputs.items():
        params += [output_name, _param(_IO, "file_path", stored.get("file_path"), db)]
    params += [_param(_EXECUTION, "id", execution_pk, db), IoDirection.OUTPUT, *outputs]
    return sql, params
