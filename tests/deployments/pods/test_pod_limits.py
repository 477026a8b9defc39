"""The pod host's watch of a real pod: over its RAM request (children included) or its disk cap, it is recycled.

The pod is a real process in its own cgroup (started as PodRunner starts
it); the executions it was running end naming the limit.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

from deployments.models import Deployment
from deployments.pods.runner import OVER_DISK, OVER_RAM, PodRunner
from deployments.services.deployments import deployment_create
from pipelines.models import Pipeline, PipelineStatus
from runtime import cgroups
from runtime.pod_client import PodSpec
from tests.runtime.test_pod import request
from tests.runtime.test_pod_cgroups import MODULE

needs_cgroups = pytest.mark.skipif(
    not cgroups.available(), reason=f"no cgroup here: {cgroups.probe()}"
)


@pytest.fixture
def low_latency(db, alice) -> Deployment:
    pipeline = Pipeline.objects.create(
        name="hog",
        function_path="main.py",
        function_name="hog_children",
        status=PipelineStatus.READY,
    )
    return deployment_create(
        pipeline=pipeline,
        name="hog-ll",
        execution_rule="endpoint",
        mode="low_latency",
        ram_request="256MiB",
        created_by=alice,
    )


class Item:
    """What PodRunner keeps per execution in flight, as far as a dying pod is concerned."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.died: str | None = None
        self.retryable = False
        self.timed_out = False


def run_pod(runner: PodRunner, tmp_path, function: str):
    code = tmp_path / "code"
    code.mkdir()
    (code / "main.py").write_text(MODULE)
    runner.pod_dir = tmp_path / "pod"
    runner.pod_dir.mkdir()
    if runner.sandbox is not None:
        runner.sandbox.hand_over(str(runner.pod_dir), runner.key)
    spec = PodSpec(
        key=runner.key,
        python_executable=sys.executable,
        code_dir=str(code),
        function_path="main.py",
        function_name=function,
        pod_dir=str(runner.pod_dir),
        max_parallel=1,
        ram_mib=runner.ram_mib,
        env={"PATH": "/usr/bin:/bin"},
    )
    pod = runner._new_pod(spec, events=lambda kind, header: None)
    pod.start()
    assert pod.wait_ready(30), pod.failure
    item = Item()
    pod.run(runner.dispatcher.runs.add(item), request("x"))
    return pod, item


def watch_until_recycled(runner: PodRunner, pod, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not runner.check_limits(time.monotonic()):
        assert time.monotonic() < deadline, "the pod was never recycled"
        time.sleep(0.05)
    pod.proc.wait(5)
    runner._on_event("exited", {"returncode": pod.proc.returncode}, pod)


@needs_cgroups
def test_three_children_over_the_ram_request_recycle_the_pod(low_latency, tmp_path):
    runner = PodRunner(low_latency, "host-a")
    pod, item = run_pod(runner, tmp_path, "hog_children")
    watch_until_recycled(runner, pod)
    assert item.died == OVER_RAM.format(ram="256MiB")
    assert not item.retryable
    assert not pod.group.populated()


def test_a_pod_filling_its_folder_past_the_cap_is_recycled(
    low_latency, tmp_path, settings
):
    settings.POD_DISK_MIB = 8
    runner = PodRunner(low_latency, "host-a")
    runner.disk_mib = 8
    pod, item = run_pod(runner, tmp_path, "fill_many")
    watch_until_recycled(runner, pod)
    assert item.died == OVER_DISK.format(mib=8)
    assert item.died.startswith("The pod exceeded")  # the execution's reason as is
