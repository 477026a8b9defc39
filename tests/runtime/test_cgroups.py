"""A cgroup per elastic execution: what it starts is counted together and killed with it.

Real sandboxed processes, no Django. Where this machine cannot make cgroups
(not root, read-only /sys/fs/cgroup) the cgroup-specific assertions skip,
saying why, and the rest checks today's fallback still runs.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import uuid

import pytest

from runtime import cgroups, protocol
from runtime.collect import disk_usage_bytes
from runtime.pool import ZygotePool
from runtime.sandbox import Sandbox

from .helpers import wait_until_gone
from .test_sandbox import Sandboxed

needs_cgroups = pytest.mark.skipif(
    not cgroups.available(), reason=f"no cgroup here: {cgroups.probe()}"
)

# A grandchild in a session of its own, as `Popen(start_new_session=True)` or a
# double fork with setsid makes; MARKER makes it findable from the host.
ESCAPE = """
import subprocess, sys

def main():
    subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", "{marker}"],
        start_new_session=True,
    )
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
        os._exit(0)
    os.wait()
    time.sleep({sleep})
    return {{"report": "left two behind"}}
"""

HOG_CHILDREN = """
import subprocess, sys

HOG = "import time; data = b'x' * (120 * 1024 * 1024); time.sleep(30)"

def main():
    children = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(3)]
    for child in children:
        child.wait()
    time.sleep(2)
    return {"report": "survived"}
"""

HOG_WHEN_ASKED = (
    HOG_CHILDREN.replace("def main():", "def hog_children():")
    + """
def main(hog=False):
    if hog:
        hog_children()
    return {"report": "calm"}
"""
)


@pytest.fixture
def sandboxed(tmp_path):
    with ZygotePool(sandbox=Sandbox(max_processes=64)) as pool:
        yield Sandboxed(tmp_path, pool)


def marked(marker: str) -> list[int]:
    """Host pids of live processes whose command line holds marker."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if marker.encode() in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue  # gone meanwhile
    return found


def wait_for_none(marker: str, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


@needs_cgroups
@pytest.mark.parametrize(("sleep", "timeout_s"), [(0.2, 60), (30, 1)])
def test_it_kills_setsid_grandchildren_within_a_second_of_the_end(
    sandboxed, sleep, timeout_s
):
    marker = f"craft-escape-{uuid.uuid4().hex}"
    source = ESCAPE.format(marker=marker, sleep=sleep)
    result = sandboxed.run(source, timeout_s=timeout_s)
    ended = time.monotonic()
    assert result.status == ("succeeded" if timeout_s > 1 else "failed"), result.reason
    left = wait_for_none(marker, 1.0)
    assert not left, f"still alive {time.monotonic() - ended:.2f} s after the end"


@needs_cgroups
def test_children_over_the_memory_limit_end_the_run_naming_memory(sandboxed):
    result = sandboxed.run(HOG_CHILDREN, memory_limit_mib=256)
    assert result.status == "failed"
    assert result.reason == protocol.memory_limit_reason(256)


@needs_cgroups
def test_an_execution_under_its_memory_limit_succeeds_and_the_next_runs(sandboxed):
    hog = sandboxed.run(HOG_CHILDREN, memory_limit_mib=256)
    calm = sandboxed.run(
        "def main():\n    return {'report': len(b'x' * (64 * 1024 * 1024))}\n",
        memory_limit_mib=256,
    )
    assert hog.reason == protocol.memory_limit_reason(256)
    assert calm.status == "succeeded", calm.reason


@needs_cgroups
def test_pids_max_bounds_a_fork_bomb_of_root(tmp_path, pipeline):
    # Unsandboxed, the child runs as root, which RLIMIT_NPROC does not
    # bound: only the cgroup's pids.max does.
    spec = pipeline(
        """
        import os, time

        def main():
            started = 0
            for _ in range(2000):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                started += 1
            return {"started": started}
        """,
        outputs={"started": "number"},
    )
    with ZygotePool(sandbox=None) as pool:
        result = pool.run(spec, lambda *line: None)
        after = pool.run(spec, lambda *line: None)
    assert result.status == "succeeded", result.reason
    assert result.outputs["started"] < pool.max_pids
    # Its processes were killed with it: the next one gets the same room.
    assert after.outputs["started"] == result.outputs["started"]


@needs_cgroups
def test_nothing_is_left_of_the_groups_once_the_pool_is_closed(tmp_path):
    sandboxed = Sandboxed(tmp_path, ZygotePool(sandbox=Sandbox(max_processes=64)))
    with sandboxed.pool:
        result = sandboxed.run("def main():\n    return {'report': 1}\n")
        assert result.status == "succeeded", result.reason
        (zygote,) = sandboxed.pool._zygotes.values()
        folders = list(zygote.cgroup.group.dirs.values())
        spare_group, spare_pids = waiting_spare(sandboxed.pool)
        runs = [name for name in os.listdir(folders[0]) if name.startswith("run-")]
        # Each execution's group is gone at its end; only the next one's spare waits.
        assert runs == [os.path.basename(spare_group.dirs["unified"])]
    zygote.join(5)
    assert not any(os.path.exists(folder) for folder in folders)
    for pid in spare_pids:
        wait_until_gone(pid, timeout_s=5)


CGROUP_OF_MAIN = """
def main():
    with open("/proc/self/cgroup") as f:
        return {"report": f.read().splitlines()}
"""


def only_spares(pool: ZygotePool):
    (zygote,) = pool._zygotes.values()
    return zygote.spares


def waiting_spare(pool: ZygotePool, other_than=None, timeout_s: float = 10):
    """The group of the zygote's spare child and the spare's host pids, once it is in its group."""
    deadline = time.monotonic() + timeout_s
    while True:
        ready = only_spares(pool).ready()
        if ready is not None and ready[1] is not other_than and ready[1].populated():
            return ready[1], ready[1]._pids()
        assert time.monotonic() < deadline, "no spare child joined its group"
        time.sleep(0.02)


def runs_of(sandboxed: Sandboxed, source: str, count: int, **overrides) -> list:
    spec = sandboxed.spec(source, **overrides)  # one file version: one zygote
    return [sandboxed.pool.run(spec, lambda *line: None) for _ in range(count)]


@needs_cgroups
def test_it_hands_runs_after_the_first_to_a_spare_already_in_the_runs_group(
    sandboxed,
):
    first, second = runs_of(sandboxed, CGROUP_OF_MAIN, 2)
    assert first.status == second.status == "succeeded", second.reason
    assert sandboxed.pool.spare_runs() == 1
    for lines in (first.outputs["report"], second.outputs["report"]):
        # Every hierarchy we use: the execution's group, not the zygote's leaf.
        ours = [
            line.split(":", 2)
            for line in lines
            if line.startswith("0::")
            or {"memory", "pids"} & set(line.split(":")[1].split(","))
        ]
        assert ours and all("/run-" in path for _, _, path in ours), lines


@needs_cgroups
def test_a_spare_killed_before_its_run_is_replaced_and_the_next_run_succeeds(
    sandboxed,
):
    spec = sandboxed.spec(CGROUP_OF_MAIN)
    assert sandboxed.pool.run(spec, lambda *line: None).status == "succeeded"
    group, pids = waiting_spare(sandboxed.pool)
    for pid in pids:
        os.kill(pid, 9)
    replaced, _ = waiting_spare(sandboxed.pool, other_than=group)
    assert replaced is not group
    assert not any(os.path.exists(folder) for folder in group.dirs.values())
    result = sandboxed.pool.run(spec, lambda *line: None)
    assert result.status == "succeeded", result.reason
    assert sandboxed.pool.spare_runs() == 1


@needs_cgroups
def test_a_setsid_grandchild_of_a_run_a_spare_took_dies_with_it(sandboxed):
    marker = f"craft-escape-{uuid.uuid4().hex}"
    results = runs_of(sandboxed, ESCAPE.format(marker=marker, sleep=0.2), 2)
    assert [r.status for r in results] == ["succeeded"] * 2, results[-1].reason
    assert sandboxed.pool.spare_runs() == 1
    assert not wait_for_none(marker, 1.0)


@needs_cgroups
def test_the_memory_limit_of_a_run_a_spare_took_counts_its_children(sandboxed):
    spec = sandboxed.spec(HOG_WHEN_ASKED, memory_limit_mib=256)
    assert sandboxed.pool.run(spec, lambda *line: None).status == "succeeded"
    waiting_spare(sandboxed.pool)
    hog = sandboxed.pool.run(
        dataclasses.replace(spec, inputs={"hog": True}), lambda *line: None
    )
    assert hog.reason == protocol.memory_limit_reason(256)
    assert sandboxed.pool.spare_runs() == 1


def test_without_cgroups_the_fallback_still_enforces_memory(tmp_path):
    with ZygotePool(sandbox=Sandbox(max_processes=64), use_cgroups=False) as pool:
        sandboxed = Sandboxed(tmp_path, pool)
        result = sandboxed.run(
            "def main():\n    data = bytearray(1 << 30)\n    return {'report': 1}\n",
            memory_limit_mib=128,
        )
    assert result.status == "failed"
    assert result.reason == protocol.memory_limit_reason(128)


def test_the_probe_says_in_one_line_what_this_machine_gives():
    line = cgroups.probe()
    assert "\n" not in line
    if cgroups.available():
        assert line.startswith("cgroups: ") and cgroups.warning() is None
    else:
        assert cgroups.warning() == line


def test_the_disk_walk_never_follows_a_link_out_of_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(os.urandom(4 * 1024 * 1024))
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "small").write_bytes(b"x" * 4096)
    os.symlink(outside, work / "sub" / "link")
    os.symlink(outside / "big", work / "file-link")
    assert disk_usage_bytes(str(work)) < 1024 * 1024
    assert disk_usage_bytes(str(tmp_path)) > 4 * 1024 * 1024


def test_a_single_file_past_the_disk_cap_is_refused_while_written(sandboxed):
    result = sandboxed.run(
        """
        def main():
            with open("fill", "wb") as f:
                os.unlink("fill")  # unlinked: no walk of the folder can see it
                for _ in range(24):
                    f.write(os.urandom(1 << 20))
                    f.flush()
            return {"report": "not stopped"}
        """,
        disk_limit_mib=8,
    )
    assert result.status == "failed"
    assert "disk quota of 8 MiB" in result.reason


@pytest.mark.parametrize("module", ["cgroups"])
def test_it_never_imports_django(module):
    code = (
        f"import sys, runtime.{module}; "
        "assert 'django' not in sys.modules, 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
