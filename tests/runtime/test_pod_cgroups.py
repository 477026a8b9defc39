"""A pod in a cgroup of its own (as deployments/pods/runner.py starts it): memory counts its children, nothing outlives it.

Real pod processes through their client, no Django. The cgroup-specific
assertions skip where this machine cannot make cgroups.
"""

from __future__ import annotations

import sys
import time
import uuid

import pytest

from runtime import cgroups, control_group
from runtime.pod_client import PodProcess, PodSpec

from .test_cgroups import marked, needs_cgroups, wait_for_none
from .test_pod import Collector, request

MODULE = """
import os, subprocess, sys, time

HOG = "import time; data = b'x' * (120 * 1024 * 1024); time.sleep(30)"


def hog_children(word):
    children = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(3)]
    for child in children:
        child.wait()
    time.sleep(5)
    return {"seen": [word]}


def escape(word):
    subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", word],
        start_new_session=True,
    )
    return {"seen": [word]}


def fill(word):
    try:
        with open("big", "wb") as f:
            for _ in range(16):
                f.write(os.urandom(1 << 20))
    except OSError as exc:
        return {"seen": [str(exc.errno)]}
    return {"seen": ["written"]}


def fill_many(word):
    for n in range(6):
        with open(f"part-{n}", "wb") as f:
            f.write(os.urandom(3 << 20))
    time.sleep(30)
    return {"seen": ["not stopped"]}
"""


def start(tmp_path, function: str, *, ram_mib: int = 0, disk_mib: int = 0):
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "main.py").write_text(MODULE)
    pod_dir = tmp_path / "pod"
    pod_dir.mkdir(exist_ok=True)
    group = None
    root = cgroups.root()
    if root is not None:
        group = root.unique_child("pod-test", memory_mib=ram_mib, pids_max=64)
    paths = group.procs_paths() if group is not None else ()
    fsize = disk_mib * 1024 * 1024 or None
    collector = Collector()
    spec = PodSpec(
        key="test",
        python_executable=sys.executable,
        code_dir=str(code),
        function_path="main.py",
        function_name=function,
        pod_dir=str(pod_dir),
        max_parallel=1,
        ram_mib=ram_mib,
        env={"PATH": "/usr/bin:/bin"},
    )
    pod = PodProcess(
        spec,
        collector,
        wrap_argv=lambda argv: control_group.wrap_argv(argv, paths, fsize_bytes=fsize),
    )
    pod.start()
    assert pod.wait_ready(30), pod.failure
    return pod, collector, group


@needs_cgroups
def test_three_children_over_the_ram_request_are_seen_by_its_group(tmp_path):
    pod, collector, group = start(tmp_path, "hog_children", ram_mib=256)
    try:
        pod.run(1, request("x"))
        deadline = time.monotonic() + 10
        while group.oom_kills() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        # What the pod host's watch (PodRunner.check_limits) recycles the pod on.
        assert group.oom_kills() > 0
    finally:
        pod.kill()
        assert group.destroy()


@needs_cgroups
def test_a_setsid_grandchild_is_gone_when_the_pod_stops(tmp_path):
    pod, collector, group = start(tmp_path, "escape")
    marker = f"craft-pod-escape-{uuid.uuid4().hex}"
    pod.run(1, request(marker))
    collector.wait(lambda: 1 in collector.done)
    deadline = time.monotonic() + 5
    while not marked(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marked(marker)
    pod.stop()
    assert group.destroy()
    assert not wait_for_none(marker, 1.0)


def test_no_single_file_of_a_pod_passes_its_disk_cap(tmp_path):
    pod, collector, group = start(tmp_path, "fill", disk_mib=4)
    try:
        pod.run(1, request("x"))
        collector.wait(lambda: 1 in collector.done)
        assert collector.done[1]["outputs"] == {"seen": ["27"]}  # EFBIG
        assert (tmp_path / "pod" / "big").stat().st_size == 4 * 1024 * 1024
    finally:
        pod.stop()
        if group is not None:
            group.destroy()


@pytest.mark.parametrize("argv0", ["/nonexistent/python"])
def test_wrapping_a_missing_interpreter_fails_like_popen(argv0):
    with pytest.raises(FileNotFoundError):
        control_group.wrap_argv([argv0], ["/nonexistent/cgroup.procs"])
