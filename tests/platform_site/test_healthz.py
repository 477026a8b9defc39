from __future__ import annotations

import pytest
from django.db import OperationalError

from pipelines.sandbox import SANDBOX_OFF_WARNING
from platform_site.clients.redis_client import redis_client
from platform_site.operations import health
from runtime import cgroups


@pytest.fixture
def all_beating(private_redis_url):
    for part in health.BEATING_PARTS:
        health.beat(part)


def test_it_answers_200_when_every_part_beats(client, db, all_beating, settings):
    settings.DISK_MIN_FREE_MIB = 0  # whatever this machine's disk holds
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["parts"]) == {"database", "broker", *health.BEATING_PARTS}
    assert set(body["parts"].values()) == {"ok"}


def test_it_answers_503_naming_the_worker_when_its_heartbeat_is_missing(
    client, db, private_redis_url
):
    health.beat("scheduler")
    health.beat("sweeper")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["name"] == "Unavailable"
    assert "worker" in body["message"]
    assert body["parts"]["worker"] != "ok"
    assert body["parts"]["scheduler"] == "ok"


def test_it_names_the_sweeper_when_only_it_is_missing(client, db, private_redis_url):
    health.beat("worker")
    health.beat("scheduler")
    body = client.get("/healthz").json()
    assert body["message"].startswith("sweeper:")


def test_it_names_the_broker_when_redis_is_unreachable(client, db, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/nothing-here.sock"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["parts"]["broker"].startswith("broker unreachable")
    assert body["parts"]["worker"] == "unknown: broker is down"


def test_it_names_the_database_when_it_is_down(client, db, all_beating, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(health.connection, "cursor", broken_cursor)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert "database" in response.json()["message"]


def test_it_lets_a_heartbeat_expire(private_redis_url):
    health.beat("worker")
    key = health.HEARTBEAT_KEY.format(part="worker")
    assert 0 < redis_client().ttl(key) <= health.HEARTBEAT_TTL_S


def test_it_needs_no_login_and_is_never_cached(client, db, all_beating):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]


def test_it_refuses_post(client, db, all_beating):
    assert client.post("/healthz").status_code == 405


def test_it_says_the_sandbox_is_on(client, db, all_beating):
    assert client.get("/healthz").json()["sandbox"] == "on"


def test_it_warns_loudly_when_the_sandbox_is_off(client, db, all_beating, settings):
    settings.SANDBOX_ENABLED = False
    body = client.get("/healthz").json()
    assert body["sandbox"] == "off"
    assert body["warnings"] == [SANDBOX_OFF_WARNING]


def test_it_names_the_live_hosts_of_each_part(client, db, all_beating, monkeypatch):
    monkeypatch.setenv("PLATFORM_NODE_NAME", "worker-b")
    health.beat("worker")
    monkeypatch.setenv("PLATFORM_ROLES", "web")
    monkeypatch.setenv("PLATFORM_NODE_NAME", "web-a")
    body = client.get("/healthz").json()
    assert body["node"] == {"host": "web-a", "roles": ["web"]}
    hosts = [node["host"] for node in body["nodes"]["worker"]]
    assert "worker-b" in hosts


def test_a_disk_running_full_is_degraded_not_down(client, db, all_beating, settings):
    settings.DISK_MIN_FREE_MIB = 10**9
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["name"]) == ("degraded", "Degraded")
    assert "PLATFORM_DISK_MIN_FREE_MIB" in body["message"]
    assert body["disk"]["free_mib"] >= 0


def test_a_low_latency_call_left_pending_is_degraded_naming_its_deployment(
    client, db, all_beating, settings, alice
):
    from datetime import timedelta

    from django.utils import timezone

    from deployments.services.deployment_triggers import deployment_trigger
    from deployments.services.deployments import deployment_create
    from executions.models import Execution
    from pipelines.models import Pipeline, PipelineStatus

    settings.DISK_MIN_FREE_MIB = 0
    settings.PENDING_ALERT_S = 30
    pipeline = Pipeline.objects.create(
        name="adder",
        function_path="main.py",
        function_name="add",
        status=PipelineStatus.READY,
        inputs=[{"name": "a", "data_type": "number", "is_required": True}],
        outputs=[],
    )
    deployment = deployment_create(
        pipeline=pipeline,
        name="stuck-queue",
        execution_rule="endpoint",
        mode="low_latency",
        created_by=alice,
    )
    execution = deployment_trigger(
        deployment=deployment, values={"a": 1}, files={}, created_by=alice
    )
    Execution.objects.filter(pk=execution.pk).update(
        created_at=timezone.now() - timedelta(seconds=95)
    )

    body = client.get("/healthz").json()

    assert body["status"] == "degraded"
    assert "stuck-queue: its oldest Pending call has waited 9" in body["message"]
    assert body["pods"]["oldest_pending_s"]["stuck-queue"] >= 95


def test_it_says_how_user_processes_are_grouped(client, db, all_beating):
    body = client.get("/healthz").json()
    assert body["cgroups"] == cgroups.probe()
    warning = cgroups.warning()
    assert (warning in body.get("warnings", [])) == (warning is not None)
