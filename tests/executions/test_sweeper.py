from __future__ import annotations

from datetime import timedelta
from unittest import mock

import time_machine
from django.db import OperationalError
from django.utils import timezone

from executions.management.commands.run_sweeper import Command
from executions.models import Execution, ExecutionStatus
from executions.services import (
    broker_lost_messages,
    execution_claim,
    execution_release,
    execution_run,
)
from executions.services.sweeping import BROKER_EPOCH_KEY
from platform_site.clients.redis_client import redis_client


def test_it_reaps_a_running_execution_without_heartbeat(make_execution, settings):
    settings.HEARTBEAT_TIMEOUT_S = 30
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    with time_machine.travel(timezone.now() + timedelta(seconds=45)):
        found = Command().reap_step()
    execution.refresh_from_db()
    assert found is True
    assert execution.status == ExecutionStatus.ERROR
    assert execution.status_reason.startswith("No heartbeat for 4")


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
        mock.patch("platform_site.celery.app.send_task") as send,
        time_machine.travel(timezone.now() + timedelta(seconds=40)),
    ):
        assert Command().requeue_step() is True
        assert Command().requeue_step() is False  # enqueued_at was bumped
    send.assert_called_once_with("executions.run", args=[str(execution.pk)])


def test_it_leaves_a_fresh_pending_execution_alone(make_execution):
    broker_lost_messages(redis_client())  # the broker has kept its messages
    make_execution()
    with mock.patch("platform_site.celery.app.send_task") as send:
        assert Command().requeue_step() is False
    send.assert_not_called()


def test_it_resends_at_once_what_the_broker_lost(make_execution):
    execution = make_execution()
    redis_client().delete(BROKER_EPOCH_KEY)  # as after FLUSHALL or a bare restart
    with mock.patch("platform_site.celery.app.send_task") as send:
        assert Command().requeue_step() is True
        assert Command().requeue_step() is False  # one sweep re-sends, once
    send.assert_called_once_with("executions.run", args=[str(execution.pk)])


def test_it_resends_at_once_a_message_that_could_not_be_sent(
    make_execution, django_capture_on_commit_callbacks
):
    broker_lost_messages(redis_client())
    with (
        mock.patch("platform_site.celery.app.send_task", side_effect=ConnectionError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        execution = make_execution()
    execution.refresh_from_db()
    assert execution.enqueued_at is None
    with mock.patch("platform_site.celery.app.send_task") as send:
        assert Command().requeue_step() is True
    send.assert_called_once_with("executions.run", args=[str(execution.pk)])


def test_it_hands_back_a_claimed_execution_for_a_new_message(make_execution):
    broker_lost_messages(redis_client())
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    assert execution_release(execution_pk=execution.pk) is True
    execution.refresh_from_db()
    assert (execution.status, execution.started_at) == (ExecutionStatus.PENDING, None)
    with mock.patch("platform_site.celery.app.send_task") as send:
        assert Command().requeue_step() is True
    send.assert_called_once_with("executions.run", args=[str(execution.pk)])


def test_it_hands_back_a_run_the_database_cut_before_user_code(make_execution):
    execution = make_execution()
    pool = mock.Mock()
    with mock.patch(
        "executions.services.running.child_environment",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    ):
        execution_run(execution_pk=execution.pk, pool=pool)
    pool.run.assert_not_called()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PENDING
