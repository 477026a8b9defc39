from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.models import Deployment
from executions.models import Execution, LogLine
from pipelines.models import PipelineStatus
from platform_site.http.units import iso
from tests.deployments.factories import make_pipeline, unique

pytestmark = pytest.mark.django_db


def create(api_client, rule="endpoints", **body):
    return api_client.post(f"/api/v1/{rule}", body, content_type="application/json")


@pytest.fixture
def pipeline():
    return make_pipeline(
        inputs=[{"name": "number1", "data_type": "number"}],
        outputs=[{"name": "number3", "data_type": "number"}],
    )


def test_it_creates_an_endpoint_deployment_and_returns_its_token(api_client, pipeline):
    name = unique("d")

    response = create(
        api_client, pipeline_name=pipeline.name, name=name, mode="elastic"
    )

    assert response.status_code == 201
    got = api_client.get(f"/api/v1/deployments/{name}?wait_for_completion=true").json()
    assert got["status"] == "up" and got["execution_rule"] == "endpoint"
    assert got["endpoint_url_path"] == name and len(got["endpoint_token"]) >= 40
    assert got["pipeline"] == {"name": pipeline.name}
    assert got["inputs_mapping"] == [
        {
            "pipeline_input_name": "number1",
            "data_type": "number",
            "description": None,
            "endpoint_input_name": "number1",
        }
    ]


def test_it_creates_a_periodic_deployment_with_a_readable_schedule(
    api_client, pipeline
):
    name = unique("p")

    response = create(
        api_client,
        "periodic-deployment",
        pipeline_name=pipeline.name,
        name=name,
        schedule="*/2 * * * *",
        inputs_mapping=[{"pipeline_input_name": "number1", "constant_value": 4}],
        outputs_mapping=[{"pipeline_output_name": "number3", "is_null": True}],
    )

    assert response.status_code == 201
    body = response.json()
    assert body["schedule"] == "*/2 * * * *"
    assert body["human_readable_schedule"] == "Every 2 minutes"
    assert "endpoint_token" not in body
    assert Deployment.objects.get(name=name).next_run_at is not None


@pytest.mark.parametrize("schedule", ["61 * * * *", "* * * * * *", ""])
def test_it_refuses_bad_schedules_naming_schedule(api_client, pipeline, schedule):
    response = create(
        api_client,
        "periodic-deployment",
        pipeline_name=pipeline.name,
        name=unique("p"),
        schedule=schedule,
        inputs_mapping=[{"pipeline_input_name": "number1", "is_null": True}],
        outputs_mapping=[{"pipeline_output_name": "number3", "is_null": True}],
    )

    assert response.status_code == 400
    assert "schedule" in response.json()["message"]


def test_it_names_the_unmapped_periodic_input(api_client, pipeline):
    response = create(
        api_client,
        "periodic-deployment",
        pipeline_name=pipeline.name,
        name=unique("p"),
        schedule="* * * * *",
    )

    assert response.status_code == 400
    assert "number1" in response.json()["message"]


@pytest.mark.parametrize(
    ("name", "status"), [("Bad_Name", 400), ("-x", 400), ("a" * 64, 400)]
)
def test_it_refuses_invalid_names(api_client, pipeline, name, status):
    response = create(api_client, pipeline_name=pipeline.name, name=name)

    assert response.status_code == status
    assert "name" in response.json()["message"]


def test_it_refuses_a_short_custom_token_naming_the_field(api_client, pipeline):
    response = create(
        api_client, pipeline_name=pipeline.name, name=unique("d"), endpoint_token="x"
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith("endpoint_token must be 16-256")


def test_it_answers_409_for_a_duplicate_name_or_url_path(api_client, pipeline):
    name = unique("d")
    create(api_client, pipeline_name=pipeline.name, name=name)

    again = create(api_client, pipeline_name=pipeline.name, name=name)
    same_path = create(
        api_client,
        pipeline_name=pipeline.name,
        name=unique("d"),
        endpoint_url_path=name,
    )

    assert again.status_code == 409 and same_path.status_code == 409


def test_it_reserves_v1_as_a_url_path(api_client, pipeline):
    response = create(
        api_client,
        pipeline_name=pipeline.name,
        name=unique("d"),
        endpoint_url_path="v1",
    )

    assert response.status_code == 400 and "v1" in response.json()["message"]


def test_it_refuses_unknown_and_unready_pipelines(api_client):
    unready = make_pipeline(status=PipelineStatus.CREATION_PENDING)

    missing = create(api_client, pipeline_name="nope", name=unique("d"))
    pending = create(api_client, pipeline_name=unready.name, name=unique("d"))

    assert missing.status_code == 404 and "nope" in missing.json()["message"]
    assert pending.status_code == 400 and "ready" in pending.json()["message"]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"mode": "turbo"}, "mode must be 'elastic' or 'low_latency'"),
        ({"mode": "low_latency", "ram_request": "1GB"}, "ram_request '1GB' is invalid"),
        ({"ram_request": "512MiB"}, "only for low-latency deployments"),
        ({"gpu_request": 1}, "only for low-latency deployments"),
        ({"mode": "low_latency", "gpu_request": 64}, "this machine has"),
        ({"max_parallel_executions_per_pod": 0}, "max_parallel_executions_per_pod"),
        ({"execution_timeout_s": 0}, "execution_timeout_s"),
    ],
)
def test_it_validates_modes_and_resources(api_client, pipeline, extra, fragment):
    response = create(
        api_client, pipeline_name=pipeline.name, name=unique("d"), **extra
    )

    assert response.status_code == 400 and fragment in response.json()["message"]


def test_it_lists_deployments(api_client, pipeline):
    name = unique("d")
    create(api_client, pipeline_name=pipeline.name, name=name)

    rows = api_client.get("/api/v1/deployments").json()

    row = next(r for r in rows if r["name"] == name)
    assert row["pipeline_name"] == pipeline.name and row["is_enabled"] is True
    assert set(row) >= {"execution_rule", "mode", "status", "created_at"}


def test_it_answers_204_for_latest_execution_of_a_new_deployment(api_client, pipeline):
    name = unique("d")
    create(api_client, pipeline_name=pipeline.name, name=name)

    response = api_client.get(f"/api/v1/deployments/{name}/executions/latest")

    assert response.status_code == 204


def test_it_disables_and_reenables(api_client, pipeline):
    name = unique("d")
    create(api_client, pipeline_name=pipeline.name, name=name)

    off = api_client.patch(
        f"/api/v1/deployments/{name}",
        {"is_enabled": False},
        content_type="application/json",
    )
    on = api_client.patch(
        f"/api/v1/deployments/{name}",
        {"is_enabled": True},
        content_type="application/json",
    )

    assert off.json()["status"] == "disabled" and off.json()["is_enabled"] is False
    assert on.json()["status"] == "up"


def test_it_updates_a_constant_but_not_the_mapping_type(api_client, pipeline):
    name = unique("p")
    create(
        api_client,
        "periodic-deployment",
        pipeline_name=pipeline.name,
        name=name,
        schedule="* * * * *",
        inputs_mapping=[{"pipeline_input_name": "number1", "constant_value": 4}],
        outputs_mapping=[{"pipeline_output_name": "number3", "is_null": True}],
    )
    url = f"/api/v1/deployments/{name}"

    ok = api_client.patch(
        url,
        {"inputs_mapping": [{"pipeline_input_name": "number1", "constant_value": 5}]},
        content_type="application/json",
    )
    bad = api_client.patch(
        url,
        {"inputs_mapping": [{"pipeline_input_name": "number1", "is_null": True}]},
        content_type="application/json",
    )
    schedule = api_client.patch(
        url, {"schedule": "61 * * * *"}, content_type="application/json"
    )

    assert ok.json()["inputs_mapping"][0]["constant_value"] == 5
    assert bad.status_code == 400 and "number1" in bad.json()["message"]
    assert schedule.status_code == 400 and "schedule" in schedule.json()["message"]


def test_it_deletes_a_deployment_and_its_executions(api_client, pipeline):
    name = unique("d")
    create(api_client, pipeline_name=pipeline.name, name=name)
    api_client.post(
        f"/api/v1/deployments/{name}/executions",
        {"number1": 2},
        content_type="application/json",
    )

    response = api_client.delete(f"/api/v1/deployments/{name}")

    assert response.json() == {"name": name, "execution_rule": "endpoint"}
    assert not Execution.objects.filter(deployment_name=name).exists()
    assert api_client.get(f"/api/v1/deployments/{name}").status_code == 404


def test_it_triggers_with_the_sdk_token_by_endpoint_input_names(api_client, pipeline):
    name = unique("d")
    create(
        api_client,
        pipeline_name=pipeline.name,
        name=name,
        inputs_mapping=[{"pipeline_input_name": "number1", "endpoint_input_name": "a"}],
    )

    response = api_client.post(
        f"/api/v1/deployments/{name}/executions",
        {"a": 2},
        content_type="application/json",
    )

    execution = Execution.objects.get(execution_id=response.json()["execution_id"])
    assert execution.deployment_name == name and execution.trigger == "endpoint"
    assert execution.io.get(name="number1").value == 2
    latest = api_client.get(f"/api/v1/deployments/{name}/executions/latest").json()
    assert latest == {"execution_id": execution.execution_id}
    listed = api_client.get(f"/api/v1/deployments/{name}/executions").json()
    assert [e["execution_id"] for e in listed] == [execution.execution_id]


def test_it_rotates_the_token_with_a_form_body(api_client, pipeline):
    name = unique("d")
    create(api_client, pipeline_name=pipeline.name, name=name)

    generated = api_client.post(f"/api/v1/endpoints/{name}/generate-new-token")
    chosen = api_client.post(
        f"/api/v1/endpoints/{name}/generate-new-token",
        {"endpoint_token": "mine-1234567890ab"},
    )

    assert len(generated.json()["endpoint_token"]) >= 40
    assert chosen.json() == {"endpoint_token": "mine-1234567890ab"}
    got = api_client.get(f"/api/v1/deployments/{name}").json()
    assert got["endpoint_token"] == "mine-1234567890ab"


def test_it_returns_logs_as_a_flat_list(api_client, pipeline):
    name = unique("d")
    create(api_client, pipeline_name=pipeline.name, name=name)
    empty = api_client.post(
        f"/api/v1/deployments/{name}/logs", {}, content_type="application/json"
    )
    assert empty.json() == []
    started = api_client.post(
        f"/api/v1/deployments/{name}/executions",
        {"number1": 1},
        content_type="application/json",
    )
    execution = Execution.objects.get(execution_id=started.json()["execution_id"])
    moment = timezone.now()
    for seq, (stream, message) in enumerate([("stdout", "one"), ("stderr", "two")]):
        LogLine.objects.create(
            execution=execution,
            seq=seq,
            timestamp=moment + timedelta(milliseconds=seq),
            stream=stream,
            message=message,
        )

    response = api_client.post(
        f"/api/v1/deployments/{name}/logs",
        {"limit": 10},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == [
        {
            "timestamp": iso(moment + timedelta(milliseconds=seq)),
            "message": message,
            "stream": stream,
            "pod_id": execution.execution_id,
            "type": "deployment",
        }
        for seq, (stream, message) in enumerate([("stdout", "one"), ("stderr", "two")])
    ]


def test_it_needs_a_bearer_token(client):
    assert client.get("/api/v1/deployments").status_code == 401


def test_it_refuses_a_ram_request_too_small_naming_it(api_client, pipeline):
    response = create(
        api_client,
        "endpoints",
        pipeline_name=pipeline.name,
        name=unique("r"),
        mode="low_latency",
        ram_request="10KiB",
    )
    assert response.status_code == 400
    assert "ram_request '10KiB' is too small" in response.json()["message"]
