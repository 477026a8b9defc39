"""Pods on the Django side: claims across pod hosts, delivery, the deployment page, the sweeper."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.models import Deployment, Pod, PodLog
from deployments.pods.host import PodHost
from deployments.pods.services import pod_queue_key, pods_claim
from deployments.services.deployment_triggers import (
    deployment_trigger,
    deployment_trigger_build,
)
from deployments.services.deployments import deployment_create, deployment_update
from executions.models import Execution
from executions.routing import executions_routed
from executions.services.creation import executions_build_and_save
from executions.services.sweeping import executions_requeue_pending
from pipelines.models import Pipeline, PipelineStatus
from platform_site.clients.redis_client import redis_client


@pytest.fixture
def pipeline(db) -> Pipeline:
    return Pipeline.objects.create(
        name="adder",
        function_path="main.py",
        function_name="add",
        status=PipelineStatus.READY,
        inputs=[{"name": "a", "data_type": "number", "is_required": True}],
        outputs=[{"name": "total", "data_type": "number"}],
    )


@pytest.fixture
def low_latency(pipeline, alice) -> Deployment:
    return deployment_create(
        pipeline=pipeline,
        name="adder-ll",
        execution_rule="endpoint",
        mode="low_latency",
        ram_request="512MiB",
        created_by=alice,
    )


def test_a_new_low_latency_deployment_waits_for_its_pod(low_latency):
    assert low_latency.status == "creation_pending"


def test_one_pod_host_claims_a_deployment_and_a_silent_one_loses_it(low_latency):
    assert [d.pk for d in pods_claim(host="a")] == [low_latency.pk]
    assert pods_claim(host="b") == []

    Pod.objects.update(heartbeat_at=timezone.now() - timedelta(minutes=5))

    assert [d.pk for d in pods_claim(host="b")] == [low_latency.pk]
    assert Pod.objects.get().host == "b"


def test_disabled_and_elastic_deployments_are_never_claimed(
    low_latency, pipeline, alice
):
    deployment_create(
        pipeline=pipeline, name="adder-el", execution_rule="endpoint", created_by=alice
    )
    deployment_update(deployment=low_latency, updated_by=alice, is_enabled=False)

    assert pods_claim(host="a") == []


def test_re_enabling_waits_for_a_pod_again(low_latency, alice):
    deployment_update(deployment=low_latency, updated_by=alice, is_enabled=False)
    deployment_update(deployment=low_latency, updated_by=alice, is_enabled=True)

    assert Deployment.objects.get().status == "creation_pending"


def test_a_call_goes_to_the_deployments_list_on_commit_and_never_to_the_sweeper(
    low_latency, alice, django_capture_on_commit_callbacks
):
    client = redis_client()
    client.delete(pod_queue_key(low_latency.pk))
    with django_capture_on_commit_callbacks(execute=True):
        execution = deployment_trigger(
            deployment=low_latency, values={"a": 1}, files={}, created_by=alice
        )

    assert client.lrange(pod_queue_key(low_latency.pk), 0, -1) == [
        str(execution.pk).encode()
    ]
    Execution.objects.update(enqueued_at=None)
    assert executions_requeue_pending(broker_lost=True) == 0
    client.delete(pod_queue_key(low_latency.pk))


def test_calls_saved_together_go_to_their_pods_in_order_and_the_rest_to_celery(
    low_latency, pipeline, alice, django_capture_on_commit_callbacks
):
    elastic = deployment_create(
        pipeline=pipeline, name="adder-el", execution_rule="endpoint", created_by=alice
    )
    client = redis_client()
    client.delete(pod_queue_key(low_latency.pk))
    builds = [
        functools.partial(
            deployment_trigger_build,
            deployment=deployment,
            values={"a": n},
            files={},
            created_by=alice,
        )
        for n, deployment in enumerate([low_latency, elastic, low_latency])
    ]
    with django_capture_on_commit_callbacks(execute=False) as sends:
        first, other, last = executions_build_and_save(builds)
    assert len(sends) == 1  # one send for the batch

    left = executions_routed([first, other, last])

    assert left == [other]
    # The pod host pops from the right: the first call runs first.
    assert client.lrange(pod_queue_key(low_latency.pk), 0, -1) == [
        str(last.pk).encode(),
        str(first.pk).encode(),
    ]
    client.delete(pod_queue_key(low_latency.pk))


def test_the_page_shows_the_pods_memory_against_its_request(low_latency, alice_client):
    Pod.objects.create(
        deployment=low_latency,
        pod_id="adder-ll-1",
        host="vm:1",
        status="running",
        rss_kib=200 * 1024,
        restarts=1,
        heartbeat_at=timezone.now(),
    )
    PodLog.objects.create(
        deployment=low_latency,
        pod_id="adder-ll-1",
        timestamp=timezone.now(),
        message="Pod adder-ll-1 is up (pid 7).",
    )

    page = alice_client.get("/deployments/adder-ll/").content.decode()

    assert "memory in use 200 MiB of the 512 MiB requested" in page
    assert "restarted 1 time" in page
    assert "Pod adder-ll-1 is up" in page


def test_the_api_lists_the_pod(low_latency, api_client):
    Pod.objects.create(
        deployment=low_latency,
        pod_id="adder-ll-1",
        host="vm:1",
        status="running",
        heartbeat_at=timezone.now(),
    )

    body = api_client.get("/api/v1/deployments/adder-ll").json()

    assert body["pods"] == [{"pod_id": "adder-ll-1", "status": "running"}]


@pytest.mark.django_db(transaction=True)
def test_pods_on_one_machine_never_share_a_gpu(pipeline, alice, monkeypatch):
    # The machine's GPUs are hardware: this test's machine has two.
    monkeypatch.setattr("deployments.pods.host.gpu_count", lambda: 2)
    monkeypatch.setattr("deployments.services.deployment_rules.gpu_count", lambda: 2)
    first, second, third = (
        deployment_create(
            pipeline=pipeline,
            name=f"gpu-{n}",
            execution_rule="endpoint",
            mode="low_latency",
            gpu_request=1,
            created_by=alice,
        )
        for n in range(3)
    )
    host = PodHost("gpu-host")
    try:
        host.step()
        given = {pk: runner.gpus for pk, runner in host.runners.items()}
        waiting = [r for r in host.runners.values() if r.unavailable is not None]

        assert sorted(given.values()) == [[], [0], [1]]
        assert len(waiting) == 1
        assert "0 of its 2 GPU(s) are free" in waiting[0].unavailable

        freed = next(pk for pk, gpus in given.items() if gpus == [0])
        deployment_update(
            deployment=Deployment.objects.get(pk=freed),
            updated_by=alice,
            is_enabled=False,
        )
        host.step()

        late = host.runners[waiting[0].pk]
        assert (late.gpus, late.unavailable) == ([0], None)
        assert freed not in host.runners
    finally:
        host.close()


def test_a_redis_error_while_waiting_for_work_gives_the_slot_back(low_latency):
    """A 1 s Redis restart once left queue-mode deployments without their one slot for good."""
    import socket

    import redis

    from deployments.pods.runner import PodRunner

    with socket.socket() as probe:  # a port where no Redis answers
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    away = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    runner = PodRunner(low_latency, "host-a")
    runner.up.set()
    assert runner.parallel == 1

    for _ in range(3):
        with pytest.raises(redis.ConnectionError):
            runner.dispatcher._take_one(away, scan=False)

    assert runner.dispatcher.slots.acquire(blocking=False), "the one slot was lost"
