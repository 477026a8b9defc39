"""A periodic deployment really fires on the live stack (scheduler process + worker)."""

from __future__ import annotations

import time
import uuid

import pytest
from craft_ai_sdk import InputSource, OutputDestination
from craft_ai_sdk.io import Input, Output

pytestmark = pytest.mark.e2e

ECHO = """
def echo(number1, label):
    print("tick", number1, label)
    return {"number3": number1 * 2}
"""
TICK_WAIT_S = 75  # one minutely tick plus start-up slack


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(condition, *, timeout_s: float, every_s: float = 0.5):
    """Bounded polling: the condition's last truthy value, or None after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    return None


def test_it_fires_a_minutely_deployment_with_its_constants(live_platform, tmp_path):
    sdk = live_platform.sdk()
    (tmp_path / "echo.py").write_text(ECHO)
    pipeline = unique("echo")
    sdk.create_pipeline(
        pipeline_name=pipeline,
        function_path="echo.py",
        function_name="echo",
        container_config={"local_folder": str(tmp_path)},
        inputs=[Input("number1", "number"), Input("label", "string")],
        outputs=[Output("number3", "number")],
    )
    mapping = {
        "inputs_mapping": [
            InputSource(pipeline_input_name="number1", constant_value=21),
            InputSource(pipeline_input_name="label", is_null=True),
        ],
        "outputs_mapping": [
            OutputDestination(pipeline_output_name="number3", is_null=True)
        ],
    }
    fired = sdk.create_deployment(
        pipeline_name=pipeline,
        deployment_name=unique("every-minute"),
        execution_rule="periodic",
        schedule="* * * * *",
        **mapping,
    )
    quiet = sdk.create_deployment(
        pipeline_name=pipeline,
        deployment_name=unique("disabled"),
        execution_rule="periodic",
        schedule="* * * * *",
        **mapping,
    )
    sdk.update_deployment(quiet["name"], is_enabled=False)

    execution_id = wait_for(
        lambda: sdk.get_deployment(fired["name"])["last_execution_id"],
        timeout_s=TICK_WAIT_S,
    )
    assert execution_id, (
        f"no execution within {TICK_WAIT_S} s; see {live_platform.log_dir}"
    )
    execution = wait_for(
        lambda: (
            (e := sdk.get_pipeline_execution(execution_id))["status"]
            not in ("Pending", "Running")
            and e
        ),
        timeout_s=60,
    )

    assert fired["human_readable_schedule"] == "Every minute"
    assert execution["status"] == "Succeeded"
    inputs = {i["pipeline_input_name"]: i for i in execution["inputs"]}
    assert (
        inputs["number1"]["source"] == "constant" and inputs["number1"]["value"] == 21
    )
    assert inputs["label"]["source"] == "is_null"
    rows = live_platform.sql(
        "SELECT scheduled_for FROM executions_execution WHERE execution_id = %s",
        execution_id,
    )
    assert rows[0][0] is not None and rows[0][0].second == 0
    assert sdk.get_deployment(quiet["name"])["last_execution_id"] is None
