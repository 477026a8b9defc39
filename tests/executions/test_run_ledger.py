"""The ledger's hot statements (run_ledger.py) against the ORM they replace: the same rows, read and written alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.models import Execution, ExecutionIo, ExecutionStatus
from executions.services import run_ledger
from executions.services.lifecycle import execution_claim, execution_finish
from executions.services.run_ledger import (
    execution_claim_to_run,
    execution_result_write,
    executions_insert,
    insert_chunks,
)
from executions.services.staging import execution_to_run

pytestmark = pytest.mark.django_db

SKIPPED = {"id", "execution_id", "created_at", "enqueued_at", "execution"}


# Values that quoting or adapting could get wrong.
ODD = {"number1": 1, "label": 'é \\ \' {x} "q"'}


def _columns(row) -> dict:
    return {
        f.attname: getattr(row, f.attname)
        for f in type(row)._meta.concrete_fields
        if f.attname not in SKIPPED and f.name not in SKIPPED
    }


def _stored(execution: Execution) -> tuple[dict, list[dict]]:
    fresh = Execution.objects.get(pk=execution.pk)
    io = ExecutionIo.objects.filter(execution=fresh).order_by("direction", "position")
    return _columns(fresh), [_columns(row) for row in io]


def test_one_insert_writes_what_bulk_create_writes(build_execution):
    by_orm, by_statement = build_execution(**ODD), build_execution(**ODD)
    Execution.objects.bulk_create([by_orm.execution])
    ExecutionIo.objects.bulk_create(by_orm.io)

    with CaptureQueriesContext(connection) as queries:
        executions_insert([(by_statement.execution, by_statement.io)])

    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    assert _stored(by_statement.execution) == _stored(by_orm.execution)
    assert Execution.objects.get(pk=by_statement.execution.pk).created_at is not None


def test_executions_that_came_together_are_one_insert(build_execution):
    by_orm = [build_execution(number1=n) for n in range(3)]
    by_statement = [build_execution(number1=n) for n in range(3)]
    Execution.objects.bulk_create([b.execution for b in by_orm])
    ExecutionIo.objects.bulk_create([row for b in by_orm for row in b.io])

    with CaptureQueriesContext(connection) as queries:
        executions_insert([(b.execution, b.io) for b in by_statement])

    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    for ours, theirs in zip(by_statement, by_orm, strict=True):
        assert _stored(ours.execution) == _stored(theirs.execution)


def test_inserts_are_cut_where_one_statement_would_hold_too_many_values(
    build_execution, monkeypatch
):
    built = [build_execution(number1=n) for n in range(5)]
    rows = [(b.execution, b.io) for b in built]
    one = len(Execution._meta.concrete_fields) + 4 * len(
        ExecutionIo._meta.concrete_fields
    )
    monkeypatch.setattr(run_ledger, "_PARAMS_AT_ONCE", 2 * one)

    chunks = insert_chunks(rows)

    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert [row for chunk in chunks for row in chunk] == rows
    for chunk in chunks:
        executions_insert(chunk)
    assert Execution.objects.filter(pk__in=[b.execution.pk for b in built]).count() == 5


def test_the_claim_loads_what_the_orm_loads(build_execution, pipeline):
    built = build_execution(**ODD)
    executions_insert([(built.execution, built.io)])

    with CaptureQueriesContext(connection) as queries:
        claimed = execution_claim_to_run(
            execution_pk=built.execution.pk, runner="host:1", pipeline=pipeline
        )

    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    loaded = execution_to_run(built.execution.pk)
    assert claimed.status == ExecutionStatus.RUNNING and claimed.runner == "host:1"
    assert _columns(claimed) == _columns(loaded)
    assert claimed.created_at == loaded.created_at
    assert [_columns(r) for r in claimed.io.all()] == [
        _columns(r) for r in loaded.io.all()
    ]
    assert claimed.pipeline is pipeline


def test_the_claim_of_an_execution_without_inputs_or_outputs(build_execution):
    built = build_execution(**ODD)
    executions_insert([(built.execution, [])])

    claimed = execution_claim_to_run(execution_pk=built.execution.pk, runner="host:1")

    assert claimed.status == ExecutionStatus.RUNNING
    assert list(claimed.io.all()) == []


def test_a_second_claim_gets_nothing(build_execution):
    built = build_execution(**ODD)
    executions_insert([(built.execution, built.io)])
    assert execution_claim_to_run(execution_pk=built.execution.pk, runner="a:1")
    assert execution_claim_to_run(execution_pk=built.execution.pk, runner="b:2") is None


def _finished_by_orm(execution, fields, outputs) -> None:
    Execution.objects.filter(pk=execution.pk).update(**fields)
    for name, stored in outputs.items():
        ExecutionIo.objects.filter(execution=execution, name=name).update(**stored)


def test_the_record_writes_what_the_orm_writes(build_execution):
    ours, theirs = build_execution(**ODD), build_execution(**ODD)
    for built in (ours, theirs):
        executions_insert([(built.execution, built.io)])
        execution_claim(execution_pk=built.execution.pk, runner="host:1")
    ended = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    fields = {
        "status": ExecutionStatus.SUCCEEDED,
        "status_reason": None,
        "end_date": ended,
        "function_started_at": ended,
    }
    outputs = {"total": {"value": {"b": [1, 2.5, None], "a": "ü"}, "file_path": None}}
    _finished_by_orm(theirs.execution, fields, outputs)
    ours.execution.runner = "host:1"

    assert execution_result_write(
        execution=ours.execution, fields=fields, outputs=outputs
    )

    mine, other = _stored(ours.execution), _stored(theirs.execution)
    for claimed_at in ("started_at", "heartbeat_at"):  # each claim's own time
        mine[0].pop(claimed_at), other[0].pop(claimed_at)
    assert mine == other


def test_the_record_of_a_runner_that_lost_it_writes_nothing(build_execution):
    built = build_execution(**ODD)
    executions_insert([(built.execution, built.io)])
    execution_claim(execution_pk=built.execution.pk, runner="new:2")
    built.execution.runner = "old:1"  # a frozen pod host waking up

    written = execution_finish(
        execution=built.execution,
        status=ExecutionStatus.SUCCEEDED,
        reason=None,
        outputs={"total": {"value": 3}},
    )

    assert written is False
    fresh = Execution.objects.get(pk=built.execution.pk)
    assert fresh.status == ExecutionStatus.RUNNING
    assert fresh.io.get(name="total").value is None


def test_a_finish_is_one_statement_on_postgresql(build_execution):
    built = build_execution(**ODD)
    executions_insert([(built.execution, built.io)])
    claimed = execution_claim_to_run(execution_pk=built.execution.pk, runner="h:1")
    with CaptureQueriesContext(connection) as queries:
        execution_finish(
            execution=claimed,
            status=ExecutionStatus.SUCCEEDED,
            reason=None,
            outputs={"total": {"value": 3}},
            timeline={"function_ended_at": timezone.now()},
        )
    statements = [q for q in queries if not q["sql"].startswith("SAVEPOINT")]
    if connection.vendor == "postgresql":
        assert len([q for q in statements if "UPDATE" in q["sql"]]) == 1
    assert Execution.objects.get(pk=claimed.pk).io.get(name="total").value == 3
