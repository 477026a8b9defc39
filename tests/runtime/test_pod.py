"""The pod process (runtime/pod.py) driven through its client, unsandboxed: no Django involved."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from runtime.pod_client import PodProcess, PodSpec

MODULE = """
import asyncio
import threading
import time

seen = []


def remember(word):
    seen.append(word)
    return {"seen": list(seen)}


def chatty(word):
    def inner():
        print(word, "from a thread")

    thread = threading.Thread(target=inner)
    thread.start()
    thread.join()
    print(word, "from the function")
    time.sleep(0.05)
    return {"seen": [word]}


async def nap(word):
    await asyncio.sleep(0.5)
    return {"seen": [word]}


def hog(word):
    blocks = [b"x" * (32 * 1024 * 1024) for _ in range(16)]
    return {"seen": [len(blocks)]}
"""


class Collector:
    def __init__(self) -> None:
        self.logs: list[dict] = []
        self.done: dict[int, dict] = {}
        self.events: list[str] = []
        self.cond = threading.Condition()

    def __call__(self, kind: str, header: dict) -> None:
        with self.cond:
            self.events.append(kind)
            if kind == "log":
                self.logs.append(header)
            elif kind == "done":
                self.done[header["id"]] = header["report"]
            self.cond.notify_all()

    def wait(self, check, timeout: float = 20) -> None:
        with self.cond:
            assert self.cond.wait_for(check, timeout), self.events


def start_pod(tmp_path, function: str, *, parallel: int = 1, ram_mib: int = 0):
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "main.py").write_text(MODULE)
    pod_dir = tmp_path / "pod"
    pod_dir.mkdir(exist_ok=True)
    collector = Collector()
    spec = PodSpec(
        key="test",
        python_executable=sys.executable,
        code_dir=str(code),
        function_path="main.py",
        function_name=function,
        pod_dir=str(pod_dir),
        max_parallel=parallel,
        ram_mib=ram_mib,
        env={"PATH": "/usr/bin:/bin"},
    )
    pod = PodProcess(spec, collector)
    pod.start()
    assert pod.wait_ready(30), pod.failure
    return pod, collector


def request(word: str) -> dict:
    return {
        "inputs": {"word": word},
        "outputs": [{"name": "seen", "data_type": "array"}],
        "env": {"PATH": "/usr/bin:/bin"},
        "timeout_s": 5,
    }


def test_globals_live_as_long_as_the_pod(tmp_path):
    pod, collector = start_pod(tmp_path, "remember")
    try:
        for run_id, word in enumerate(["a", "b", "c"], start=1):
            pod.run(run_id, request(word))
            collector.wait(lambda run_id=run_id: run_id in collector.done)
        assert collector.done[3]["outputs"] == {"seen": ["a", "b", "c"]}
    finally:
        pod.stop()


def test_lines_are_attributed_to_their_run_even_from_threads(tmp_path):
    pod, collector = start_pod(tmp_path, "chatty", parallel=3)
    try:
        for run_id, word in enumerate(["red", "green", "blue"], start=1):
            pod.run(run_id, request(word))
        collector.wait(lambda: len(collector.done) == 3)
        for run_id, word in enumerate(["red", "green", "blue"], start=1):
            lines = [log["line"] for log in collector.logs if log["id"] == run_id]
            assert sorted(lines) == [
                f"{word} from a thread",
                f"{word} from the function",
            ]
    finally:
        pod.stop()


def test_coroutines_share_the_event_loop(tmp_path):
    pod, collector = start_pod(tmp_path, "nap", parallel=4)
    try:
        started = time.monotonic()
        for run_id in range(1, 5):
            pod.run(run_id, request(str(run_id)))
        collector.wait(lambda: len(collector.done) == 4)
        # Four half-second naps at once; in series they would take two seconds.
        assert time.monotonic() - started < 1.8
        assert all(report["ok"] for report in collector.done.values())
    finally:
        pod.stop()


def test_a_pod_over_its_ram_request_stops_and_says_so(tmp_path):
    pod, collector = start_pod(tmp_path, "hog", ram_mib=128)
    pod.run(1, request("x"))
    collector.wait(lambda: "exited" in collector.events)
    assert "over_ram" in collector.events
    assert 1 not in collector.done


def test_an_import_error_is_the_start_failure(tmp_path):
    pod, _ = start_pod(tmp_path, "remember")
    pod.stop()
    (tmp_path / "code" / "main.py").write_text("raise ValueError('no weights')\n")
    collector = Collector()
    broken = PodProcess(pod.spec, collector)
    broken.start()
    assert not broken.wait_ready(30)
    assert broken.failure == "ValueError: no weights"


@pytest.mark.parametrize("module", ["pod", "pod_client"])
def test_it_never_imports_django(module):
    code = (
        f"import sys, runtime.{module}; "
        "assert 'django' not in sys.modules, 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
