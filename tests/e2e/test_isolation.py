"""Elastic executions share nothing: no platform secret, no state between runs, bounded memory."""

from __future__ import annotations

import pytest
from craft_ai_sdk import Input, Output, SdkException

from tests.e2e.test_executions_sdk import create_pipeline

pytestmark = pytest.mark.e2e

CODE = """
import os

SEEN = []

def env(label):
    for key, value in sorted(os.environ.items()):
        print(f"{key}={value}")
    return {"keys": sorted(os.environ), "values": sorted(os.environ.values())}

def counter(label):
    SEEN.append(label)
    return {"keys": SEEN, "values": []}

def hog(label):
    blob = bytearray(64 * 1024 * 1024 * 1024)
    return {"keys": [str(len(blob))], "values": []}
"""

IO = {
    "inputs": [Input("label", "string")],
    "outputs": [Output("keys", "array"), Output("values", "array")],
}


def test_it_gives_user_code_no_platform_secret(sdk, tmp_path, live_platform):
    name = create_pipeline(sdk, tmp_path, "env", code=CODE, **IO)
    result = sdk.run_pipeline(name, inputs={"label": "x"})
    keys, values = result["outputs"]["keys"], result["outputs"]["values"]
    assert "CRAFT_AI_EXECUTION_ID" in keys
    assert not {
        "DATABASE_URL",
        "SECRET_KEY",
        "REDIS_URL",
        "DJANGO_SETTINGS_MODULE",
        "PLATFORM_DATA_DIR",
    } & set(keys)
    secret_key = (live_platform.data_dir / "secret_key").read_text().strip()
    printed = "\n".join(
        line["message"]
        for line in sdk.get_pipeline_execution_logs(result["execution_id"])
    )
    for secret in (
        secret_key,
        live_platform.database_url,
        live_platform.env["REDIS_URL"],
        live_platform.sdk_token,
    ):
        assert secret not in values
        assert secret not in printed


def test_it_starts_every_execution_from_a_fresh_state(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "counter", code=CODE, **IO)
    first = sdk.run_pipeline(name, inputs={"label": "first"})["outputs"]["keys"]
    second = sdk.run_pipeline(name, inputs={"label": "second"})["outputs"]["keys"]
    assert (first, second) == (["first"], ["second"])


def test_it_fails_past_the_memory_limit_and_keeps_serving(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "hog", code=CODE, **IO)
    with pytest.raises(SdkException) as exc:
        sdk.run_pipeline(name, inputs={"label": "x"})
    assert "exceeded its memory limit of" in str(exc.value)
    assert "MiB" in str(exc.value)
    fine = create_pipeline(sdk, tmp_path, "counter", code=CODE, **IO)
    assert sdk.run_pipeline(fine, inputs={"label": "after"})["outputs"]["keys"] == [
        "after"
    ]
