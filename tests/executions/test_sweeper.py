from __future__ import annotations

from datetime import timedelta
from unittest import mock

import time_machine
from django.utils import timezone

from executions.management.commands.run_sweeper import Command
from executions.models import Execution, ExecutionStatus
from executions.services import execution_claim


def test_it_reaps_a_running_execution_without_heartbeat(make_execution, settings):
    settings.HEARTBEAT_TIMEOUT_S = 30
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    with time_machine.travel(timezone.now() + timedelta(seconds=45)):
        found = Command().reap_step()
    execution.refresh_from_db()
    assert found is True
    assert execution.status == ExecutionStatus.ERROR
    assert execution.status_reason.startswith("Worker lost: no heartbeat for 4")


def test_it_reaps_one_that_never_heartbeated(make_execution, settings):
    settings.HEARTBEAT_TIMEOUT_S = 30
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    Execution.objects.filter(pk=execution.pk).update(heartbeat_at=None)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        Command().reap_step()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ERROR


def test_it_leaves_a_beating_execution_alone(make_execution, settings):
    settings.HEARTBEAT_TIMEOUT_S = 30
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        assert Command().reap_step() is False
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING


def test_it_requeues_an_old_pending_execution(make_execution):
    execution = make_execution()
    with (
        mock.patch("executions.tasks.execution_run.delay") as delay,
        time_machine.travel(timezone.now() + timedelta(seconds=40)),
    ):
        assert Command().requeue_step() is True
        assert Command().requeue_step() is False  # enqueued_at was bumped
    delay.assert_called_once_with(str(execution.pk))


def test_it_leaves_a_fresh_pending_execution_alone(make_execution):
    make_execution()
    with mock.patch("executions.tasks.execution_run.delay") as delay:
        assert Command().requeue_step() is False
    delay.assert_not_called()
