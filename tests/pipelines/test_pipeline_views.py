"""Pipeline pages: list, detail with live log, create form, delete, code download."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from deployments.models import Deployment
from executions.models import Execution
from pipelines.models import Pipeline, PipelineLog, PipelineStatus
from pipelines.services.pipelines import pipeline_build, pipeline_create
from tests.pipelines.test_pipeline_build import MAIN, code_tar

NEW = "/pipelines/new/"


@pytest.fixture
def pipeline(alice):
    return pipeline_create(
        name="p1",
        function_path="src/main.py",
        function_name="f",
        description="Adds <b>numbers</b>",
        inputs=[
            {"name": "a", "data_type": "number", "is_required": True},
            {"name": "b", "data_type": "number", "default_value": 2},
        ],
        outputs=[{"name": "s", "data_type": "number"}],
        archive=code_tar({"src/main.py": MAIN}),
        created_by=alice,
    )


def test_it_lists_pipelines(alice_client, pipeline):
    response = alice_client.get("/pipelines/")

    assert response.status_code == 200
    assert b'href="/pipelines/p1/"' in response.content
    assert b"status-creation_pending" in response.content


def test_it_shows_an_empty_state(alice_client):
    response = alice_client.get("/pipelines/")

    assert b"No pipeline yet" in response.content


def test_it_redirects_anonymous_users_to_login(pipeline):
    for url in ("/pipelines/", "/pipelines/p1/", NEW, "/pipelines/p1/code"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_it_shows_a_pipeline(alice_client, pipeline):
    response = alice_client.get("/pipelines/p1/")

    assert response.status_code == 200
    assert b"Adds &lt;b&gt;numbers&lt;/b&gt;" in response.content
    assert b"Pipeline creation requested by alice" in response.content
    assert b'hx-trigger="every 1s"' in response.content


def test_it_shows_another_users_pipeline(pipeline, bob):
    client = Client()
    client.force_login(bob)

    assert client.get("/pipelines/p1/").status_code == 200


def test_it_stops_polling_once_built(alice_client, pipeline):
    pipeline_build(pipeline_id=pipeline.pk)

    page = alice_client.get("/pipelines/p1/")
    poll = alice_client.get(
        "/pipelines/p1/logs?after=0", headers={"HX-Request": "true"}
    )

    assert b'hx-trigger="every 1s"' not in page.content
    assert b"Pipeline is ready" in page.content
    assert poll.status_code == 286
    assert poll["HX-Refresh"] == "true"


def test_it_polls_new_log_lines_after_the_cursor(alice_client, pipeline):
    first = pipeline.logs.order_by("id").first()

    fresh = alice_client.get(
        "/pipelines/p1/logs?after=0", headers={"HX-Request": "true"}
    )
    later = alice_client.get(
        f"/pipelines/p1/logs?after={first.id}", headers={"HX-Request": "true"}
    )

    assert fresh.status_code == 200
    assert b"Pipeline creation requested by alice" in fresh.content
    assert b'hx-swap-oob="beforeend:#pipeline-log-lines"' in fresh.content
    assert f"after={first.id}".encode() in fresh.content
    assert b"Pipeline creation requested" not in later.content


def test_it_answers_404_for_unknown_names(alice_client):
    assert alice_client.get("/pipelines/nope/").status_code == 404
    assert alice_client.post("/pipelines/nope/delete").status_code == 404


def test_it_refuses_wrong_methods(alice_client, pipeline):
    assert alice_client.post("/pipelines/p1/").status_code == 405
    assert alice_client.get("/pipelines/p1/delete").status_code == 405
    assert alice_client.delete(NEW).status_code == 405


def test_it_deletes_a_pipeline(alice_client, pipeline):
    response = alice_client.post("/pipelines/p1/delete")

    assert response.status_code == 302
    assert response["Location"] == "/pipelines/"
    assert not Pipeline.objects.filter(name="p1").exists()


def test_it_offers_force_when_deployments_exist(alice_client, pipeline):
    Deployment.objects.create(name="d1", pipeline=pipeline, execution_rule="endpoint")

    refused = alice_client.post("/pipelines/p1/delete")
    forced = alice_client.post("/pipelines/p1/delete", {"force": "on"})

    assert refused.status_code == 409
    assert b"force_deployments_deletion" in refused.content
    assert b'name="force" value="on"' in refused.content
    assert forced.status_code == 302
    assert not Deployment.objects.filter(name="d1").exists()


def test_it_redirects_to_a_signed_code_url(alice_client, pipeline):
    response = alice_client.get("/pipelines/p1/code")

    assert response.status_code == 302
    assert response["Location"].startswith("/files/pipelines/p1/archive?expires=")


def test_it_shows_the_create_form(alice_client):
    response = alice_client.get(NEW)

    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content
    assert b"Add input" in response.content


def test_it_creates_from_a_single_py_file(alice_client):
    response = alice_client.post(
        NEW,
        {
            "pipeline_name": "from-form",
            "function_name": "f",
            "code": SimpleUploadedFile("main.py", MAIN.encode()),
            "inputs[r1a2b3c][name]": "a",
            "inputs[r1a2b3c][data_type]": "number",
            "inputs[r1a2b3c][is_required]": "True",
            "inputs[r9f8e7d][name]": "b",
            "inputs[r9f8e7d][data_type]": "number",
            "inputs[r9f8e7d][default_value]": "3",
            "outputs[r000001][name]": "s",
            "outputs[r000001][data_type]": "number",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/pipelines/from-form/"
    pipeline = Pipeline.objects.get(name="from-form")
    assert pipeline.function_path == "main.py"
    assert [
        (i["name"], i["is_required"], i["default_value"]) for i in pipeline.inputs
    ] == [
        ("a", True, None),
        ("b", False, 3),
    ]
    pipeline_build(pipeline_id=pipeline.pk)
    pipeline.refresh_from_db()
    assert pipeline.status == PipelineStatus.READY


def test_it_creates_from_an_archive_with_a_function_path(alice_client):
    response = alice_client.post(
        NEW,
        {
            "pipeline_name": "from-archive",
            "function_name": "f",
            "function_path": "src/main.py",
            "code": SimpleUploadedFile("code.tar.gz", code_tar({"src/main.py": MAIN})),
            "inputs[r1a2b3c][name]": "a",
            "inputs[r1a2b3c][data_type]": "number",
        },
    )

    assert response.status_code == 302
    assert Pipeline.objects.get(name="from-archive").function_path == "src/main.py"


def test_it_shows_errors_next_to_fields(alice_client, pipeline):
    response = alice_client.post(
        NEW,
        {
            "pipeline_name": "p1",
            "function_name": "f",
            "code": SimpleUploadedFile("main.py", MAIN.encode()),
        },
    )

    assert response.status_code == 409
    assert b"already exists" in response.content
    assert b'value="p1"' in response.content


def test_it_requires_a_function_path_for_archives(alice_client):
    response = alice_client.post(
        NEW,
        {
            "pipeline_name": "x",
            "function_name": "f",
            "code": SimpleUploadedFile("code.zip", b"PK\x05\x06" + b"\0" * 18),
        },
    )

    assert response.status_code == 400
    assert b"path of the function" in response.content


def test_it_reports_a_bad_default_value(alice_client):
    response = alice_client.post(
        NEW,
        {
            "pipeline_name": "x",
            "function_name": "f",
            "code": SimpleUploadedFile("main.py", MAIN.encode()),
            "inputs[r1a2b3c][name]": "a",
            "inputs[r1a2b3c][data_type]": "json",
            "inputs[r1a2b3c][default_value]": "{not json",
        },
    )

    assert response.status_code == 400
    assert (
        b"Default value of input &#x27;a&#x27; must be valid JSON" in response.content
    )


def test_it_adds_and_removes_rows_without_javascript(alice_client):
    added = alice_client.post(NEW, {"pipeline_name": "x", "add": "input"})
    removed = alice_client.post(
        NEW,
        {
            "inputs[r1a2b3c][name]": "a",
            "inputs[r1a2b3c][data_type]": "string",
            "remove": "r1a2b3c",
        },
    )

    assert added.status_code == 200
    assert b'name="inputs[r' in added.content
    assert b'name="inputs[r1a2b3c]' not in removed.content
    assert not Pipeline.objects.exists()


def test_it_serves_a_row_fragment_to_htmx(alice_client):
    response = alice_client.get(
        "/pipelines/new/row?kind=output", headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert response.content.startswith(b"<tr>")
    assert b'name="outputs[r' in response.content
    assert b"<html" not in response.content


def test_it_keeps_the_file_of_a_form_refused(alice_client, pipeline):
    refused = alice_client.post(
        NEW,
        {
            "pipeline_name": "p1",
            "function_name": "f",
            "code": SimpleUploadedFile("main.py", MAIN.encode()),
        },
    )
    token = re.search(rb'name="code_kept" value="([0-9a-f]{32})"', refused.content)
    assert b"Kept: <strong>main.py</strong>" in refused.content

    response = alice_client.post(
        NEW,
        {"pipeline_name": "kept", "function_name": "f", "code_kept": token[1].decode()},
    )

    assert response.status_code == 302
    assert Pipeline.objects.get(name="kept").function_path == "main.py"


def test_it_never_gives_a_kept_file_to_another_user(alice_client, bob):
    bob_client = Client()
    bob_client.force_login(bob)
    refused = alice_client.post(
        NEW,
        {"function_name": "f", "code": SimpleUploadedFile("main.py", MAIN.encode())},
    )
    token = re.search(rb'name="code_kept" value="([0-9a-f]{32})"', refused.content)

    response = bob_client.post(
        NEW,
        {
            "pipeline_name": "stolen",
            "function_name": "f",
            "code_kept": token[1].decode(),
        },
    )

    assert response.status_code == 400
    assert not Pipeline.objects.filter(name="stolen").exists()


def _named(alice, name: str) -> Pipeline:
    return Pipeline.objects.create(
        name=name, function_path="main.py", function_name="f", created_by=alice
    )


def test_it_lists_pipelines_by_name(alice_client, alice):
    for name in ("zeta", "alpha", "mid"):
        _named(alice, name)
    html = alice_client.get("/pipelines/").content.decode()
    assert html.index(">alpha<") < html.index(">mid<") < html.index(">zeta<")


def test_it_searches_pipelines_by_name(alice_client, alice):
    _named(alice, "train-model")
    _named(alice, "report")
    response = alice_client.get("/pipelines/?q=TRAIN", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="pipelines">')
    assert "train-model" in body and "report" not in body


def test_it_shows_each_pipelines_last_run(alice_client, pipeline):
    Execution.objects.create(
        execution_id="p1-last",
        pipeline=pipeline,
        pipeline_name="p1",
        status="Failed",
        timeout_s=60,
        memory_limit_mib=256,
    )
    html = alice_client.get("/pipelines/").content.decode()
    assert "/executions/p1-last/" in html and 'data-status="Failed"' in html


def test_it_shows_a_failed_builds_reason_first(alice_client, pipeline):
    Pipeline.objects.filter(pk=pipeline.pk).update(
        status=PipelineStatus.CREATION_FAILED
    )
    for message in [
        "ERROR: No matching distribution found for nosuchpkg",
        *["noise"] * 300,
        "Pipeline creation failed",
    ]:
        PipelineLog.objects.create(
            pipeline=pipeline, message=message, timestamp=timezone.now()
        )
    html = alice_client.get("/pipelines/p1/").content.decode()
    reason = html.index('id="failure-reason"')
    assert reason < html.index("<h2>Inputs</h2>")
    assert "No matching distribution found for nosuchpkg" in html[reason : reason + 300]


def test_it_renders_only_the_latest_executions_for_htmx(alice_client, pipeline):
    response = alice_client.get(
        "/pipelines/p1/?fragment=executions", headers={"HX-Request": "true"}
    )
    assert response.content.decode().lstrip().startswith('<div id="latest-executions"')
