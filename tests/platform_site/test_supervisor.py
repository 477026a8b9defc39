from __future__ import annotations

import io
import os
import signal
import sys
import time

import pytest

from platform_site.operations import supervisor as sv
from platform_site.operations.supervisor import Output, Supervisor


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def stream():
    return io.StringIO()


@pytest.fixture
def sup(tmp_path, stream, clock):
    supervisor = Supervisor(
        env=dict(os.environ), cwd=tmp_path, output=Output(stream), clock=clock
    )
    yield supervisor
    supervisor.stop_all(grace_s=0.5)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_exit(child, timeout: float = 10) -> None:
    child.proc.wait(timeout)
    child.reader.join(timeout)  # it copies the last lines, then sees EOF


def test_it_grows_the_backoff_and_caps_it():
    delays = [sv.restart_delay(n) for n in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_it_describes_exit_codes_and_signals():
    assert sv.describe_exit(3) == "exited with code 3"
    assert sv.describe_exit(-9) == "killed by SIGKILL"


def test_it_reports_a_death_with_the_last_lines():
    lines = sv.death_report(
        name="worker", returncode=-9, tail=["a", "b"], action="Restarting it in 1 s."
    )
    text = "\n".join(lines)
    assert "worker killed by SIGKILL. Restarting it in 1 s." in text
    assert "!!   a" in text and "!!   b" in text


def test_it_prefixes_each_line_with_the_child_name(sup, stream):
    child = sup.add("web", python("print('hello'); print('world')"))
    sup.start(child)
    wait_exit(child)
    assert "web       | hello\nweb       | world\n" in stream.getvalue()


def test_it_restarts_a_dead_child_after_the_backoff(sup, stream, clock):
    child = sup.add("worker", python("print('boom'); raise SystemExit(3)"))
    sup.start(child)
    wait_exit(child)
    sup.check()
    report = stream.getvalue()
    assert "worker exited with code 3. Restarting it in 1 s." in report
    assert "!!   boom" in report
    assert child.proc is None

    clock.now += 1
    sup.check()
    assert child.proc is not None
    assert "restarting worker" in stream.getvalue()


def test_it_forgets_old_failures_of_a_child_that_ran_long_enough(sup, clock):
    child = sup.add("scheduler", python("raise SystemExit(1)"))
    child.failures = 4
    sup.start(child)
    wait_exit(child)
    clock.now += sv.STABLE_AFTER_S
    sup.check()
    assert child.failures == 1


def test_it_gives_up_when_a_child_keeps_dying_at_start(sup, stream):
    child = sup.add("web", python("raise SystemExit(1)"))
    child.failures = sv.MAX_QUICK_FAILURES
    sup.start(child)
    wait_exit(child)
    with pytest.raises(sv.GiveUp):
        sup.check()
    assert "stopping the platform" in stream.getvalue()


def test_it_stops_children_on_request(sup, stream):
    child = sup.add(
        "sweeper", python("import time; print('up', flush=True); time.sleep(60)")
    )
    sup.start(child)
    sup.request_stop(signal.SIGTERM)
    assert sup.run() == 0
    assert child.proc.poll() is not None
    assert "SIGTERM received, stopping" in stream.getvalue()
    assert stream.getvalue().rstrip().endswith("stopped.")


def test_it_kills_a_child_that_ignores_sigterm(sup, stream):
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('ready', flush=True); time.sleep(60)"
    )
    child = sup.add("stubborn", python(code))
    sup.start(child)
    for _ in range(100):
        if "ready" in stream.getvalue():
            break
        time.sleep(0.05)
    sup.stop_all(grace_s=0.5)
    assert child.proc.returncode == -signal.SIGKILL
    assert "stubborn ignored SIGTERM: SIGKILL" in stream.getvalue()


def test_it_kills_the_grandchildren_of_a_dead_child(sup, stream):
    code = (
        "import subprocess, sys;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "print(p.pid, flush=True)"
    )
    child = sup.add("worker", python(code))
    sup.start(child)
    wait_exit(child)
    grandchild = int(child.tail[-1])
    sup.check()
    for _ in range(100):
        if not _running(grandchild):
            break
        time.sleep(0.05)
    assert not _running(grandchild)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_it_kills_and_restarts_a_stopped_child(tmp_path, stream, clock, monkeypatch):
    monkeypatch.setattr(sv, "STUCK_AFTER_S", 0.5)
    sup = Supervisor(
        env=dict(os.environ),
        cwd=tmp_path,
        output=Output(stream),
        clock=clock,
        liveness_dir=tmp_path,
    )
    touching = (
        "import os, pathlib, time\n"
        "while True:\n"
        "    pathlib.Path(os.environ['PLATFORM_LIVENESS_FILE']).touch(); time.sleep(0.1)"
    )
    child = sup.add("scheduler", python(touching), watched=True)
    sup.start(child)
    try:
        time.sleep(1.5)  # it touches its file: alive
        sup.check()
        assert child.proc is not None and child.proc.poll() is None
        os.kill(child.proc.pid, signal.SIGSTOP)
        time.sleep(1.0)
        sup.check()
        assert "scheduler is stuck (stopped by a signal for" in stream.getvalue()
        assert child.proc is None and child.restart_at is not None
    finally:
        sup.stop_all(grace_s=0.5)


def test_it_leaves_an_unwatched_child_alone(tmp_path, stream, clock, monkeypatch):
    monkeypatch.setattr(sv, "STUCK_AFTER_S", 0.1)
    sup = Supervisor(
        env=dict(os.environ),
        cwd=tmp_path,
        output=Output(stream),
        clock=clock,
        liveness_dir=tmp_path,
    )
    child = sup.add("redis", python("import time; time.sleep(60)"))
    sup.start(child)
    try:
        time.sleep(0.5)
        sup.check()
        assert child.proc is not None and child.proc.poll() is None
    finally:
        sup.stop_all(grace_s=0.5)


def test_a_signal_only_records_itself_and_wakes_the_loop(sup, stream):
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous = signal.set_wakeup_fd(write_fd)
    sup._wakeup_fd = read_fd
    old_handler = signal.signal(signal.SIGUSR1, sup.request_stop)
    try:
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGUSR1)
        sup.pause(10)
        assert time.monotonic() - started < 5
        assert sup.stop_signal == signal.SIGUSR1
        assert stream.getvalue() == ""  # nothing printed from the handler
        assert not sup.stopping.is_set()  # the main loop sets it, not the handler
    finally:
        signal.signal(signal.SIGUSR1, old_handler)
        signal.set_wakeup_fd(previous)


def test_it_tells_who_died_before_restarting(tmp_path, stream, clock):
    deaths = []
    supervisor = Supervisor(
        env=dict(os.environ),
        cwd=tmp_path,
        output=Output(stream),
        clock=clock,
        on_death=lambda name, pid: deaths.append((name, pid)),
    )
    child = supervisor.add("pods", python("raise SystemExit(9)"))
    supervisor.start(child)
    pid = child.proc.pid
    wait_exit(child)

    supervisor.check()

    assert deaths == [("pods", pid)]
    assert "Restarting it in 1 s." in stream.getvalue()
