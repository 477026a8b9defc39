from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

from executions.models import Execution, ExecutionIo, ExecutionStatus, LogLine
from executions.services import execution_claim, execution_finish


def finish(execution, status=ExecutionStatus.SUCCEEDED, reason=None, outputs=None):
    execution_claim(execution_pk=execution.pk)
    execution_finish(
        execution=execution,
        status=status,
        reason=reason,
        outputs=outputs or {"total": {"value": 3}},
    )


def test_it_returns_the_execution_object(api_client, make_execution):
    execution = make_execution(number1=9)
    body = api_client.get(f"/api/v1/executions/{execution.execution_id}").json()
    assert body["status"] == "Pending"
    assert body["created_at"].endswith("Z")
    assert body["steps"][0]["name"] == "adder"
    assert body["inputs"][0] == {
        "pipeline_input_name": "number1",
        "data_type": "number",
        "mapping_type": "run",
        "mapping_value": {},
        "value": 9,
    }
    assert body["outputs"][0]["pipeline_output_name"] == "total"


def test_it_leaves_values_out_on_request(api_client, make_execution):
    execution = make_execution()
    body = api_client.get(
        f"/api/v1/executions/{execution.execution_id}?include_io_values=false"
    ).json()
    assert "value" not in body["inputs"][0]


def test_it_404s_an_unknown_execution(api_client, db):
    response = api_client.get("/api/v1/executions/nope-123")
    assert response.status_code == 404
    assert response.json()["name"] == "NotFound"


def test_it_returns_outputs_once_succeeded(api_client, make_execution):
    execution = make_execution()
    finish(execution)
    response = api_client.get(
        f"/api/v1/executions/{execution.execution_id}/outputs?wait_for_completion=true"
    )
    assert response.status_code == 200
    assert response.json()["outputs"][0]["value"] == 3


def test_it_answers_307_while_running(api_client, make_execution, settings):
    settings.LONG_POLL_HOLD_S = 0
    execution = make_execution()
    url = (
        f"/api/v1/executions/{execution.execution_id}/outputs?wait_for_completion=true"
    )
    response = api_client.get(url)
    assert response.status_code == 307
    assert response["Location"] == url
    assert response.json()["execution_id"] == execution.execution_id


def test_it_reports_a_failure_as_an_error(api_client, make_execution):
    execution = make_execution()
    finish(execution, status=ExecutionStatus.FAILED, reason="ValueError: no luck")
    response = api_client.get(
        f"/api/v1/executions/{execution.execution_id}/outputs?wait_for_completion=true"
    )
    assert response.status_code == 500
    body = response.json()
    assert body["name"] == "ExecutionFailed"
    assert (
        body["message"]
        == f"Execution {execution.execution_id} failed: ValueError: no luck"
    )
    assert body["additional_data"] == {
        "execution_id": execution.execution_id,
        "status": "Failed",
    }


def test_it_returns_plain_values(api_client, make_execution):
    execution = make_execution(number1=9, label="text")
    finish(execution)
    base = f"/api/v1/executions/{execution.execution_id}"
    assert api_client.get(f"{base}/inputs/number1").json() == 9
    assert api_client.get(f"{base}/inputs/label").json() == "text"
    assert api_client.get(f"{base}/outputs/total").json() == 3


def test_it_returns_null_for_a_value_not_there_yet(api_client, make_execution):
    execution = make_execution()
    response = api_client.get(
        f"/api/v1/executions/{execution.execution_id}/outputs/total"
    )
    assert response.status_code == 200
    assert response.content == b"null"


def test_it_serves_files_as_octet_stream(api_client, make_execution, tmp_path):
    execution = make_execution()
    stored = tmp_path / "result.bin"
    stored.write_bytes(b"\x00\x01")
    ExecutionIo.objects.filter(execution=execution, name="total").update(
        data_type="file", file_path=str(stored)
    )
    response = api_client.get(
        f"/api/v1/executions/{execution.execution_id}/outputs/total"
    )
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"\x00\x01"


def test_it_404s_an_unknown_output(api_client, make_execution):
    execution = make_execution()
    response = api_client.get(
        f"/api/v1/executions/{execution.execution_id}/outputs/ghost"
    )
    assert response.status_code == 404
    assert "ghost" in response.json()["message"]


def add_lines(execution, *stamps_ms):
    for seq, ms in enumerate(stamps_ms, start=1):
        LogLine.objects.create(
            execution=execution,
            seq=seq,
            stream="stdout" if seq % 2 else "stderr",
            timestamp=datetime.fromtimestamp(ms / 1000, UTC),
            message=f"line {seq}",
        )


def test_it_returns_logs_as_a_list_of_lists(api_client, make_execution):
    execution = make_execution()
    add_lines(execution, 1000, 2000, 3000)
    body = api_client.post(
        f"/api/v1/executions/{execution.execution_id}/logs",
        {},
        content_type="application/json",
    ).json()
    assert [line["message"] for line in body[0]] == ["line 1", "line 2", "line 3"]
    assert body[0][1]["stream"] == "stderr"
    assert body[0][0]["timestamp"] == "1970-01-01T00:00:01.000Z"


def test_it_filters_logs_by_window_and_limit(api_client, make_execution):
    execution = make_execution()
    add_lines(execution, 1000, 2000, 3000, 4000)
    body = api_client.post(
        f"/api/v1/executions/{execution.execution_id}/logs",
        {"from": 2000, "to": 4000, "limit": 1},
        content_type="application/json",
    ).json()
    assert [line["message"] for line in body[0]] == ["line 2"]


def test_it_deletes_an_execution(api_client, make_execution):
    execution = make_execution()
    with mock.patch("platform_site.http.notify.publish"):
        response = api_client.delete(f"/api/v1/executions/{execution.execution_id}")
    assert response.json() == {"execution_id": execution.execution_id}
    assert not Execution.objects.exists()
    assert (
        api_client.get(f"/api/v1/executions/{execution.execution_id}").status_code
        == 404
    )
