"""Low-latency deployments on the live stack: pods, queue and parallel executions, limits.

Driven by the official craft-ai-sdk and plain HTTP. No timed asserts: order,
overlap and counts are checked, durations only with generous bounds.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from craft_ai_sdk.exceptions import SdkException
from craft_ai_sdk.io import Input, Output

pytestmark = pytest.mark.e2e

CODE = """
import asyncio
import os
import threading
import time

counter = 0


def count():
    global counter
    counter += 1
    return {"count": counter, "pid": os.getpid()}


def spans(label):
    started = time.time()
    time.sleep(0.3)
    return {"span": [label, started, time.time()]}


async def nap(label):
    print("nap", label)
    await asyncio.sleep(1)
    return {"span": [label, 0, 0]}


def talk(label):
    def inner():
        for i in range(3):
            print(f"{label} thread line {i}")
            time.sleep(0.01)

    thread = threading.Thread(target=inner)
    thread.start()
    for i in range(3):
        print(f"{label} line {i}")
        time.sleep(0.02)
    thread.join()
    return {"span": [label, 0, 0]}


def hog(label):
    if label == "big":
        blocks = [b"x" * (64 * 1024 * 1024) for _ in range(16)]
        return {"span": [label, len(blocks), 0]}
    return {"span": [label, 0, 0]}


def stuck(label):
    if label == "forever":
        while True:
            pass
    return {"span": [label, 0, 0]}


def slow(label):
    time.sleep(3)
    return {"span": [label, os.getpid(), 0]}


def chatty(label):
    started = time.time()
    for i in range(20):
        print(label, "line", i)
        time.sleep(0.1)
    return {"span": [label, started, time.time()]}
"""

# Imports in the build's check, fails in the pod (whose working directory is its own).
BROKEN = """
import os

if "/pods/" in os.getcwd():
    raise RuntimeError("no model file")


def f():
    return {}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ll")
    (folder / "src").mkdir()
    (folder / "src" / "main.py").write_text(CODE)
    return folder


def make_pipeline(sdk, code_dir, function, inputs, outputs) -> str:
    name = unique(function)
    sdk.create_pipeline(
        pipeline_name=name,
        function_path="src/main.py",
        function_name=function,
        container_config={"local_folder": str(code_dir)},
        inputs=inputs,
        outputs=outputs,
    )
    return name


def label_pipeline(sdk, code_dir, function) -> str:
    return make_pipeline(
        sdk, code_dir, function, [Input("label", "string")], [Output("span", "array")]
    )


def deploy(sdk, pipeline, mode="low_latency", **kwargs) -> dict:
    return sdk.create_deployment(
        pipeline_name=pipeline,
        deployment_name=unique("ll"),
        execution_rule="endpoint",
        mode=mode,
        **kwargs,
    )


def call(live_platform, deployment, inputs) -> requests.Response:
    return requests.post(
        f"{live_platform.url}/endpoints/{deployment['endpoint_url_path']}",
        json=inputs,
        headers={"Authorization": f"EndpointToken {deployment['endpoint_token']}"},
        timeout=60,
    )


def test_counter_rises_in_one_pod_while_elastic_starts_fresh(
    sdk, code_dir, live_platform
):
    pipeline = make_pipeline(
        sdk, code_dir, "count", [], [Output("count", "number"), Output("pid", "number")]
    )
    warm = deploy(sdk, pipeline)
    assert warm["status"] == "up"
    assert len(warm["pods"]) == 1 and warm["pods"][0]["status"] == "running"
    cold = deploy(sdk, pipeline, mode="elastic")

    warm_outputs = [call(live_platform, warm, {}).json()["outputs"] for _ in range(4)]
    cold_outputs = [
        sdk.trigger_endpoint(cold["name"], endpoint_token=cold["endpoint_token"])[
            "outputs"
        ]
        for _ in range(3)
    ]

    assert [o["count"] for o in warm_outputs] == [1, 2, 3, 4]
    assert len({o["pid"] for o in warm_outputs}) == 1
    assert [o["count"] for o in cold_outputs] == [1, 1, 1]
    execution = sdk.get_pipeline_execution(
        call(live_platform, warm, {}).json()["execution_id"]
    )
    assert execution["status"] == "Succeeded"
    health = requests.get(f"{live_platform.url}/healthz", timeout=10).json()
    assert health["nodes"]["pods"], health


def test_queue_mode_runs_in_order_without_overlap(sdk, code_dir, live_platform):
    deployment = deploy(sdk, label_pipeline(sdk, code_dir, "spans"))
    labels = [f"q{i}" for i in range(5)]
    with ThreadPoolExecutor(5) as pool:
        futures = []
        for label in labels:
            futures.append(
                pool.submit(call, live_platform, deployment, {"label": label})
            )
            time.sleep(0.05)  # arrival order is the order of the calls
        spans = [f.result().json()["outputs"]["span"] for f in futures]
    assert [s[0] for s in sorted(spans, key=lambda s: s[1])] == labels
    ordered = sorted(spans, key=lambda s: s[1])
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert before[2] <= after[1]  # no overlap


def test_parallel_async_runs_four_at_a_time(sdk, code_dir, live_platform):
    deployment = deploy(
        sdk,
        label_pipeline(sdk, code_dir, "nap"),
        enable_parallel_executions=True,
        max_parallel_executions_per_pod=4,
    )
    call(live_platform, deployment, {"label": "warm"})
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: call(live_platform, deployment, {"label": f"a{i}"}), range(8)
            )
        )
    elapsed = time.monotonic() - started
    assert all(a.status_code == 200 for a in answers)
    # Two rounds of one second; in series it would take eight.
    assert 1.9 <= elapsed < 6


def test_parallel_log_lines_land_in_their_executions(sdk, code_dir, live_platform):
    deployment = deploy(
        sdk,
        label_pipeline(sdk, code_dir, "talk"),
        enable_parallel_executions=True,
        max_parallel_executions_per_pod=3,
    )
    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(
                lambda label: call(live_platform, deployment, {"label": label}),
                ["red", "green", "blue"],
            )
        )
    for label, answer in zip(["red", "green", "blue"], answers, strict=True):
        logs = sdk.get_pipeline_execution_logs(
            execution_id=answer.json()["execution_id"]
        )
        messages = [line["message"] for line in logs]
        assert len(messages) == 6, messages
        assert all(m.startswith(f"{label} ") for m in messages), messages


def test_sigkilled_pod_comes_back_and_the_execution_is_retried(
    sdk, code_dir, live_platform
):
    deployment = deploy(sdk, label_pipeline(sdk, code_dir, "slow"))
    first = call(live_platform, deployment, {"label": "one"}).json()["outputs"]["span"]
    pid = first[1]
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(call, live_platform, deployment, {"label": "two"})
        time.sleep(1.5)
        # The pod's pid as the sandbox sees it; find it on the host by its command line.
        host_pid = pod_host_pid(deployment["name"], live_platform)
        os.kill(host_pid, signal.SIGKILL)
        answer = future.result()
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"]["span"][0] == "two"
    assert pid  # the pod ran before
    logs = sdk.get_deployment_logs(deployment["name"])
    assert any("starting it again" in line["message"] for line in logs)
    assert call(live_platform, deployment, {"label": "three"}).status_code == 200


def deployment_pk(deployment_name: str, live_platform) -> str:
    rows = live_platform.sql(
        "SELECT id FROM deployments_deployment WHERE name = %s", deployment_name
    )
    return str(rows[0][0])


def pod_host_pid(deployment_name: str, live_platform) -> int:
    pid = find_pod(deployment_pk(deployment_name, live_platform))
    if pid is None:
        raise AssertionError("no pod process found")
    return pid


def find_pod(pk: str) -> int | None:
    """The pod's process on this machine, found by its working directory in its command line."""
    needle = f"/pods/{pk}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"pod.py" in cmdline and needle in cmdline and b"bwrap" not in cmdline:
            return int(entry)
    return None


def test_over_ram_request_ends_error_and_the_next_succeeds(
    sdk, code_dir, live_platform
):
    deployment = deploy(sdk, label_pipeline(sdk, code_dir, "hog"), ram_request="256MiB")
    big = call(live_platform, deployment, {"label": "big"})
    assert big.status_code == 500, big.text
    execution = sdk.get_pipeline_execution(
        big.json()["additional_data"]["execution_id"]
    )
    assert "exceeded its RAM request of 256MiB" in big.text, big.text
    small = call(live_platform, deployment, {"label": "small"})
    assert small.status_code == 200, small.text
    assert execution["status"] == "Error"


def test_sync_timeout_fails_and_recycles_the_pod(sdk, code_dir, live_platform):
    deployment = deploy(
        sdk, label_pipeline(sdk, code_dir, "stuck"), execution_timeout_s=1
    )
    late = call(live_platform, deployment, {"label": "forever"})
    assert late.status_code == 500
    assert "timed out" in late.text
    quick = call(live_platform, deployment, {"label": "quick"})
    assert quick.status_code == 200, quick.text
    logs = sdk.get_deployment_logs(deployment["name"])
    assert any("recycled" in line["message"] for line in logs)


def test_import_failure_is_creation_failed_with_the_reason(
    sdk, tmp_path, live_platform
):
    (tmp_path / "main.py").write_text(BROKEN)
    name = unique("broken")
    sdk.create_pipeline(
        pipeline_name=name,
        function_path="main.py",
        function_name="f",
        container_config={"local_folder": str(tmp_path)},
    )
    deployment_name = unique("ll")
    with pytest.raises(SdkException, match="creation failed"):
        sdk.create_deployment(
            pipeline_name=name,
            deployment_name=deployment_name,
            execution_rule="endpoint",
            mode="low_latency",
        )
    deployment = sdk.get_deployment(deployment_name)
    assert deployment["status"] == "creation_failed"
    logs = sdk.get_deployment_logs(deployment["name"])
    assert any("no model file" in line["message"] for line in logs), logs
    answer = call(live_platform, deployment, {})
    assert answer.status_code == 500 and "could not start" in answer.text


def test_disable_enable_delete_stop_and_start_the_pod(sdk, code_dir, live_platform):
    pipeline = make_pipeline(
        sdk, code_dir, "count", [], [Output("count", "number"), Output("pid", "number")]
    )
    deployment = deploy(sdk, pipeline)
    name = deployment["name"]
    assert call(live_platform, deployment, {}).json()["outputs"]["count"] == 1

    disabled = sdk.update_deployment(name, is_enabled=False)
    assert disabled["status"] == "disabled" and disabled["pods"] == []
    assert wait_for(lambda: not pod_running(name, live_platform))

    enabled = sdk.update_deployment(name, is_enabled=True)
    assert enabled["status"] == "up" and len(enabled["pods"]) == 1
    # A fresh pod: the counter starts again.
    assert call(live_platform, deployment, {}).json()["outputs"]["count"] == 1

    pk = deployment_pk(name, live_platform)
    sdk.delete_deployment(name)
    assert wait_for(lambda: find_pod(pk) is None)


def pod_running(name, live_platform) -> bool:
    return find_pod(deployment_pk(name, live_platform)) is not None


def wait_for(check, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_a_parallel_deployment_wider_than_the_connection_pool_serves_everyone(
    sdk, code_dir, live_platform
):
    """50 executions at once in a pod host whose pool holds 10 PostgreSQL connections.

    Parallelism has no upper limit (the seeds): the pod host holds a
    connection only for its statements, never across the wait for the pod.
    """
    deployment = deploy(
        sdk,
        label_pipeline(sdk, code_dir, "chatty"),
        enable_parallel_executions=True,
        max_parallel_executions_per_pod=50,
    )
    call(live_platform, deployment, {"label": "warm"})
    with ThreadPoolExecutor(50) as pool:
        answers = list(
            pool.map(
                lambda i: call(live_platform, deployment, {"label": f"p{i}"}),
                range(50),
            )
        )
    assert [a.status_code for a in answers] == [200] * 50
    spans = [a.json()["outputs"]["span"] for a in answers]
    # They overlapped: far from fifty 2 s runs in a row.
    assert max(s[2] for s in spans) - min(s[1] for s in spans) < 50 * 2 / 4
    logs = (live_platform.log_dir / "pods.log").read_text(errors="replace")
    assert "PoolTimeout" not in logs and "Traceback" not in logs


def test_a_disabled_then_enabled_deployment_serves_again(sdk, code_dir, live_platform):
    deployment = deploy(sdk, label_pipeline(sdk, code_dir, "spans"))
    assert call(live_platform, deployment, {"label": "before"}).status_code == 200

    sdk.update_deployment(deployment["name"], is_enabled=False)
    again = sdk.update_deployment(deployment["name"], is_enabled=True)

    assert again["status"] == "up"
    assert call(live_platform, deployment, {"label": "after"}).status_code == 200
