"""The endpoint call's hot path: its answer from the final announcement equals the answer from the rows."""

from __future__ import annotations

import json
import threading

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.db import connection
from django.test import Client

from deployments.endpoints import hot_path
from deployments.endpoints.endpoint_cache import EndpointCache
from deployments.selectors import deployment_token
from deployments.services.deployments import deployment_create
from executions.models import Execution, ExecutionStatus
from executions.services.lifecycle import (
    execution_claim,
    execution_finish,
    final_message,
)
from tests.deployments.factories import make_pipeline, unique

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(alice):
    pipeline = make_pipeline(
        inputs=[{"name": "number1", "data_type": "number"}],
        outputs=[
            {"name": "number3", "data_type": "number"},
            {"name": "report", "data_type": "file"},
            {"name": "details", "data_type": "json"},
            {"name": "ignored", "data_type": "string"},
        ],
    )
    return deployment_create(
        pipeline=pipeline,
        name=unique("d"),
        execution_rule="endpoint",
        inputs_mapping=None,
        outputs_mapping=[
            {"pipeline_output_name": "number3", "endpoint_output_name": "result"},
            {"pipeline_output_name": "report", "endpoint_output_name": "report"},
            {"pipeline_output_name": "details", "endpoint_output_name": "details"},
            {"pipeline_output_name": "ignored", "is_null": True},
        ],
        created_by=alice,
    )


def _call(deployment, body='{"number1": 2}'):
    return Client(
        headers={"Authorization": f"EndpointToken {deployment_token(deployment)}"}
    ).post(
        f"/endpoints/{deployment.endpoint_url_path}",
        body,
        content_type="application/json",
    )


@pytest.mark.parametrize(
    "outputs",
    [
        {
            "number3": {"value": 9},
            "report": {"value": None, "file_path": "outputs/report/r.txt"},
            "details": {"value": {"z": [1, None, "ü"], "a": {"b": 2.5}}},
        },
        {"number3": {"value": None}, "report": {"value": None}, "details": {}},
    ],
    ids=["values and a file", "nothing produced"],
)
def test_the_announcement_answers_what_the_rows_answer(deployment, settings, outputs):
    settings.ENDPOINT_HOLD_S = 0
    execution_id = _call(deployment).json()["execution_id"]
    execution = Execution.objects.get(execution_id=execution_id)
    execution_claim(execution_pk=execution.pk)
    execution_finish(
        execution=execution,
        status=ExecutionStatus.SUCCEEDED,
        reason=None,
        outputs=outputs,
    )
    entry = EndpointCache().load(deployment.endpoint_url_path)
    file_url = hot_path._file_url(deployment.endpoint_url_path, execution)
    message = final_message(
        status=ExecutionStatus.SUCCEEDED, reason=None, outputs=outputs
    )

    announced = hot_path._final_of_message(message, entry, file_url)
    read = hot_path._final_of_row(execution.pk, wrap=False, file_url=file_url)

    assert announced == read
    assert set(announced.outputs) == {"result", "report", "details"}


def test_a_failure_announced_answers_what_its_row_answers(deployment, settings):
    settings.ENDPOINT_HOLD_S = 0
    execution_id = _call(deployment).json()["execution_id"]
    execution = Execution.objects.get(execution_id=execution_id)
    execution_claim(execution_pk=execution.pk)
    execution_finish(
        execution=execution, status=ExecutionStatus.FAILED, reason="ZeroDivisionError"
    )
    entry = EndpointCache().load(deployment.endpoint_url_path)
    file_url = hot_path._file_url(deployment.endpoint_url_path, execution)
    message = final_message(status=ExecutionStatus.FAILED, reason="ZeroDivisionError")

    announced = hot_path._final_of_message(message, entry, file_url)

    assert announced == hot_path._final_of_row(
        execution.pk, wrap=False, file_url=file_url
    )


def test_a_result_too_large_to_announce_is_read_from_its_row():
    huge = {"out": {"value": "x" * 70_000}}
    message = final_message(status=ExecutionStatus.SUCCEEDED, reason=None, outputs=huge)
    assert message == "1"


@pytest.mark.django_db(transaction=True)
def test_a_held_call_answers_from_the_announcement_without_reading_the_row(
    deployment, settings, monkeypatch
):
    settings.ENDPOINT_HOLD_S = 20

    def no_read(*args, **kwargs):
        raise AssertionError("the row was read")

    monkeypatch.setattr(hot_path, "_final_of_row", no_read)
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.wait(0.02):
                pending = Execution.objects.filter(deployment=deployment).first()
                if pending is not None:
                    execution_claim(execution_pk=pending.pk)
                    execution_finish(
                        execution=pending,
                        status=ExecutionStatus.SUCCEEDED,
                        reason=None,
                        outputs={"number3": {"value": 7}, "details": {"value": [1]}},
                    )
                    return
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        response = _call(deployment)
    finally:
        stop.set()
        thread.join(10)

    assert response.status_code == 200
    assert response.json()["outputs"] == {
        "result": 7,
        "report": {"url": None},
        "details": [1],
    }


def _asgi(path: str, *, query: bytes = b"", body: bytes = b"") -> dict:
    """One request through platform_site.asgi's application, as uvicorn sends it."""
    from platform_site.asgi import application

    async def request() -> dict:
        communicator = ApplicationCommunicator(
            application,
            {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": query,
                "root_path": "",
                "headers": [
                    (b"host", b"testserver"),
                    (b"content-type", b"application/json"),
                ],
                "client": ("127.0.0.1", 5000),
                "server": ("testserver", 80),
            },
        )
        await communicator.send_input({"type": "http.request", "body": body})
        start = await communicator.receive_output(5)
        content = await communicator.receive_output(5)
        return {
            "status": start["status"],
            "headers": {k.lower(): v for k, v in start["headers"]},
            "body": json.loads(content["body"]),
        }

    return async_to_sync(request)()


def test_the_endpoint_face_answers_through_its_lean_handler(settings):
    from platform_site import asgi

    answer = _asgi("/endpoints/anything", body=b"{}")

    assert answer["status"] == 401
    assert answer["body"]["name"] == "Unauthorized"
    assert answer["headers"][b"cache-control"] == b"no-store"  # ApiJsonErrorsMiddleware
    assert (
        answer["headers"][b"x-content-type-options"] == b"nosniff"
    )  # SecurityMiddleware
    assert asgi.endpoint_application.middleware_paths == settings.ENDPOINT_MIDDLEWARE
    assert not any("session" in path.lower() for path in settings.ENDPOINT_MIDDLEWARE)


def test_the_lean_handler_refuses_a_malformed_request_as_the_pages_stack_does():
    answer = _asgi("/endpoints/anything", query=b"a=%00")

    assert answer["status"] == 400
    assert "NUL" in answer["body"]["message"]


def test_the_lean_handler_refuses_middleware_that_cannot_run_in_the_loop():
    from platform_site.http.lean_handler import LeanHandler

    with pytest.raises(TypeError, match="async_capable"):
        LeanHandler(["platform_site.http.middleware.ContentSecurityPolicyMiddleware"])


def test_the_lean_handler_sends_the_request_signals_in_its_loop():
    """Their receivers (closing stale connections, resetting queries) still run, on no thread of their own."""
    from django.core import signals

    seen = []

    def started(**kwargs):
        seen.append(("started", threading.current_thread().name))

    def finished(**kwargs):
        seen.append(("finished", threading.current_thread().name))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        assert _asgi("/endpoints/anything", body=b"{}")["status"] == 401
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)

    assert [what for what, _ in seen] == ["started", "finished"]
    # Both in the loop's thread: Django's own handler sends them on its sync
    # thread, which for async_to_sync is the calling (this) thread.
    assert seen[0][1] == seen[1][1] != threading.current_thread().name
