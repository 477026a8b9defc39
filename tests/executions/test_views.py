from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from executions.models import EnvironmentVariable, Execution, ExecutionStatus, LogLine
from executions.services import execution_claim, execution_finish
from pipelines.models import Pipeline, PipelineStatus


@pytest.mark.parametrize(
    "url",
    [
        "/executions/",
        "/executions/x-1/",
        "/executions/x-1/logs/",
        "/pipelines/adder/run/",
        "/environment-variables/",
    ],
)
def test_it_sends_anonymous_visitors_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/accounts/login" in response["Location"]


def test_it_lists_executions_newest_first(alice_client, make_execution):
    old, new = make_execution(), make_execution()
    body = alice_client.get("/executions/").content.decode()
    assert body.index(new.execution_id) < body.index(old.execution_id)


def test_it_filters_by_status(alice_client, make_execution):
    running, pending = make_execution(), make_execution()
    execution_claim(execution_pk=running.pk)
    body = alice_client.get("/executions/?status=Running").content.decode()
    assert running.execution_id in body
    assert pending.execution_id not in body


def test_it_renders_only_the_results_for_htmx(alice_client, make_execution):
    make_execution()
    body = alice_client.get(
        "/executions/?pipeline=adder", headers={"HX-Request": "true"}
    ).content.decode()
    assert body.lstrip().startswith('<div id="results"')
    assert "<html" not in body


def test_it_shows_an_execution(alice_client, make_execution):
    execution = make_execution(number1=9)
    LogLine.objects.create(
        execution=execution,
        seq=1,
        timestamp=datetime.now(UTC),
        stream="stdout",
        message="<script>x</script>",
    )
    body = alice_client.get(f"/executions/{execution.execution_id}/").content.decode()
    assert "number1" in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body
    assert "<script>x</script>" not in body
    assert 'hx-trigger="every 1s"' in body


def test_it_shows_where_each_attempt_ran(alice_client, make_execution):
    execution = make_execution()
    execution_claim(execution_pk=execution.pk, runner="node-b:42")
    Execution.objects.filter(pk=execution.pk).update(
        attempts=[
            {
                "runner": "node-a:7",
                "started_at": "2026-12-04T10:00:00+00:00",
                "ended": "its pod host died",
            }
        ]
    )

    body = alice_client.get(f"/executions/{execution.execution_id}/").content.decode()

    assert "Ran on" in body and "node-b:42" in body
    assert "attempt 1 on node-a:7" in body and "its pod host died" in body


def test_it_404s_an_unknown_execution(alice_client, db):
    assert alice_client.get("/executions/nope-1/").status_code == 404


def test_it_tails_logs_after_the_cursor(alice_client, make_execution):
    execution = make_execution()
    for seq in (1, 2, 3):
        LogLine.objects.create(
            execution=execution,
            seq=seq,
            timestamp=datetime.now(UTC),
            stream="stdout",
            message=f"line {seq}",
        )
    response = alice_client.get(
        f"/executions/{execution.execution_id}/logs/?after=2",
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "line 3" in body and "line 2" not in body
    assert "after=3" in body


def test_it_stops_polling_once_final(alice_client, make_execution):
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    execution_finish(execution=execution, status=ExecutionStatus.SUCCEEDED, reason=None)
    response = alice_client.get(
        f"/executions/{execution.execution_id}/logs/?after=0",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 286


def test_it_truncates_very_long_lines_for_display(alice_client, make_execution):
    execution = make_execution()
    LogLine.objects.create(
        execution=execution,
        seq=1,
        timestamp=datetime.now(UTC),
        stream="stdout",
        message="x" * 5000,
    )
    body = alice_client.get(f"/executions/{execution.execution_id}/").content.decode()
    assert "3000 more characters" in body


def test_it_deletes_with_post_only(alice_client, make_execution):
    execution = make_execution()
    url = f"/executions/{execution.execution_id}/delete/"
    assert alice_client.get(url).status_code == 405
    response = alice_client.post(url)
    assert response.status_code == 302
    assert not Execution.objects.exists()


def test_it_runs_from_the_form(alice_client, pipeline):
    response = alice_client.post(
        "/pipelines/adder/run/", {"input-number1": "9", "input-label": "hi"}
    )
    execution = Execution.objects.get()
    assert response["Location"] == f"/executions/{execution.execution_id}/"
    assert execution.io.get(name="number1").value == 9
    assert execution.io.get(name="number2").value == 2


def test_it_shows_errors_next_to_fields(alice_client, pipeline):
    response = alice_client.post("/pipelines/adder/run/", {"input-number1": "abc"})
    assert response.status_code == 400
    assert "Input &#x27;number1&#x27; must be a number" in response.content.decode()
    assert not Execution.objects.exists()


def test_it_shows_a_missing_required_input(alice_client, pipeline):
    response = alice_client.post("/pipelines/adder/run/", {})
    assert response.status_code == 400
    assert "is required" in response.content.decode()


def test_it_shows_every_inputs_problem_at_once(alice_client, alice):
    Pipeline.objects.create(
        name="two-required",
        function_path="m.py",
        function_name="f",
        status=PipelineStatus.READY,
        inputs=[
            {"name": "count", "data_type": "number", "is_required": True},
            {"name": "doc", "data_type": "file", "is_required": True},
            {"name": "flag", "data_type": "boolean"},
        ],
    )
    response = alice_client.post(
        "/pipelines/two-required/run/", {"input-flag": "maybe"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Input &#x27;count&#x27; is required" in body
    assert "Input &#x27;doc&#x27; is required: upload a file." in body
    assert "flag" in body and "must be a boolean" in body


def test_it_uploads_files_from_the_form(alice_client, alice):
    Pipeline.objects.create(
        name="reader",
        function_path="m.py",
        function_name="f",
        status=PipelineStatus.READY,
        inputs=[{"name": "doc", "data_type": "file", "is_required": True}],
    )
    alice_client.post(
        "/pipelines/reader/run/", {"input-doc": SimpleUploadedFile("a.txt", b"hello")}
    )
    row = Execution.objects.get().io.get(name="doc")
    assert Path(row.file_path).read_bytes() == b"hello"


def test_it_renders_the_pipeline_include(alice_client, make_execution, pipeline):
    from django.template.loader import render_to_string

    execution = make_execution()
    html = render_to_string(
        "executions/_pipeline_run.html",
        {"pipeline": pipeline, "latest_executions": [execution]},
    )
    assert 'name="input-number1"' in html
    assert execution.execution_id in html


def test_it_saves_and_masks_variables(alice_client, db):
    response = alice_client.post(
        "/environment-variables/", {"name": "TOKEN", "value": "s3cret"}
    )
    assert response.status_code == 302
    body = alice_client.get("/environment-variables/").content.decode()
    assert 'data-secret="s3cret"' in body
    assert ">s3cret<" not in body


def test_it_refuses_a_bad_variable_name(alice_client, db):
    response = alice_client.post(
        "/environment-variables/", {"name": "1x", "value": "v"}
    )
    assert response.status_code == 400
    assert not EnvironmentVariable.objects.exists()


def test_it_deletes_a_variable(alice_client, db):
    EnvironmentVariable.objects.create(name="A", value="1")
    assert alice_client.get("/environment-variables/A/delete/").status_code == 405
    alice_client.post("/environment-variables/A/delete/")
    assert not EnvironmentVariable.objects.exists()
    assert alice_client.post("/environment-variables/A/delete/").status_code == 404


def test_it_reloads_the_page_once_final(alice_client, make_execution):
    execution = make_execution()
    url = f"/executions/{execution.execution_id}/?fragment=status"
    assert "HX-Refresh" not in alice_client.get(url, headers={"HX-Request": "true"})
    execution_claim(execution_pk=execution.pk)
    execution_finish(execution=execution, status=ExecutionStatus.SUCCEEDED, reason=None)
    assert alice_client.get(url, headers={"HX-Request": "true"})["HX-Refresh"] == "true"


def test_it_polls_the_first_page_every_2_seconds(alice_client, make_execution):
    make_execution()
    body = alice_client.get("/executions/").content.decode()
    assert 'hx-trigger="every 2s"' in body
    assert 'data-live="visible-only"' in body


def test_it_offers_pipelines_as_choices(alice_client, make_execution):
    execution = make_execution()
    body = alice_client.get("/executions/").content.decode()
    assert f'<option value="{execution.pipeline_name}">' in body


def test_it_pages_older_executions_by_cursor(alice_client, make_execution, monkeypatch):
    monkeypatch.setattr("executions.views.executions.PAGE_SIZE", 2)
    oldest, middle, newest = make_execution(), make_execution(), make_execution()
    first = alice_client.get("/executions/").content.decode()
    assert f"before={middle.execution_id}" in first
    assert oldest.execution_id not in first

    older = alice_client.get(f"/executions/?before={middle.execution_id}")
    body = older.content.decode()
    assert oldest.execution_id in body and newest.execution_id not in body
    assert 'hx-trigger="every 2s"' not in body  # older pages stand still


def test_it_shows_the_failure_reason(alice_client, make_execution):
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    execution_finish(
        execution=execution, status=ExecutionStatus.FAILED, reason="ValueError: boom"
    )
    body = alice_client.get("/executions/").content.decode()
    assert "ValueError: boom" in body


def test_it_shows_outputs_as_pending_while_running(alice_client, make_execution):
    execution = make_execution()
    execution_claim(execution_pk=execution.pk)
    body = alice_client.get(f"/executions/{execution.execution_id}/").content.decode()
    assert "pending: the execution is still running" in body
