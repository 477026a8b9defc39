from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus
from deployments.scheduler import scheduler_step, seconds_until_next_tick
from deployments.services.deployments import deployment_create, deployment_update
from executions.models import EnvironmentVariable, Execution
from tests.deployments.factories import make_pipeline, unique


@pytest.fixture(autouse=True)
def _mid_minute():
    """Each test starts at second 30 of a minute, with the clock running.

    The steps compute ticks from the real clock: a test that crossed a minute
    boundary between two steps would see one more tick due than it expects.
    """
    with time_machine.travel(datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC), tick=True):
        yield


def periodic(
    user, *, due_ago_s: float = 1.0, schedule: str = "* * * * *"
) -> Deployment:
    pipeline = make_pipeline(
        inputs=[
            {"name": "number1", "data_type": "number"},
            {"name": "label", "data_type": "string"},
        ],
        outputs=[{"name": "number3", "data_type": "number"}],
    )
    deployment = deployment_create(
        pipeline=pipeline,
        name=unique("p"),
        execution_rule="periodic",
        schedule=schedule,
        inputs_mapping=[
            {"pipeline_input_name": "number1", "constant_value": 4},
            {"pipeline_input_name": "label", "is_null": True},
        ],
        outputs_mapping=[{"pipeline_output_name": "number3", "is_null": True}],
        created_by=user,
    )
    tick = (timezone.now() - timedelta(seconds=due_ago_s)).replace(microsecond=0)
    Deployment.objects.filter(pk=deployment.pk).update(next_run_at=tick)
    deployment.refresh_from_db()
    return deployment


@pytest.mark.django_db
def test_it_fires_a_due_deployment_once(alice):
    deployment = periodic(alice)
    tick = deployment.next_run_at

    assert scheduler_step() is True
    assert scheduler_step() is False

    execution = Execution.objects.get(deployment=deployment)
    assert execution.scheduled_for == tick and execution.trigger == "periodic"
    assert execution.created_by == alice
    constant = execution.io.get(name="number1")
    assert (constant.mapping_type, constant.value) == ("constant", 4)
    assert execution.io.get(name="label").mapping_type == "is_null"
    deployment.refresh_from_db()
    assert deployment.next_run_at > timezone.now()


@pytest.mark.django_db
def test_it_never_fires_a_disabled_deployment(alice):
    deployment = periodic(alice)
    deployment_update(deployment=deployment, updated_by=alice, is_enabled=False)
    Deployment.objects.filter(pk=deployment.pk).update(
        next_run_at=timezone.now() - timedelta(minutes=1)
    )

    assert scheduler_step() is False
    assert not Execution.objects.filter(deployment=deployment).exists()


@pytest.mark.django_db
def test_it_catches_up_with_one_execution_after_downtime(alice):
    deployment = periodic(alice, due_ago_s=600)

    fired = [scheduler_step() for _ in range(5)]

    assert fired == [True, False, False, False, False]
    executions = Execution.objects.filter(deployment=deployment)
    assert executions.exclude(status="Skipped").count() == 1
    # The ticks missed in the ten minutes are recorded, not silently dropped.
    skipped = executions.filter(status="Skipped")
    assert 9 <= skipped.count() <= 10
    assert all("catch-up" in e.status_reason for e in skipped)
    deployment.refresh_from_db()
    assert (
        timezone.now() < deployment.next_run_at <= timezone.now() + timedelta(minutes=1)
    )


@pytest.mark.django_db
def test_it_records_a_tick_that_cannot_start(alice):
    EnvironmentVariable.objects.create(name="THRESHOLD", value="3")
    deployment = periodic(alice)
    deployment.inputs_mapping[0] = {
        "pipeline_input_name": "number1",
        "environment_variable_name": "THRESHOLD",
    }
    Deployment.objects.filter(pk=deployment.pk).update(
        inputs_mapping=deployment.inputs_mapping
    )
    EnvironmentVariable.objects.all().delete()

    assert scheduler_step() is True

    execution = Execution.objects.get(deployment=deployment)
    assert execution.status == "Failed"
    assert "THRESHOLD" in execution.status_reason


@pytest.mark.django_db
def test_it_skips_a_tick_another_scheduler_already_fired(alice):
    deployment = periodic(alice)
    tick = deployment.next_run_at
    scheduler_step()
    # A second scheduler with a stale view of the same tick.
    Deployment.objects.filter(pk=deployment.pk).update(next_run_at=tick)

    assert scheduler_step() is True

    assert Execution.objects.filter(deployment=deployment).count() == 1
    deployment.refresh_from_db()
    assert deployment.next_run_at > tick


@pytest.mark.django_db
def test_a_tick_fired_twice_does_not_stop_the_rest_of_its_batch(alice):
    fired_before, *others = [periodic(alice) for _ in range(3)]
    tick = fired_before.next_run_at
    scheduler_step()
    Deployment.objects.filter(pk__in=[d.pk for d in others]).update(next_run_at=tick)
    # A stale view of a tick already fired, in the same batch as two due ones.
    Deployment.objects.filter(pk=fired_before.pk).update(next_run_at=tick)
    Execution.objects.filter(deployment__in=others).delete()

    assert scheduler_step() is True

    for deployment in [fired_before, *others]:
        assert Execution.objects.filter(deployment=deployment).count() == 1
        deployment.refresh_from_db()
        assert deployment.next_run_at > tick


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two schedulers at once claim with SELECT ... FOR UPDATE SKIP LOCKED, "
    "which SQLite lacks: the embedded default runs a single scheduler",
)
@pytest.mark.django_db(transaction=True)
def test_it_fires_each_tick_once_with_two_concurrent_schedulers(alice):
    deployments = [periodic(alice) for _ in range(3)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            start.wait()
            while scheduler_step():
                pass
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    for deployment in deployments:
        assert Execution.objects.filter(deployment=deployment).count() == 1


@pytest.mark.django_db
def test_it_sleeps_until_the_next_tick_at_most_one_second(alice):
    deployment = periodic(alice)
    now = timezone.now()
    Deployment.objects.filter(pk=deployment.pk).update(
        next_run_at=now + timedelta(seconds=0.4)
    )

    pause = seconds_until_next_tick(now=now)

    assert pause == pytest.approx(0.4)
    assert seconds_until_next_tick(now=now - timedelta(hours=1)) == 1.0


@pytest.mark.django_db
def test_it_sleeps_past_a_deployment_that_never_fires(alice):
    deployment = periodic(alice, due_ago_s=120)
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.DISABLED)

    assert scheduler_step() is False
    assert seconds_until_next_tick() == 1.0  # not 0: the loop must not spin
