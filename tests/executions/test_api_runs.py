from __future__ import annotations

import json

from executions.models import Execution, ExecutionIo
from pipelines.models import PipelineStatus


def test_it_runs_a_pipeline(api_client, pipeline):
    response = api_client.post(
        "/api/v1/pipelines/adder/run", {"json_inputs": json.dumps({"number1": 9})}
    )
    assert response.status_code == 200
    execution = Execution.objects.get(execution_id=response.json()["execution_id"])
    assert execution.io.get(name="number1").value == 9


def test_it_names_a_wrong_typed_input(api_client, pipeline):
    response = api_client.post(
        "/api/v1/pipelines/adder/run", {"json_inputs": json.dumps({"number1": "abc"})}
    )
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == "Input 'number1' must be a number, got string 'abc'."
    )
    assert not Execution.objects.exists()


def test_it_names_a_missing_required_input(api_client, pipeline):
    response = api_client.post("/api/v1/pipelines/adder/run", {"json_inputs": "{}"})
    assert response.status_code == 400
    assert "'number1' is required" in response.json()["message"]


def test_it_applies_mappings(api_client, pipeline):
    response = api_client.post(
        "/api/v1/pipelines/adder/run",
        {
            "json_inputs": "{}",
            "inputs_mapping": json.dumps(
                [{"pipeline_input_name": "number1", "constant_value": 4}]
            ),
            "outputs_mapping": json.dumps(
                [{"pipeline_output_name": "total", "is_null": True}]
            ),
        },
    )
    assert response.status_code == 200
    rows = {r.name: r for r in ExecutionIo.objects.all()}
    assert rows["number1"].mapping_type == "constant"
    assert rows["total"].mapping_type == "is_null"


def test_it_refuses_malformed_json_inputs(api_client, pipeline):
    response = api_client.post("/api/v1/pipelines/adder/run", {"json_inputs": "{nope"})
    assert response.status_code == 400
    assert "json_inputs" in response.json()["message"]


def test_it_refuses_a_pipeline_that_is_not_ready(api_client, pipeline):
    pipeline.status = PipelineStatus.CREATION_PENDING
    pipeline.save()
    response = api_client.post(
        "/api/v1/pipelines/adder/run", {"json_inputs": json.dumps({"number1": 1})}
    )
    assert response.status_code == 400
    assert "not ready" in response.json()["message"]


def test_it_404s_an_unknown_pipeline(api_client, db):
    response = api_client.post("/api/v1/pipelines/ghost/run", {"json_inputs": "{}"})
    assert response.status_code == 404
    assert "ghost" in response.json()["message"]


def test_it_needs_a_token(client, pipeline):
    response = client.post("/api/v1/pipelines/adder/run", {"json_inputs": "{}"})
    assert response.status_code == 401


def test_it_answers_204_when_there_is_no_latest(api_client, pipeline):
    assert (
        api_client.get("/api/v1/pipelines/adder/executions/latest").status_code == 204
    )


def test_it_gives_the_latest_execution(api_client, make_execution):
    make_execution()
    latest = make_execution()
    response = api_client.get("/api/v1/pipelines/adder/executions/latest")
    assert response.json() == {"execution_id": latest.execution_id}


def test_it_lists_executions(api_client, make_execution):
    execution = make_execution()
    items = api_client.get("/api/v1/pipelines/adder/executions").json()
    assert [i["execution_id"] for i in items] == [execution.execution_id]
    assert set(items[0]) == {
        "execution_id",
        "status",
        "created_at",
        "created_by",
        "end_date",
        "pipeline_name",
        "deployment_name",
    }
