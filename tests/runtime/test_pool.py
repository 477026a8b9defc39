from __future__ import annotations

import dataclasses
import os
import signal
import threading

import pytest

from runtime import cgroups, protocol
from runtime.lines import MAX_LINE_BYTES
from runtime.run_on_zygote import CANCELLED_REASON

from .helpers import wait_until_gone

needs_cgroups = pytest.mark.skipif(
    not cgroups.available(), reason=f"no cgroup here: {cgroups.probe()}"
)


def test_it_returns_outputs(pool, pipeline, logs):
    spec = pipeline(
        """
        def main(a, b):
            return {"total": a + b, "label": "sum", "extra": object()}
        """,
        inputs={"a": 2, "b": 3},
        outputs={"total": "number", "label": "string"},
    )

    result = pool.run(spec, logs)

    assert result.status == "succeeded", result.reason
    assert result.outputs == {"total": 5, "label": "sum"}
    assert result.exit_code == 0
    assert (
        result.process_started_at
        <= result.function_started_at
        <= result.function_ended_at
    )
    assert result.peak_memory_kib > 0
    assert result.cpu_seconds >= 0


def test_it_sends_stdout_and_stderr_lines_in_order(pool, pipeline, logs):
    spec = pipeline(
        """
        import sys

        def main():
            for i in range(3):
                print(f"out {i}")
                print(f"err {i}", file=sys.stderr)
            sys.stdout.write("no newline at the end")
        """
    )

    result = pool.run(spec, logs)

    assert result.status == "succeeded"
    assert logs.lines("stdout") == ["out 0", "out 1", "out 2", "no newline at the end"]
    assert logs.lines("stderr") == ["err 0", "err 1", "err 2"]


def test_it_splits_long_lines(pool, pipeline, logs):
    spec = pipeline(f"def main():\n    print('x' * {MAX_LINE_BYTES + 10})\n")

    pool.run(spec, logs)

    assert [len(line) for line in logs.lines("stdout")] == [MAX_LINE_BYTES, 10]


def test_it_fails_with_the_exception_and_logs_the_traceback(pool, pipeline, logs):
    spec = pipeline(
        """
        def main():
            return 1 / 0
        """
    )

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert result.reason == "ZeroDivisionError: division by zero"
    stderr = logs.lines("stderr")
    assert stderr[0] == "Traceback (most recent call last):"
    assert "return 1 / 0" in "\n".join(stderr)
    assert "child.py" not in "\n".join(stderr)
    assert stderr[-1] == "ZeroDivisionError: division by zero"


def test_it_fails_on_a_wrong_typed_output(pool, pipeline, logs):
    spec = pipeline(
        'def main():\n    return {"total": "12"}\n', outputs={"total": "number"}
    )

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert result.reason == "Output 'total' must be a number, got str"
    assert result.outputs == {}


def test_it_fails_on_a_missing_output(pool, pipeline, logs):
    spec = pipeline(
        'def main():\n    return {"other": 1}\n', outputs={"total": "number"}
    )

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert result.reason == "Output 'total' is missing from the returned dict"


def test_it_returns_file_outputs_as_absolute_paths(pool, pipeline, logs):
    spec = pipeline(
        """
        def main():
            with open("report.txt", "w") as f:
                f.write("hello")
            return {"report": "report.txt"}
        """,
        outputs={"report": "file"},
    )

    result = pool.run(spec, logs)

    assert result.status == "succeeded", result.reason
    assert result.outputs == {
        "report": {"path": os.path.join(spec.work_dir, "report.txt")}
    }


def test_it_runs_async_functions(pool, pipeline, logs):
    spec = pipeline(
        """
        import asyncio

        async def main(x):
            await asyncio.sleep(0)
            return {"y": x * 2}
        """,
        inputs={"x": 21},
        outputs={"y": "number"},
    )

    result = pool.run(spec, logs)

    assert result.status == "succeeded", result.reason
    assert result.outputs == {"y": 42}


def test_it_times_out(pool, pipeline, logs):
    spec = pipeline("import time\ndef main():\n    time.sleep(60)\n", timeout_s=0.5)

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert result.reason == "Execution timed out after 0.5 s"
    assert logs.lines("stderr")[-1] == "Execution timed out after 0.5 s"
    assert result.signal == signal.SIGKILL


def test_it_stops_a_cancelled_run(pool, pipeline, logs):
    spec = pipeline("import time\ndef main():\n    time.sleep(60)\n", timeout_s=120)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()

    result = pool.run(spec, logs, cancel=cancel)

    assert result.status == "failed"
    assert result.reason == CANCELLED_REASON


def test_it_enforces_the_memory_limit_and_keeps_working(pool, pipeline, logs):
    spec = pipeline(
        """
        def main(hog):
            if hog:
                data = bytearray(1 << 30)
            return {"ok": True}
        """,
        inputs={"hog": True},
        outputs={"ok": "boolean"},
        memory_limit_mib=256,
    )

    hog = pool.run(spec, logs)
    after = pool.run(dataclasses.replace(spec, inputs={"hog": False}), logs)

    assert hog.status == "failed"
    assert hog.reason == "Execution exceeded its memory limit of 256 MiB"
    # A MemoryError of the address-space rlimit, or the kernel's kill in the cgroup.
    assert "MemoryError" in logs.lines("stderr")[-1] or cgroups.root() is not None
    assert logs.lines("stderr")[-1].startswith(hog.reason) or cgroups.root() is None
    assert after.status == "succeeded", after.reason


def test_it_reports_a_process_killed_by_a_signal(pool, pipeline, logs):
    spec = pipeline(
        "import os, signal\ndef main():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    )

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert result.reason == "Execution process was killed by signal 9 (SIGKILL)"
    assert result.signal == 9


def test_it_reports_a_process_that_exits_without_a_result(pool, pipeline, logs):
    spec = pipeline("import os\ndef main():\n    os._exit(3)\n")

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert (
        result.reason
        == "Execution process exited with code 3 before returning a result"
    )


def test_it_refuses_outputs_over_the_size_limit(pool, pipeline, logs):
    spec = pipeline(
        f"def main():\n    return {{'big': 'x' * {protocol.MAX_RESULT_BYTES}}}\n",
        outputs={"big": "string"},
    )

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert result.reason == "Execution outputs exceed the limit of 64 MiB"


def test_it_fails_when_the_module_cannot_be_imported_then_recovers(
    pool, pipeline, logs
):
    broken = pipeline("print('loading')\nraise RuntimeError('boom at import')\n")

    result = pool.run(broken, logs)
    fixed = pipeline("def main():\n    return None\n# fixed, longer file\n")
    again = pool.run(fixed, logs)

    assert result.status == "failed"
    assert result.reason == "RuntimeError: boom at import"
    assert logs.lines("stdout") == ["loading"]
    assert logs.lines("stderr")[0] == "Traceback (most recent call last):"
    assert logs.lines("stderr")[-1] == "RuntimeError: boom at import"
    assert again.status == "succeeded", again.reason


def test_it_fails_when_the_function_is_missing(pool, pipeline, logs):
    spec = pipeline("def other():\n    pass\n")

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert result.reason == "AttributeError: main.py has no function 'main'"


def test_it_reports_an_interpreter_that_cannot_start(pool, pipeline, logs):
    spec = dataclasses.replace(
        pipeline("def main():\n    pass\n"), python_executable="/nonexistent/python"
    )

    result = pool.run(spec, logs)

    assert result.status == "error"
    assert "/nonexistent/python" in result.reason


def test_it_runs_four_executions_at_once(pool, pipeline, tmp_path):
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    spec = pipeline(
        f"""
        import os, time

        def main(n):
            open(os.path.join({str(rendezvous)!r}, str(n)), "w").close()
            # Returns only once all four are running at the same time.
            for _ in range(1000):
                if len(os.listdir({str(rendezvous)!r})) == 4:
                    return {{"n": n}}
                time.sleep(0.01)
            raise TimeoutError("the four runs did not overlap")
        """,
        outputs={"n": "number"},
    )
    results = {}

    def run(n):
        results[n] = pool.run(
            dataclasses.replace(spec, inputs={"n": n}), lambda *a: None
        )

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert {n: (r.status, r.outputs) for n, r in results.items()} == {
        n: ("succeeded", {"n": n}) for n in range(4)
    }


def test_it_restarts_a_zygote_that_died(pool, pipeline, logs):
    spec = pipeline("def main():\n    return None\n")
    pool.warm(spec)
    [pid] = pool.zygote_pids().values()
    os.kill(pid, signal.SIGKILL)
    wait_until_gone(pid)

    result = pool.run(spec, logs)

    assert result.status == "succeeded", result.reason
    assert list(pool.zygote_pids().values()) != [pid]


def test_it_evicts_the_least_recently_used_zygote(pipeline, logs):
    from runtime.pool import ZygotePool

    first = pipeline("def main():\n    pass\n", function_path="a.py")
    second = pipeline("def main():\n    pass\n", function_path="b.py")
    with ZygotePool(max_zygotes=1) as pool:
        pool.run(first, logs)
        [first_pid] = pool.zygote_pids().values()
        pool.run(second, logs)

        assert list(pool.zygote_pids()) == [second.zygote_key]
        wait_until_gone(first_pid)


def test_it_stops_idle_zygotes(pipeline, logs):
    from runtime.pool import ZygotePool

    spec = pipeline("def main():\n    pass\n")
    with ZygotePool(idle_timeout_s=0) as pool:
        pool.run(spec, logs)
        [first_pid] = pool.zygote_pids().values()
        pool.run(spec, logs)

        assert list(pool.zygote_pids().values()) != [first_pid]
        wait_until_gone(first_pid)


def test_it_fails_when_importing_the_module_kills_the_process(pool, pipeline, logs):
    spec = pipeline("import os\nos._exit(3)\n")

    result = pool.run(spec, logs)

    assert result.status == "failed"
    assert result.reason == "Importing main.py failed: the process exited with code 3"


@needs_cgroups
def test_it_warms_a_spare_and_hands_it_the_next_run(pool, pipeline, logs):
    spec = pipeline(
        "import os\n\ndef main():\n    return {'pid': os.getpid()}\n",
        outputs={"pid": "number"},
    )
    pool.warm(spec)

    results = [pool.run(spec, logs) for _ in range(3)]

    assert [r.status for r in results] == ["succeeded"] * 3, results[-1].reason
    assert pool.spare_runs() == 3
    assert len({r.outputs["pid"] for r in results}) == 3  # a fresh process each time


@needs_cgroups
def test_a_module_that_started_threads_gets_no_spare_and_still_runs(
    pool, pipeline, logs
):
    spec = pipeline(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n\n"
        "def main():\n    return None\n"
    )

    results = [pool.run(spec, logs) for _ in range(3)]

    assert [r.status for r in results] == ["succeeded"] * 3, results[-1].reason
    assert pool.spare_runs() == 0


def test_without_spares_every_run_forks_at_run_time(pipeline, logs):
    from runtime.pool import ZygotePool

    spec = pipeline("def main():\n    return None\n")
    with ZygotePool(use_spares=False) as pool:
        results = [pool.run(spec, logs) for _ in range(2)]
        spare_runs = pool.spare_runs()

    assert [r.status for r in results] == ["succeeded"] * 2
    assert spare_runs == 0
