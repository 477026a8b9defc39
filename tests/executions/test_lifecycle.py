from __future__ import annotations

from unittest import mock

from executions.models import Execution, ExecutionIo, ExecutionStatus, LogLine
from executions.services import (
    execution_claim,
    execution_delete,
    execution_finish,
    execution_wait,
)


def test_it_writes_a_pending_execution_with_its_inputs_and_outputs(
    make_execution, alice
):
    execution = make_execution(number1=9)
    assert execution.status == ExecutionStatus.PENDING
    assert execution.execution_id.startswith("adder-")
    assert execution.created_by == alice
    rows = {
        (r.direction, r.name): r
        for r in ExecutionIo.objects.filter(execution=execution)
    }
    assert rows[("input", "number1")].value == 9
    assert rows[("output", "total")].value is None
    assert rows[("output", "total")].mapping_type == "run"


def test_it_enqueues_once_committed(make_execution, django_capture_on_commit_callbacks):
    with (
        mock.patch("platform_site.celery.app.send_task") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        execution = make_execution()
    send.assert_called_once_with("executions.run", args=[str(execution.pk)])


def test_it_claims_only_once(make_execution):
    execution = make_execution()
    assert execution_claim(execution_pk=execution.pk) is True
    assert execution_claim(execution_pk=execution.pk) is False
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING
    assert execution.started_at is not None


def test_it_finishes_once(make_execution):
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    done = execution_finish(
        execution=execution,
        status=ExecutionStatus.SUCCEEDED,
        reason=None,
        outputs={"total": {"value": 3}},
    )
    again = execution_finish(
        execution=execution, status=ExecutionStatus.FAILED, reason="late"
    )
    execution.refresh_from_db()
    assert (done, again) == (True, False)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.io.get(name="total").value == 3


def test_it_returns_at_once_when_final(make_execution):
    execution = make_execution()
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.FAILED)
    execution.refresh_from_db()
    assert (
        execution_wait(execution=execution, timeout_s=30).status
        == ExecutionStatus.FAILED
    )


def test_it_deletes_rows_and_files(make_execution, django_capture_on_commit_callbacks):
    execution = make_execution()
    execution.work_dir.mkdir(parents=True)
    (execution.work_dir / "x").write_text("x")
    LogLine.objects.create(
        execution=execution,
        seq=1,
        timestamp=execution.created_at,
        stream="stdout",
        message="hi",
    )
    with django_capture_on_commit_callbacks(execute=True):
        execution_delete(execution=execution)
    assert not Execution.objects.filter(pk=execution.pk).exists()
    assert not LogLine.objects.exists()
    assert not execution.work_dir.exists()
