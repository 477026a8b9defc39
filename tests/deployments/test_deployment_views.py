"""Deployment pages (views.deployments): list, detail, toggle, rotate, delete."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from deployments.models import Deployment, DeploymentStatus
from deployments.selectors import deployment_token
from deployments.services.deployments import (
    deployment_create,
)
from executions.models import Execution, ExecutionStatus
from pipelines.models import Pipeline, PipelineStatus


@pytest.fixture
def pipeline(db) -> Pipeline:
    return Pipeline.objects.create(
        name="adder",
        function_path="src/adder.py",
        function_name="add",
        status=PipelineStatus.READY,
        inputs=[{"name": "a", "data_type": "number", "is_required": True}],
        outputs=[{"name": "total", "data_type": "number"}],
    )


@pytest.fixture
def endpoint(pipeline, alice) -> Deployment:
    return deployment_create(
        pipeline=pipeline,
        name="adder-api",
        execution_rule="endpoint",
        inputs_mapping=[
            {"pipeline_input_name": "a", "endpoint_input_name": "number_a"}
        ],
        description="<script>alert(1)</script>",
        created_by=alice,
    )


@pytest.fixture
def periodic(pipeline, alice) -> Deployment:
    return deployment_create(
        pipeline=pipeline,
        name="adder-cron",
        execution_rule="periodic",
        schedule="* * * * *",
        inputs_mapping=[{"pipeline_input_name": "a", "constant_value": 1}],
        outputs_mapping=[{"pipeline_output_name": "total", "is_null": True}],
        created_by=alice,
    )


def make_execution(
    deployment: Deployment, status=ExecutionStatus.SUCCEEDED
) -> Execution:
    return Execution.objects.create(
        execution_id=f"{deployment.name}-abc123",
        pipeline=deployment.pipeline,
        pipeline_name=deployment.pipeline.name,
        deployment=deployment,
        deployment_name=deployment.name,
        trigger="endpoint",
        status=status,
        timeout_s=60,
        memory_limit_mib=256,
    )


def test_it_lists_deployments_with_their_last_execution(
    alice_client, endpoint, periodic
):
    make_execution(endpoint, ExecutionStatus.FAILED)
    r = alice_client.get("/deployments/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "adder-api" in html and "adder-cron" in html
    assert 'class="status status-Failed" data-status="Failed">Failed<' in html
    assert "never" in html


def test_it_shows_the_endpoint_url_and_hides_the_token(
    alice_client, endpoint, settings
):
    settings.PUBLIC_URL = "https://platform.example.org"
    r = alice_client.get("/deployments/adder-api/")
    html = r.content.decode()
    token = deployment_token(endpoint)
    assert "https://platform.example.org/endpoints/adder-api" in html
    assert f'data-secret="{token}" data-hidden="true">••••' in html
    assert f">{token}<" not in html


def test_it_shows_ready_to_paste_snippets(alice_client, endpoint, settings):
    settings.PUBLIC_URL = "http://testserver"
    html = alice_client.get("/deployments/adder-api/").content.decode()
    assert "-d '{&quot;number_a&quot;: 1}'" in html
    assert "&lt;ENDPOINT_TOKEN&gt;" in html
    assert 'endpoint_name="adder-api"' in html
    assert "inputs={&quot;number_a&quot;: 1}" in html
    assert 'environment_url="http://testserver"' in html


def test_it_escapes_user_text(alice_client, endpoint):
    html = alice_client.get("/deployments/adder-api/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@time_machine.travel(datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC), tick=False)
def test_it_shows_the_schedule_in_words_with_next_runs(alice_client, periodic):
    html = alice_client.get("/deployments/adder-cron/").content.decode()
    assert "Every minute" in html
    assert "2025-01-01 12:01:00 UTC" in html
    assert html.count('class="cron-preview-date"') == 5


def test_it_lists_recent_executions(alice_client, endpoint):
    make_execution(endpoint)
    html = alice_client.get("/deployments/adder-api/").content.decode()
    assert "adder-api-abc123" in html
    assert "/executions/?deployment=adder-api" in html


def test_it_disables_and_enables(alice_client, endpoint):
    r = alice_client.post("/deployments/adder-api/toggle/")
    assert r.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_enabled is False
    assert endpoint.status == DeploymentStatus.DISABLED
    alice_client.post("/deployments/adder-api/toggle/")
    endpoint.refresh_from_db()
    assert endpoint.is_enabled is True


def test_it_rotates_the_token(alice_client, endpoint):
    before = deployment_token(endpoint)
    r = alice_client.post("/deployments/adder-api/rotate-token/")
    assert r.status_code == 302
    endpoint.refresh_from_db()
    assert deployment_token(endpoint) != before


def test_it_deletes_the_deployment_and_its_executions(alice_client, endpoint):
    make_execution(endpoint)
    r = alice_client.post("/deployments/adder-api/delete/")
    assert r.status_code == 302
    assert r.url == "/deployments/"
    assert not Deployment.objects.filter(name="adder-api").exists()
    assert not Execution.objects.exists()


def test_it_redirects_htmx_actions(alice_client, endpoint):
    r = alice_client.post(
        "/deployments/adder-api/delete/", headers={"HX-Request": "true"}
    )
    assert r.headers["HX-Redirect"] == "/deployments/"


def test_it_says_delete_removes_executions(alice_client, endpoint):
    make_execution(endpoint)
    html = alice_client.get("/deployments/adder-api/").content.decode()
    assert "also deletes its 1 execution," in html


@pytest.mark.parametrize("action", ["toggle", "rotate-token", "delete"])
def test_it_rejects_get_on_actions(alice_client, endpoint, action):
    assert alice_client.get(f"/deployments/adder-api/{action}/").status_code == 405


def test_it_rejects_post_on_the_page(alice_client, endpoint):
    assert alice_client.post("/deployments/adder-api/").status_code == 405


@pytest.mark.parametrize(
    "path",
    ["/deployments/", "/deployments/adder-api/", "/deployments/adder-api/toggle/"],
)
def test_it_requires_login(client, endpoint, path):
    r = client.post(path) if path.endswith("toggle/") else client.get(path)
    assert r.status_code == 302
    assert r.url.startswith("/accounts/login/")
    endpoint.refresh_from_db()
    assert endpoint.is_enabled is True


@pytest.mark.parametrize("action", ["", "toggle/", "rotate-token/", "delete/"])
def test_it_404s_for_an_unknown_deployment(alice_client, db, action):
    method = alice_client.get if not action else alice_client.post
    assert method(f"/deployments/nope/{action}").status_code == 404


def test_it_shares_deployments_with_other_users_of_the_environment(bob, endpoint):
    client = Client()
    client.force_login(bob)
    assert client.get("/deployments/adder-api/").status_code == 200


def test_it_refuses_cross_site_posts(alice, endpoint):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/deployments/adder-api/delete/").status_code == 403
    assert Deployment.objects.filter(name="adder-api").exists()


def test_it_polls_its_recent_executions_every_2_seconds(alice_client, endpoint):
    html = alice_client.get("/deployments/adder-api/").content.decode()
    assert 'hx-get="/deployments/adder-api/?fragment=executions"' in html
    assert 'hx-trigger="every 2s"' in html and 'data-live="visible-only"' in html


def test_it_renders_only_the_recent_executions_for_htmx(alice_client, endpoint):
    execution = make_execution(endpoint)
    response = alice_client.get(
        "/deployments/adder-api/?fragment=executions", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="latest-executions"')
    assert execution.execution_id in body and "<html" not in body
