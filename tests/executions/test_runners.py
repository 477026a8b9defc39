"""Runner leases and the one rule for what a dead worker or pod host held."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from deployments.models import Deployment
from deployments.pods.services import pod_queue_key
from deployments.services.deployment_triggers import deployment_trigger
from deployments.services.deployments import deployment_create
from executions.management.commands.run_sweeper import Command
from executions.models import Execution, ExecutionStatus, RunnerKind, RunnerLease
from executions.services import execution_claim, execution_finish
from executions.services.runners import (
    runner_beat,
    runner_name,
    runner_settle,
    runners_settle_silent,
)
from pipelines.models import Pipeline, PipelineStatus
from platform_site.clients.redis_client import redis_client


@pytest.fixture
def adder(db) -> Pipeline:
    return Pipeline.objects.create(
        name="ll-adder",
        function_path="main.py",
        function_name="add",
        status=PipelineStatus.READY,
        inputs=[{"name": "a", "data_type": "number", "is_required": True}],
        outputs=[{"name": "total", "data_type": "number"}],
    )


def low_latency(adder, alice, name: str, *, parallel: bool) -> Deployment:
    return deployment_create(
        pipeline=adder,
        name=name,
        execution_rule="endpoint",
        mode="low_latency",
        ram_request="512MiB",
        enable_parallel_executions=parallel,
        created_by=alice,
    )


def running_on(runner: str, deployment: Deployment, alice) -> Execution:
    execution = deployment_trigger(
        deployment=deployment, values={"a": 1}, files={}, created_by=alice
    )
    assert execution_claim(execution_pk=execution.pk, runner=runner)
    return Execution.objects.get(pk=execution.pk)


def test_a_beat_writes_the_lease_then_refreshes_it(db):
    runner_beat(name="n1:1", kind=RunnerKind.WORKER)
    first = RunnerLease.objects.get(name="n1:1").beat_at
    runner_beat(name="n1:1", kind=RunnerKind.WORKER)

    assert RunnerLease.objects.get(name="n1:1").beat_at > first
    assert runner_name(42).endswith(":42")


def test_a_dead_runners_queue_mode_execution_runs_once_more_first(adder, alice):
    queue = low_latency(adder, alice, "queue", parallel=False)
    held = running_on("host-a:1", queue, alice)
    redis_client().delete(pod_queue_key(queue.pk))
    redis_client().lpush(pod_queue_key(queue.pk), "later")

    assert runner_settle(name="host-a:1", kind=RunnerKind.POD_HOST) == 1

    held.refresh_from_db()
    assert held.status == ExecutionStatus.PENDING
    assert held.runner == ""
    assert held.attempts[0]["runner"] == "host-a:1"
    assert held.attempts[0]["ended"] == "its pod host died"
    # The pod host pops from the right: the retry goes before "later".
    assert redis_client().rpop(pod_queue_key(queue.pk)).decode() == str(held.pk)


def test_a_second_death_ends_it_error(adder, alice):
    queue = low_latency(adder, alice, "queue", parallel=False)
    held = running_on("host-a:1", queue, alice)
    runner_settle(name="host-a:1", kind=RunnerKind.POD_HOST)
    assert execution_claim(execution_pk=held.pk, runner="host-b:2")

    runner_settle(name="host-b:2", kind=RunnerKind.POD_HOST)

    held.refresh_from_db()
    assert held.status == ExecutionStatus.ERROR
    assert "pod host (host-b:2) died" in held.status_reason
    assert len(held.attempts) == 2


def test_parallel_and_elastic_executions_of_a_dead_runner_end_error_naming_it(
    adder, alice, make_execution
):
    parallel = low_latency(adder, alice, "parallel", parallel=True)
    pod_run = running_on("host-a:1", parallel, alice)
    elastic = make_execution()
    execution_claim(execution_pk=elastic.pk, runner="worker-a:7")

    runner_settle(name="host-a:1", kind=RunnerKind.POD_HOST)
    runner_settle(name="worker-a:7", kind=RunnerKind.WORKER)

    pod_run.refresh_from_db()
    elastic.refresh_from_db()
    assert pod_run.status == elastic.status == ExecutionStatus.ERROR
    assert pod_run.status_reason.startswith("Its pod host (host-a:1) died")
    assert elastic.status_reason.startswith("Its worker (worker-a:7) died")
    assert "side effects" in elastic.status_reason


def test_the_sweeper_settles_only_runners_silent_past_their_lease(
    make_execution, settings
):
    settings.RUNNER_LEASE_S = 3
    silent, beating = make_execution(), make_execution()
    execution_claim(execution_pk=silent.pk, runner="gone:1")
    execution_claim(execution_pk=beating.pk, runner="alive:2")
    runner_beat(name="gone:1", kind=RunnerKind.WORKER)
    later = timezone.now() + timedelta(seconds=5)
    runner_beat(name="alive:2", kind=RunnerKind.WORKER, now=later)

    with time_machine.travel(later):
        assert runners_settle_silent() == 1

    silent.refresh_from_db()
    beating.refresh_from_db()
    assert silent.status == ExecutionStatus.ERROR
    assert "stopped answering for 5 s" in silent.status_reason
    assert beating.status == ExecutionStatus.RUNNING
    assert list(RunnerLease.objects.values_list("name", flat=True)) == ["alive:2"]


def test_after_a_database_outage_runners_get_a_full_lease_to_beat_again(
    make_execution, settings
):
    settings.RUNNER_LEASE_S = 3
    execution = make_execution()
    execution_claim(execution_pk=execution.pk, runner="w:1")
    runner_beat(name="w:1", kind=RunnerKind.WORKER)
    sweeper = Command()

    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        # The first step back: the database just answered again.
        assert sweeper.settle_step() is False
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING


def test_a_settled_execution_never_takes_the_late_result_of_its_old_runner(
    adder, alice
):
    queue = low_latency(adder, alice, "queue", parallel=False)
    held = running_on("frozen:1", queue, alice)
    runner_settle(name="frozen:1", kind=RunnerKind.POD_HOST, how="stopped answering")
    execution_claim(execution_pk=held.pk, runner="other:2")

    # The frozen host wakes up and records what its pod returned.
    assert not execution_finish(
        execution=held, status=ExecutionStatus.SUCCEEDED, reason=None
    )
    held.refresh_from_db()
    assert (held.status, held.runner) == (ExecutionStatus.RUNNING, "other:2")


def test_the_sweeper_settles_a_runner_only_when_two_looks_see_the_same_beat(
    make_execution, settings
):
    """A worker whose beats failed while PostgreSQL restarted between two sweeper steps."""
    settings.RUNNER_LEASE_S = 3
    execution = make_execution()
    execution_claim(execution_pk=execution.pk, runner="w:1")
    runner_beat(name="w:1", kind=RunnerKind.WORKER)
    sweeper = Command()
    sweeper.database_up_since = float("-inf")  # the database has long answered
    later = timezone.now() + timedelta(seconds=10)

    with time_machine.travel(later):
        assert sweeper.settle_step() is False  # first look: only a suspect
        runner_beat(
            name="w:1", kind=RunnerKind.WORKER, now=later - timedelta(seconds=5)
        )
        assert sweeper.settle_step() is False  # it beat since: not the beat seen
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RUNNING

    with time_machine.travel(later + timedelta(seconds=1)):
        assert sweeper.settle_step() is True  # the same beat, seen twice
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ERROR


def test_a_dead_child_announced_by_the_supervisor_is_settled_at_once(adder, alice):
    """make run's supervisor sends child_died: the apps settle and free what it held."""
    from deployments.models import Pod
    from deployments.pods.services import pods_claim
    from platform_site.signals import child_died

    parallel = low_latency(adder, alice, "parallel", parallel=True)
    host = runner_name(4242)
    assert pods_claim(host=host)
    held = running_on(host, parallel, alice)

    child_died.send(sender=None, name="pods", pid=4242)

    held.refresh_from_db()
    assert held.status == ExecutionStatus.ERROR
    assert "died" in held.status_reason
    assert not Pod.objects.filter(host=host).exists()
