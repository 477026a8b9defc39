from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.test import Client

from deployments.endpoints import calls as endpoint_calls
from deployments.endpoints import hot_path
from deployments.selectors import deployment_token
from deployments.services.deployments import (
    deployment_create,
    deployment_update,
)
from executions.models import Execution, ExecutionStatus
from executions.services.lifecycle import (
    execution_claim,
    execution_finish,
)
from tests.deployments.factories import make_pipeline, unique

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_hold(settings):
    settings.ENDPOINT_HOLD_S = 0


@pytest.fixture
def deployment(alice):
    pipeline = make_pipeline(
        inputs=[
            {"name": "number1", "data_type": "number", "is_required": True},
            {"name": "upload", "data_type": "file"},
            {"name": "other", "data_type": "file"},
        ],
        outputs=[{"name": "number3", "data_type": "number"}],
    )
    return deployment_create(
        pipeline=pipeline,
        name=unique("d"),
        execution_rule="endpoint",
        inputs_mapping=[{"pipeline_input_name": "number1", "endpoint_input_name": "a"}],
        outputs_mapping=[
            {"pipeline_output_name": "number3", "endpoint_output_name": "result"}
        ],
        created_by=alice,
    )


def call(deployment, body="{}", token=None, content_type="application/json", **extra):
    token = deployment_token(deployment) if token is None else token
    headers = {"Authorization": f"EndpointToken {token}"} if token else {}
    if content_type is None:  # multipart, as the SDK sends values with a file
        return Client(headers=headers).post(
            f"/endpoints/{deployment.endpoint_url_path}", body, **extra
        )
    return Client(headers=headers).post(
        f"/endpoints/{deployment.endpoint_url_path}",
        body,
        content_type=content_type,
        **extra,
    )


def finish(execution: Execution, value) -> None:
    execution_claim(execution_pk=execution.pk)
    execution_finish(
        execution=execution,
        status=ExecutionStatus.SUCCEEDED,
        reason=None,
        outputs={"number3": {"value": value}},
    )


def test_it_answers_401_without_a_token(deployment):
    response = call(deployment, token="")

    assert response.status_code == 401 and "EndpointToken" in response.json()["message"]


def test_it_answers_401_for_a_wrong_token(deployment):
    response = call(deployment, token="wrong")

    assert response.status_code == 401 and response.json()["message"]


def test_it_answers_an_unknown_path_as_a_wrong_token(deployment):
    unknown = Client(headers={"Authorization": "EndpointToken wrong"}).post(
        "/endpoints/nope"
    )
    wrong = call(deployment, token="wrong")

    assert unknown.status_code == wrong.status_code == 401
    assert (unknown.json()["message"], unknown.json()["name"]) == (
        wrong.json()["message"],
        wrong.json()["name"],
    )
    assert unknown.json()["message"] == endpoint_calls.ENDPOINT_REFUSED


def test_it_answers_403_when_disabled(deployment, alice):
    deployment_update(deployment=deployment, updated_by=alice, is_enabled=False)

    response = call(deployment, '{"a": 1}')

    assert response.status_code == 403 and "disabled" in response.json()["message"]


def test_it_answers_400_for_malformed_json(deployment):
    response = call(deployment, '{"a": ')

    assert response.status_code == 400 and "JSON" in response.json()["message"]


def test_it_names_a_missing_input_by_its_endpoint_name(deployment):
    response = call(deployment, "{}")

    assert response.status_code == 400 and "'a'" in response.json()["message"]


def test_it_names_an_unknown_input(deployment):
    response = call(deployment, '{"a": 1, "zz": 2}')

    assert response.status_code == 400 and "zz" in response.json()["message"]


def test_it_answers_413_past_the_upload_limit(deployment, settings):
    settings.MAX_UPLOAD_BYTES = 10

    response = call(deployment, '{"a": 1, "padding": "xxxxxxxxxxxxxxxx"}')

    assert response.status_code == 413


def test_it_refuses_two_files_in_one_call(deployment):
    response = call(
        deployment,
        {
            "a": "1",
            "upload": SimpleUploadedFile("x.txt", b"x"),
            "other": SimpleUploadedFile("y.txt", b"y"),
        },
        content_type=None,
    )

    assert response.status_code == 400 and "file" in response.json()["message"]


def test_it_redirects_with_303_while_the_execution_runs(deployment):
    response = call(deployment, '{"a": 2}')

    execution_id = response.json()["execution_id"]
    assert response.status_code == 303
    assert response["Location"] == (
        f"/endpoints/v1/{deployment.endpoint_url_path}/executions/{execution_id}"
    )


def test_it_decodes_multipart_fields_as_json_with_a_text_fallback(deployment):
    response = call(deployment, {"a": "3"}, content_type=None)

    execution = Execution.objects.get(execution_id=response.json()["execution_id"])
    assert execution.io.get(name="number1").value == 3


@pytest.mark.django_db(transaction=True)
def test_it_returns_plain_outputs_when_done_in_time(deployment, settings):
    """A "worker" thread finishes the execution while the real hold waits for it."""
    settings.ENDPOINT_HOLD_S = 20
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.wait(0.02):
                pending = Execution.objects.filter(deployment=deployment).first()
                if pending is not None:
                    finish(pending, 9)
                    return
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        response = call(deployment, '{"a": 2}')
    finally:
        stop.set()
        thread.join(10)

    assert response.status_code == 200
    assert response.json()["outputs"] == {"result": 9}


def test_it_serves_wrapped_results_with_the_query_token(deployment):
    execution_id = call(deployment, '{"a": 2}').json()["execution_id"]
    finish(Execution.objects.get(execution_id=execution_id), 9)
    url = f"/endpoints/v1/{deployment.endpoint_url_path}/executions/{execution_id}"

    ok = Client().get(url, {"token": deployment_token(deployment)})
    refused = Client().get(url, {"token": "wrong"})

    assert ok.status_code == 200
    assert ok.json() == {
        "execution_id": execution_id,
        "outputs": {"result": {"value": 9}},
    }
    assert refused.status_code == 401


def test_it_serves_results_to_a_post_as_curl_l_sends_after_the_303(deployment):
    execution_id = call(deployment, '{"a": 2}').json()["execution_id"]
    finish(Execution.objects.get(execution_id=execution_id), 9)
    url = f"/endpoints/v1/{deployment.endpoint_url_path}/executions/{execution_id}"

    response = Client(
        headers={"Authorization": f"EndpointToken {deployment_token(deployment)}"}
    ).post(url, '{"a": 2}', content_type="application/json")

    assert response.status_code == 200
    assert response.json()["outputs"] == {"result": {"value": 9}}


def test_it_reports_a_failed_execution_as_a_500_json_error(deployment):
    execution_id = call(deployment, '{"a": 2}').json()["execution_id"]
    execution = Execution.objects.get(execution_id=execution_id)
    execution_claim(execution_pk=execution.pk)
    execution_finish(
        execution=execution, status=ExecutionStatus.FAILED, reason="ZeroDivisionError"
    )
    url = f"/endpoints/v1/{deployment.endpoint_url_path}/executions/{execution_id}"

    response = Client().get(url, {"token": deployment_token(deployment)})

    assert response.status_code == 500
    assert response.json()["name"] == "ExecutionFailed"
    assert "ZeroDivisionError" in response.json()["message"]


def test_it_never_accepts_a_session_cookie(deployment, alice_client):
    response = alice_client.post(f"/endpoints/{deployment.endpoint_url_path}")

    assert response.status_code == 401


def test_it_answers_the_execution_id_when_the_database_drops_during_the_hold(
    deployment, monkeypatch, settings
):
    looks = []

    def database_gone(*args, **kwargs):
        looks.append(1)
        raise OperationalError("terminating connection due to administrator command")

    settings.ENDPOINT_HOLD_S = 1
    monkeypatch.setattr(hot_path, "RECHECK_S", 0.1)
    monkeypatch.setattr(hot_path, "_final_of_row", database_gone)
    response = call(deployment, '{"a": 1}')

    assert looks  # the hold looked at the row, and the database was away

    execution = Execution.objects.get(deployment=deployment)
    assert response.status_code == 303
    assert response.json() == {"execution_id": execution.execution_id}
    assert response["Location"].endswith(f"/executions/{execution.execution_id}")


def test_it_answers_503_when_the_database_is_away_before_accepting(
    deployment, monkeypatch
):
    def database_gone(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(hot_path, "deployment_trigger_build", database_gone)
    response = call(deployment, '{"a": 1}')

    assert response.status_code == 503
    assert response.json()["name"] == "ServiceUnavailable"
    assert response["Retry-After"] == "1"
