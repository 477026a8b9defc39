"""Endpoint deployments driven by the official craft-ai-sdk (and plain HTTP) on the live stack."""

from __future__ import annotations

import uuid

import pytest
import requests
from craft_ai_sdk import InputSource, OutputDestination
from craft_ai_sdk.exceptions import SdkException
from craft_ai_sdk.io import Input, Output

pytestmark = pytest.mark.e2e

ADDER = """
def add(number1, number2):
    return {"number3": (number1 or 0) + (number2 or 0)}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def adder(live_platform, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("adder")
    (folder / "src").mkdir()
    (folder / "src" / "main.py").write_text(ADDER)
    name = unique("adder")
    live_platform.sdk().create_pipeline(
        pipeline_name=name,
        function_path="src/main.py",
        function_name="add",
        container_config={"local_folder": str(folder)},
        inputs=[Input("number1", "number"), Input("number2", "number")],
        outputs=[Output("number3", "number")],
    )
    return name


def endpoint(sdk, pipeline: str, **kwargs) -> dict:
    return sdk.create_deployment(
        pipeline_name=pipeline,
        deployment_name=unique("ep"),
        execution_rule="endpoint",
        **kwargs,
    )


def test_it_serves_an_auto_mapped_endpoint_with_and_without_token(
    sdk, adder, live_platform
):
    deployment = endpoint(sdk, adder, inputs_mapping=[], outputs_mapping=[])
    name, token = deployment["name"], deployment["endpoint_token"]

    with_token = sdk.trigger_endpoint(
        name, endpoint_token=token, inputs={"number1": 9, "number2": 6}
    )
    without_token = sdk.trigger_endpoint(name, inputs={"number1": 1, "number2": 2})
    plain = requests.post(
        f"{live_platform.url}/endpoints/{deployment['endpoint_url_path']}",
        headers={"Authorization": f"EndpointToken {token}"},
        json={"number1": 2, "number2": 2},
        timeout=60,
    )

    assert with_token["outputs"] == {"number3": 15}
    assert without_token["outputs"] == {"number3": 3}
    assert plain.status_code == 200 and plain.json()["outputs"] == {"number3": 4}
    assert sdk.get_deployment(name)["last_execution_id"] == plain.json()["execution_id"]


def test_it_renames_endpoint_inputs_and_outputs(sdk, adder):
    deployment = endpoint(
        sdk,
        adder,
        inputs_mapping=[
            InputSource(pipeline_input_name="number1", endpoint_input_name="number_a"),
            InputSource(pipeline_input_name="number2", endpoint_input_name="number_b"),
        ],
        outputs_mapping=[
            OutputDestination(
                pipeline_output_name="number3", endpoint_output_name="result"
            )
        ],
    )

    result = sdk.trigger_endpoint(
        deployment["name"],
        endpoint_token=deployment["endpoint_token"],
        inputs={"number_a": 9, "number_b": 6},
    )

    assert result["outputs"] == {"result": 15}


def test_it_feeds_constants_and_records_their_source(sdk, adder):
    deployment = endpoint(
        sdk,
        adder,
        inputs_mapping=[
            InputSource(pipeline_input_name="number1", constant_value=6),
            InputSource(pipeline_input_name="number2", constant_value=3),
        ],
    )

    result = sdk.trigger_endpoint(
        deployment["name"], endpoint_token=deployment["endpoint_token"]
    )

    assert result["outputs"] == {"number3": 9}
    execution = sdk.get_pipeline_execution(result["execution_id"])
    sources = {i["pipeline_input_name"]: i["source"] for i in execution["inputs"]}
    assert sources == {"number1": "constant", "number2": "constant"}


def test_it_reads_environment_variables_at_execution_time(sdk, adder):
    first, second = (
        f"E2E_{uuid.uuid4().hex[:6].upper()}",
        f"E2E_{uuid.uuid4().hex[:6].upper()}",
    )
    sdk.create_or_update_environment_variable(first, 6)
    sdk.create_or_update_environment_variable(second, 4)
    deployment = endpoint(
        sdk,
        adder,
        inputs_mapping=[
            InputSource(pipeline_input_name="number1", environment_variable_name=first),
            InputSource(
                pipeline_input_name="number2", environment_variable_name=second
            ),
        ],
    )

    result = sdk.trigger_endpoint(
        deployment["name"], endpoint_token=deployment["endpoint_token"]
    )

    assert result["outputs"] == {"number3": 10}


def test_it_maps_inputs_and_outputs_to_null(sdk, adder):
    deployment = endpoint(
        sdk,
        adder,
        inputs_mapping=[
            InputSource(pipeline_input_name="number1", is_null=True),
            InputSource(pipeline_input_name="number2", is_null=True),
        ],
        outputs_mapping=[
            OutputDestination(pipeline_output_name="number3", is_null=True)
        ],
    )

    result = sdk.trigger_endpoint(
        deployment["name"], endpoint_token=deployment["endpoint_token"]
    )

    assert result["outputs"] == {}


def test_it_refuses_wrong_missing_and_rotated_tokens(sdk, adder, live_platform):
    deployment = endpoint(sdk, adder)
    name, old = deployment["name"], deployment["endpoint_token"]
    url = f"{live_platform.url}/endpoints/{deployment['endpoint_url_path']}"

    with pytest.raises(SdkException):
        sdk.trigger_endpoint(name, endpoint_token="wrong", inputs={"number1": 1})
    missing = requests.post(url, json={"number1": 1}, timeout=30)
    new = sdk.generate_new_endpoint_token(name)["endpoint_token"]
    with pytest.raises(SdkException):
        sdk.trigger_endpoint(name, endpoint_token=old, inputs={"number1": 1})
    result = sdk.trigger_endpoint(
        name, endpoint_token=new, inputs={"number1": 1, "number2": 1}
    )

    assert missing.status_code == 401 and "message" in missing.json()
    assert new != old and result["outputs"] == {"number3": 2}


@pytest.mark.parametrize("schedule", ["61 * * * *", "* * * * * *", "0 0 30 2 *"])
def test_it_refuses_invalid_schedules(sdk, adder, schedule):
    with pytest.raises(SdkException, match="schedule"):
        sdk.create_deployment(
            pipeline_name=adder,
            deployment_name=unique("per"),
            execution_rule="periodic",
            schedule=schedule,
            inputs_mapping=[
                InputSource(pipeline_input_name="number1", constant_value=1),
                InputSource(pipeline_input_name="number2", constant_value=1),
            ],
            outputs_mapping=[
                OutputDestination(pipeline_output_name="number3", is_null=True)
            ],
        )


def test_it_names_the_unmapped_periodic_input(sdk, adder):
    with pytest.raises(SdkException, match="number2"):
        sdk.create_deployment(
            pipeline_name=adder,
            deployment_name=unique("per"),
            execution_rule="periodic",
            schedule="* * * * *",
            inputs_mapping=[
                InputSource(pipeline_input_name="number1", constant_value=1)
            ],
            outputs_mapping=[
                OutputDestination(pipeline_output_name="number3", is_null=True)
            ],
        )


def test_it_disables_then_deletes_with_its_executions(sdk, adder, live_platform):
    deployment = endpoint(sdk, adder)
    name, token = deployment["name"], deployment["endpoint_token"]
    done = sdk.trigger_endpoint(
        name, endpoint_token=token, inputs={"number1": 1, "number2": 1}
    )

    disabled = sdk.update_deployment(name, is_enabled=False)
    refused = requests.post(
        f"{live_platform.url}/endpoints/{deployment['endpoint_url_path']}",
        headers={"Authorization": f"EndpointToken {token}"},
        json={"number1": 1},
        timeout=30,
    )
    deleted = sdk.delete_deployment(name)

    assert disabled["status"] == "disabled" and disabled["is_enabled"] is False
    assert refused.status_code == 403 and "disabled" in refused.json()["message"]
    assert deleted == {"name": name, "execution_rule": "endpoint"}
    assert name not in [d["name"] for d in sdk.list_deployments()]
    with pytest.raises(SdkException):
        sdk.get_pipeline_execution(done["execution_id"])
