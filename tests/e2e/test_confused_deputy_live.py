"""User code plants links and swaps folders where the platform (root) reads and writes.

The platform stores outputs from the work dir (elastic) or the pod dir (low
latency) as root: it must never write through a link the function planted,
nor copy out a file that a folder swapped for a link points to. Each attack
runs in both modes on the live stack; the victims are files of the host that
the sandbox cannot see but a link can name.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from craft_ai_sdk import Output, OutputDestination, SdkException

from tests.e2e.test_executions_sdk import create_pipeline

pytestmark = pytest.mark.e2e

HOSTILE = """
import ctypes, os, subprocess, sys, time

RACER = '''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2
while True:
    libc.renameat2(-100, b"d", -100, b"l", RENAME_EXCHANGE)
'''

def plant_link(victim):
    # The platform used to write a data store output to .output-<name>.json here.
    for name in (".output-report.json", ".output-report", "report.json"):
        try:
            os.symlink(victim, name)
        except FileExistsError:
            pass
    return {"report": {"written": "by the function"}}

def race(secret_dir):
    # d/out.txt is harmless; l -> secret_dir holds an out.txt of the host.
    # A process left behind swaps d and l as fast as it can, so that a path
    # resolved and checked, then opened again, lands in secret_dir.
    if not os.path.exists(".racer"):  # once per folder: a pod's stays
        os.mkdir("d")
        with open("d/out.txt", "w") as f:
            f.write("harmless")
        os.symlink(secret_dir, "l")
        open(".racer", "w").close()
        subprocess.Popen([sys.executable, "-c", RACER], start_new_session=True)
        time.sleep(0.2)
    return {"result": {"path": "d/out.txt"}}
"""


def _low_latency(sdk, live_platform, pipeline, outputs_mapping=None):
    deployment = sdk.create_deployment(
        pipeline_name=pipeline,
        deployment_name=f"deputy-{uuid.uuid4().hex[:8]}",
        execution_rule="endpoint",
        mode="low_latency",
        inputs_mapping=[],
        outputs_mapping=outputs_mapping or [],
    )
    assert deployment["status"] == "up"

    def call(inputs):
        answer = requests.post(
            f"{live_platform.url}/endpoints/{deployment['endpoint_url_path']}",
            json=inputs,
            headers={"Authorization": f"EndpointToken {deployment['endpoint_token']}"},
            timeout=60,
        )
        body = answer.json()
        # A failed execution answers an error that carries its id.
        return body.get("execution_id") or body["additional_data"]["execution_id"]

    return call


@pytest.fixture
def victim(tmp_path):
    """A root-only file of the host, as /etc/shadow or the data dir's secret_key."""
    path = tmp_path / "victim" / "secret_key"
    path.parent.mkdir()
    path.write_text("ORIGINAL")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("mode", ["elastic", "low_latency"])
def test_a_planted_link_never_makes_the_platform_write_a_host_file(
    sdk, live_platform, tmp_path, victim, mode
):
    folder = f"deputy-{uuid.uuid4().hex[:6]}"
    pipeline = create_pipeline(
        sdk,
        tmp_path,
        "plant_link",
        code=HOSTILE.replace("def plant_link(victim)", "def plant_link()").replace(
            "os.symlink(victim, name)", f"os.symlink({str(victim)!r}, name)"
        ),
        inputs=[],
        outputs=[Output("report", "json")],
    )
    mapping = [
        OutputDestination(
            pipeline_output_name="report",
            datastore_path=f"{folder}/{{execution_id}}.json",
        )
    ]
    if mode == "elastic":
        result = sdk.run_pipeline(pipeline, inputs={}, outputs_mapping=mapping)
        execution_id = result["execution_id"]
    else:
        call = _low_latency(sdk, live_platform, pipeline, mapping)
        execution_id = call({})

    assert victim.read_text() == "ORIGINAL"
    assert sdk.get_pipeline_execution(execution_id)["status"] == "Succeeded"
    stored = tmp_path / "stored.json"
    sdk.download_data_store_object(f"{folder}/{execution_id}.json", str(stored))
    assert stored.read_text() == '{"written": "by the function"}'


@pytest.mark.parametrize("mode", ["elastic", "low_latency"])
def test_a_folder_swapped_for_a_link_never_copies_a_host_file_out(
    sdk, live_platform, tmp_path, mode
):
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir(mode=0o700)
    (secret_dir / "out.txt").write_text("SECRET")
    code = HOSTILE.replace("def race(secret_dir)", "def race()").replace(
        "os.symlink(secret_dir, ", f"os.symlink({str(secret_dir)!r}, "
    )
    pipeline = create_pipeline(
        sdk,
        tmp_path,
        "race",
        code=code,
        inputs=[],
        outputs=[Output("result", "file")],
    )
    if mode == "elastic":
        runs = [lambda: sdk.run_pipeline(pipeline, inputs={})["execution_id"]] * 12
    else:
        call = _low_latency(sdk, live_platform, pipeline)
        runs = [lambda: call({})] * 40

    statuses = []
    for run in runs:
        try:
            execution_id = run()
        except SdkException as exc:  # a refused output fails the run
            execution_id = exc.additional_data["execution_id"]
        [(status, reason)] = live_platform.sql(
            "SELECT status, status_reason FROM executions_execution"
            " WHERE execution_id = %s",
            execution_id,
        )
        statuses.append(status)
        if status == "Succeeded":
            value = sdk.get_pipeline_execution_output(execution_id, "result")["value"]
            assert value in (b"harmless", "harmless"), value
        else:
            # Refused inside (the link dangles there) or by the platform.
            assert status == "Failed", (status, reason)
            assert "Output 'result'" in reason, reason
            assert "SECRET" not in reason
    assert "Succeeded" in statuses
