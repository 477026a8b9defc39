"""The /api/v1 pipeline routes, driven as the official client sends them."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from deployments.models import Deployment
from pipelines.models import Pipeline, PipelineLog, PipelineStatus
from pipelines.services.pipelines import pipeline_build
from tests.pipelines.test_pipeline_build import MAIN, code_tar

URL = "/api/v1/pipelines"


def form(**overrides):
    data = {
        "pipeline_name": "p1",
        "function_path": "src/main.py",
        "function_name": "f",
        "container_config[language]": "python:3.11-slim",
        "inputs[0][name]": "a",
        "inputs[0][data_type]": "number",
        "inputs[0][is_required]": "True",
        "inputs[1][name]": "b",
        "inputs[1][data_type]": "number",
        "inputs[1][default_value]": "2",
        "outputs[0][name]": "s",
        "outputs[0][data_type]": "number",
        "step_file": SimpleUploadedFile("step_file", code_tar({"src/main.py": MAIN})),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def post(client, **overrides):
    return client.post(URL, form(**overrides))


def test_it_creates_a_pipeline(api_client, alice):
    response = post(api_client)

    assert response.status_code == 201
    assert response.json() == {"pipeline_name": "p1", "status": "creation_pending"}
    pipeline = Pipeline.objects.get(name="p1")
    assert pipeline.inputs[0] == {
        "name": "a",
        "data_type": "number",
        "is_required": True,
        "default_value": None,
        "description": None,
    }
    assert pipeline.inputs[1]["default_value"] == 2
    assert pipeline.archive_path.read_bytes()[:2] == b"\x1f\x8b"
    assert pipeline.created_by == alice


def test_it_accepts_a_json_body_and_refuses_a_missing_archive(api_client):
    response = api_client.post(
        URL,
        {"pipeline_name": "p1", "function_path": "m.py", "function_name": "f"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith("step_file:")


def test_it_refuses_pipeline_templates(api_client):
    response = api_client.post(
        URL,
        {"pipeline_name": "p1", "pipeline_template_name": "llm"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert (
        "Pipeline templates are not available on this platform"
        in response.json()["message"]
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pipeline_name": "Bad_Name"}, "pipeline_name"),
        ({"inputs[0][data_type]": "integer"}, "inputs[0].data_type"),
        ({"inputs[1][name]": "a"}, "inputs"),
        ({"function_path": None}, "function_path"),
        ({"function_name": None}, "function_name"),
        ({"step_file": None}, "step_file"),
        ({"inputs[1][default_value]": "two"}, "inputs[1]"),
        ({"function_path": "../x.py"}, "function_path"),
    ],
)
def test_it_names_the_bad_field(api_client, overrides, field):
    response = post(api_client, **overrides)

    assert response.status_code == 400
    body = response.json()
    assert body["name"] == "ValidationError"
    assert body["message"].startswith(field)


def test_it_answers_409_for_an_existing_name(api_client):
    post(api_client)

    response = post(api_client)

    assert response.status_code == 409
    assert "p1" in response.json()["message"]


def test_it_refuses_an_oversized_archive(api_client, settings):
    settings.MAX_UPLOAD_BYTES = 10

    response = post(api_client)

    assert response.status_code == 413


def test_it_requires_a_token():
    response = Client().get(URL)

    assert response.status_code == 401
    assert response.json()["name"] == "Unauthorized"


def test_it_gets_a_pipeline(api_client, alice):
    post(api_client)

    body = api_client.get(f"{URL}/p1").json()

    assert body["parameters"]["pipeline_name"] == "p1"
    assert body["parameters"]["inputs"][1]["default_value"] == 2
    assert body["parameters"]["container_config"]["language"] == "python:3.11-slim"
    assert body["parameters"]["container_config"]["requirements_path"] is None
    info = body["creation_info"]
    assert info["status"] == "creation_pending"
    assert info["created_by"] == str(alice.pk)
    assert info["created_at"].endswith("Z") and len(info["created_at"]) == 24


def test_it_answers_a_waiting_get_at_once_when_final(api_client):
    post(api_client)
    pipeline_build(pipeline_id=Pipeline.objects.get(name="p1").pk)

    body = api_client.get(f"{URL}/p1?wait_for_completion=true").json()

    assert body["creation_info"]["status"] == "ready"


def test_it_holds_a_waiting_get_at_most_the_long_poll(api_client, settings):
    settings.LONG_POLL_HOLD_S = 0
    post(api_client)

    body = api_client.get(f"{URL}/p1?wait_for_completion=true").json()

    assert body["creation_info"]["status"] == "creation_pending"


def test_it_answers_404_for_unknown_pipelines(api_client):
    response = api_client.get(f"{URL}/nope")

    assert response.status_code == 404
    assert "nope" in response.json()["message"]


def test_it_lists_pipelines(api_client):
    post(api_client)

    body = api_client.get(URL).json()

    assert [(p["pipeline_name"], p["status"]) for p in body] == [
        ("p1", "creation_pending")
    ]


def test_it_deletes_a_pipeline_and_its_folder(
    api_client, django_capture_on_commit_callbacks
):
    post(api_client)
    folder = Pipeline.objects.get(name="p1").folder

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(f"{URL}/p1?force_deployments_deletion=False")

    assert response.json() == {"pipeline": {"name": "p1"}, "deployments": []}
    assert not Pipeline.objects.filter(name="p1").exists()
    assert not folder.exists()


def test_it_refuses_to_delete_with_deployments_unless_forced(api_client):
    post(api_client)
    Deployment.objects.create(
        name="d1", pipeline=Pipeline.objects.get(name="p1"), execution_rule="endpoint"
    )

    refused = api_client.delete(f"{URL}/p1?force_deployments_deletion=False")
    forced = api_client.delete(f"{URL}/p1?force_deployments_deletion=True")

    assert refused.status_code == 409
    assert "force_deployments_deletion" in refused.json()["message"]
    assert forced.json()["deployments"] == [
        {"name": "d1", "execution_rule": "endpoint"}
    ]
    assert not Deployment.objects.filter(name="d1").exists()


def test_it_gives_a_signed_download_url(api_client, settings):
    post(api_client)

    url = api_client.get(f"{URL}/p1/download").json()["signed_url"]
    response = Client().get(url)

    assert url.startswith(f"{settings.PUBLIC_URL}/files/pipelines/p1/archive?")
    assert response["Content-Type"] == "application/octet-stream"
    assert (
        b"".join(response.streaming_content)
        == Pipeline.objects.get(name="p1").archive_path.read_bytes()
    )


def test_it_refuses_a_tampered_download_url(api_client):
    post(api_client)
    url = api_client.get(f"{URL}/p1/download").json()["signed_url"]

    response = Client().get(url.replace("signature=", "signature=0"))

    assert response.status_code == 403
    assert b"<Code>AccessDenied</Code>" in response.content


def test_it_refuses_an_expired_download_url(api_client):
    post(api_client)
    pipeline = Pipeline.objects.get(name="p1")
    from pipelines.services.files import pipeline_download_path

    path = pipeline_download_path(pipeline=pipeline, now=time.time() - 3600)

    response = Client().get(path)

    assert response.status_code == 403
    assert b"<Message>Request has expired</Message>" in response.content


def test_it_returns_logs_in_order_with_filters(api_client):
    post(api_client)
    pipeline = Pipeline.objects.get(name="p1")
    pipeline_build(pipeline_id=pipeline.pk)
    first = PipelineLog.objects.filter(pipeline=pipeline).order_by("id").first()
    first_ms = int(first.timestamp.timestamp() * 1000)

    everything = api_client.post(
        f"{URL}/p1/logs", {}, content_type="application/json"
    ).json()
    limited = api_client.post(
        f"{URL}/p1/logs",
        {"from": first_ms, "limit": 2},
        content_type="application/json",
    ).json()
    none = api_client.post(
        f"{URL}/p1/logs", {"to": first_ms}, content_type="application/json"
    ).json()

    assert everything[0]["message"] == "Pipeline creation requested by alice"
    assert everything[-1]["message"] == "Pipeline is ready"
    assert limited == everything[:2]
    assert none == []


def test_it_refuses_bad_log_filters(api_client):
    post(api_client)

    response = api_client.post(
        f"{URL}/p1/logs", {"limit": "x"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith("limit")


def test_it_answers_project_information(api_client):
    body = api_client.get("/api/v1/project-information").json()

    assert body == {"included_folders": None, "requirements_path": None}


def test_it_keeps_status_text_from_the_enum(api_client):
    post(api_client)

    assert Pipeline.objects.get(name="p1").status == PipelineStatus.CREATION_PENDING
