"""Deployment health figures and the home page's overview (selectors, views.overview)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from deployments.models import Deployment
from deployments.overview import platform_overview
from executions.models import Execution, ExecutionStatus
from executions.selectors import deployment_health
from pipelines.models import Pipeline, PipelineStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def deployment(alice) -> Deployment:
    pipeline = Pipeline.objects.create(
        name="adder",
        function_path="main.py",
        function_name="add",
        status=PipelineStatus.READY,
        created_by=alice,
    )
    return Deployment.objects.create(
        name="adder-api", pipeline=pipeline, execution_rule="endpoint", created_by=alice
    )


def add(deployment, n: int, *, ago: timedelta, took_s: float | None, status: str):
    """`n` executions created `ago` before NOW, ended `took_s` later (None: still running)."""
    created = NOW - ago
    for _ in range(n):
        execution = Execution.objects.create(
            execution_id=f"e-{Execution.objects.count()}",
            pipeline=deployment.pipeline,
            pipeline_name=deployment.pipeline.name,
            deployment=deployment,
            deployment_name=deployment.name,
            status=status,
            timeout_s=60,
            memory_limit_mib=256,
        )
        # created_at is auto_now_add: set the known time afterwards.
        Execution.objects.filter(pk=execution.pk).update(
            created_at=created,
            end_date=created + timedelta(seconds=took_s)
            if took_s is not None
            else None,
        )


@pytest.fixture
def known(deployment):
    """Last hour: 8 succeeded in 1 s, 2 failed in 3 s, 1 running. Earlier today: 9 in 10 s."""
    add(
        deployment,
        8,
        ago=timedelta(minutes=10),
        took_s=1,
        status=ExecutionStatus.SUCCEEDED,
    )
    add(
        deployment,
        2,
        ago=timedelta(minutes=20),
        took_s=3,
        status=ExecutionStatus.FAILED,
    )
    add(
        deployment,
        1,
        ago=timedelta(minutes=1),
        took_s=None,
        status=ExecutionStatus.RUNNING,
    )
    add(
        deployment,
        9,
        ago=timedelta(hours=5),
        took_s=10,
        status=ExecutionStatus.SUCCEEDED,
    )
    add(deployment, 4, ago=timedelta(days=2), took_s=1, status=ExecutionStatus.ERROR)
    return deployment


def test_it_counts_the_last_hour(known):
    hour, _ = deployment_health(known, now=NOW)
    assert (hour.calls, hour.finished, hour.failures) == (11, 10, 2)
    assert hour.calls_per_minute == pytest.approx(11 / 60)
    assert hour.error_rate == pytest.approx(0.2)
    assert hour.p50_s == pytest.approx(1.0)
    assert hour.p95_s == pytest.approx(3.0)


def test_it_counts_the_last_day(known):
    _, day = deployment_health(known, now=NOW)
    assert (day.calls, day.finished, day.failures) == (20, 19, 2)
    assert day.p50_s == pytest.approx(3.0)
    assert day.p95_s == pytest.approx(10.0)


def test_it_has_no_rate_without_finished_calls(deployment):
    hour, day = deployment_health(deployment, now=NOW)
    assert hour.calls == 0 and hour.error_rate is None and hour.p50_s is None


def test_it_lists_running_failures_and_degraded_deployments(known):
    overview = platform_overview(now=NOW)
    assert overview.running_count == 1
    assert overview.failure_count == 2  # the Error ones are 2 days old
    assert overview.degraded == [("adder-api", 2, 10)]
    assert overview.deployments_by_state == [("up", 1)]


def test_the_deployment_page_shows_the_figures(alice_client, known):
    with time_machine.travel(NOW, tick=False):
        html = alice_client.get("/deployments/adder-api/").content.decode()
    assert '<td class="num calls">11</td>' in html
    assert "20 %" in html and "(2 of 10 finished)" in html


def test_the_home_page_shows_the_overview(alice_client, known):
    with time_machine.travel(NOW, tick=False):
        html = alice_client.get("/").content.decode()
    assert 'id="running-now"' in html and "adder-api</a> (2/10)" in html


def test_the_home_page_asks_anonymous_visitors_to_log_in(client, db):
    assert client.get("/").status_code == 302


def test_the_home_page_refuses_post(alice_client):
    assert alice_client.post("/").status_code == 405
