"""Crash safety: a killed worker's execution ends Error; a lost broker message still runs."""

from __future__ import annotations

import time

import pytest
import redis

from tests.e2e.test_executions_sdk import create_pipeline

pytestmark = pytest.mark.e2e

CODE = """
import time

def add(number1, number2):
    print("started", flush=True)
    time.sleep(number1)
    return {"total": number1 + number2}
"""


def wait_for_status(
    sdk, execution_id: str, wanted: set[str], *, within_s: float
) -> dict:
    """Poll (bounded) until the execution reaches one of `wanted`."""
    deadline = time.monotonic() + within_s
    while True:
        execution = sdk.get_pipeline_execution(execution_id)
        if execution["status"] in wanted or time.monotonic() > deadline:
            return execution
        time.sleep(0.5)


def wait_for_log(sdk, execution_id: str, text: str, *, within_s: float) -> str:
    """Poll (bounded) until a log line containing `text` is visible; return all lines."""
    deadline = time.monotonic() + within_s
    while True:
        logs = sdk.get_pipeline_execution_logs(execution_id)
        lines = "\n".join(line["message"] for line in logs)
        if text in lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_it_marks_the_execution_of_a_killed_worker_as_error(
    sdk, tmp_path, live_platform
):
    name = create_pipeline(sdk, tmp_path, "add", code=CODE)
    execution_id = sdk.run_pipeline(
        name, inputs={"number1": 120, "number2": 0}, wait_for_completion=False
    )["execution_id"]
    assert (
        wait_for_status(sdk, execution_id, {"Running"}, within_s=30)["status"]
        == "Running"
    )
    # Logs are flushed while the execution runs, not only at its end.
    assert "started" in wait_for_log(sdk, execution_id, "started", within_s=30)
    live_platform.kill("worker")
    live_platform.start("worker")
    execution = wait_for_status(
        sdk, execution_id, {"Error", "Failed", "Succeeded"}, within_s=60
    )
    assert execution["status"] == "Error"
    assert execution["status_reason"].startswith("No heartbeat for")


def test_it_runs_a_pending_execution_whose_message_was_lost(
    sdk, tmp_path, live_platform
):
    name = create_pipeline(sdk, tmp_path, "add", code=CODE)
    live_platform.kill("worker")
    try:
        execution_id = sdk.run_pipeline(
            name, inputs={"number1": 0, "number2": 5}, wait_for_completion=False
        )["execution_id"]
        redis.Redis.from_url(live_platform.env["REDIS_URL"]).flushdb()
    finally:
        live_platform.start("worker")
    execution = wait_for_status(
        sdk, execution_id, {"Succeeded", "Failed", "Error"}, within_s=90
    )
    assert execution["status"] == "Succeeded"
    assert execution["outputs"][0]["value"] == 5
