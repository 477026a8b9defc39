from __future__ import annotations

from datetime import timedelta

from django.conf import settings as django_settings
from django.utils import timezone

from deployments.services.deployments import deployment_create
from deployments.services.retention import deployment_pin_set
from executions.management.commands.run_sweeper import Command
from executions.models import (
    Execution,
    ExecutionStatus,
    LogLine,
    MetricKind,
    PipelineMetric,
)
from executions.services.retention import executions_expire


def finished(make_execution, *, days_ago: float, **fields):
    execution = make_execution()
    Execution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.SUCCEEDED,
        created_at=timezone.now() - timedelta(days=days_ago),
        **fields,
    )
    execution.refresh_from_db()
    return execution


def test_it_keeps_everything_by_default(make_execution):
    finished(make_execution, days_ago=3650)
    assert executions_expire() == 0
    assert Execution.objects.count() == 1


def test_it_deletes_old_finished_executions_with_what_they_hold(
    make_execution, settings, django_capture_on_commit_callbacks
):
    settings.RETENTION_DAYS = 30
    old = finished(make_execution, days_ago=31)
    recent = finished(make_execution, days_ago=29)
    LogLine.objects.create(
        execution=old, seq=1, timestamp=timezone.now(), stream="stdout", message="x"
    )
    PipelineMetric.objects.create(
        execution=old, kind=MetricKind.SINGLE, name="loss", value=1
    )
    work_dir = django_settings.EXECUTIONS_DIR / str(old.pk)
    work_dir.mkdir(parents=True)
    (work_dir / "out.txt").write_text("x")

    with django_capture_on_commit_callbacks(execute=True):
        assert executions_expire() == 1

    assert list(Execution.objects.all()) == [recent]
    assert not LogLine.objects.exists() and not PipelineMetric.objects.exists()
    assert not work_dir.exists()


def test_it_never_deletes_a_running_one(make_execution, settings):
    settings.RETENTION_DAYS = 1
    execution = make_execution()
    Execution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.RUNNING, created_at=timezone.now() - timedelta(days=9)
    )
    assert executions_expire() == 0


def test_a_pinned_deployment_keeps_its_executions(make_execution, alice, settings):
    settings.RETENTION_DAYS = 1
    execution = finished(make_execution, days_ago=5)
    deployment = deployment_create(
        pipeline=execution.pipeline,
        name="kept",
        execution_rule="endpoint",
        inputs_mapping=None,
        outputs_mapping=None,
        created_by=alice,
    )
    Execution.objects.filter(pk=execution.pk).update(deployment=deployment)
    deployment_pin_set(deployment=deployment, pinned=True)
    assert executions_expire() == 0
    deployment_pin_set(deployment=deployment, pinned=False)
    assert executions_expire() == 1


def test_it_works_in_small_batches(make_execution, settings):
    settings.RETENTION_DAYS = 1
    for _ in range(3):
        finished(make_execution, days_ago=2)
    assert executions_expire(batch=2) == 2
    assert executions_expire(batch=2) == 1
    assert Execution.objects.count() == 0


def test_the_sweeper_runs_it_and_goes_on_while_batches_are_full(
    make_execution, settings, monkeypatch
):
    settings.RETENTION_DAYS = 1
    monkeypatch.setattr("executions.management.commands.run_sweeper.RETENTION_BATCH", 1)
    monkeypatch.setattr(
        "executions.management.commands.run_sweeper.executions_expire",
        lambda: executions_expire(batch=1),
    )
    for _ in range(2):
        finished(make_execution, days_ago=2)
    command = Command()
    assert command.retention_step() is True
    assert command.retention_step() is True
    assert command.retention_step() is False  # nothing left
    finished(make_execution, days_ago=2)
    assert command.retention_step() is False  # the next look is a minute away
    assert Execution.objects.count() == 1
