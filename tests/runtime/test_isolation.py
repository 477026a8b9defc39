from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from runtime.child import SOCKETS_NOTICE
from runtime.pool import ZygotePool

from .helpers import wait_until_gone

ROOT = Path(__file__).resolve().parents[2]


def test_it_resets_module_globals_between_runs(pool, pipeline, logs):
    spec = pipeline(
        """
        COUNTER = 0

        def main():
            global COUNTER
            COUNTER += 1
            return {"counter": COUNTER}
        """,
        outputs={"counter": "number"},
    )

    results = [pool.run(spec, logs).outputs for _ in range(3)]

    assert results == [{"counter": 1}] * 3


def test_it_gives_the_child_exactly_its_environment(pipeline, logs, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "platform-secret-key")
    monkeypatch.setenv("DATABASE_URL", "postgresql://platform:secret@db/platform")
    spec = pipeline(
        """
        import os, subprocess

        def main():
            print(dict(os.environ))
            with open("/proc/self/environ", "rb") as f:
                initial = f.read().decode().replace("\\0", "\\n")
            seen_by_subprocess = subprocess.run(["env"], capture_output=True, text=True).stdout
            return {"env": dict(os.environ), "initial": initial, "subprocess": seen_by_subprocess}
        """,
        outputs={"env": "json", "initial": "string", "subprocess": "string"},
        env={"PATH": "/usr/bin:/bin", "GREETING": "hello"},
    )

    with ZygotePool() as pool:
        result = pool.run(spec, logs)

    assert result.status == "succeeded", result.reason
    assert result.outputs["env"] == {"PATH": "/usr/bin:/bin", "GREETING": "hello"}
    assert logs.lines("stdout") == [str({"PATH": "/usr/bin:/bin", "GREETING": "hello"})]
    assert sorted(result.outputs["subprocess"].splitlines()) == [
        "GREETING=hello",
        "PATH=/usr/bin:/bin",
    ]
    # What the zygote itself was started with: a minimal environment.
    assert "SECRET_KEY" not in result.outputs["initial"]
    assert "DATABASE_URL" not in result.outputs["initial"]


def test_it_runs_in_the_work_dir(pool, pipeline, logs):
    spec = pipeline(
        'import os\ndef main():\n    return {"cwd": os.getcwd()}\n',
        outputs={"cwd": "string"},
    )

    result = pool.run(spec, logs)

    assert result.outputs == {"cwd": spec.work_dir}


def test_it_disconnects_sockets_opened_at_import(pool, pipeline, logs):
    spec = pipeline(
        """
        import socket

        LEFT, RIGHT = socket.socketpair()

        def main():
            try:
                LEFT.sendall(b"two executions must not share this connection")
            except OSError as exc:
                return {"error": type(exc).__name__}
            return {"error": None}
        """,
        outputs={"error": "json"},
    )

    result = pool.run(spec, logs)

    assert result.outputs == {"error": "OSError"}
    assert logs.lines("stderr") == [SOCKETS_NOTICE.format(count=2)]


def test_it_does_not_fork_a_module_that_started_threads(pool, pipeline, logs):
    # Forked while the thread holds LOCK, a child would inherit it locked
    # forever; a zygote with threads spawns fresh interpreters instead.
    spec = pipeline(
        """
        import threading, time

        LOCK = threading.Lock()
        COUNTER = 0

        def hold():
            while True:
                with LOCK:
                    time.sleep(0.05)
                time.sleep(0.01)

        threading.Thread(target=hold, daemon=True).start()

        def main():
            global COUNTER
            COUNTER += 1
            return {"counter": COUNTER, "locked": not LOCK.acquire(timeout=10)}
        """,
        outputs={"counter": "number", "locked": "boolean"},
    )

    results = [pool.run(spec, logs) for _ in range(2)]

    assert [r.outputs for r in results] == [{"counter": 1, "locked": False}] * 2


OWNER = """
import json, sys, threading
from runtime.pool import ZygotePool
from runtime.run_spec import RunSpec

spec = RunSpec(**json.loads(sys.argv[1]))
pool = ZygotePool()
pool.warm(spec)
print("zygote", *pool.zygote_pids().values(), flush=True)
threading.Thread(target=pool.run, args=(spec, lambda s, t, line: print(line, flush=True))).start()
"""


def test_it_takes_zygote_and_execution_down_with_a_killed_owner(pipeline):
    spec = pipeline(
        'import os, time\ndef main():\n    print("child", os.getpid())\n    time.sleep(600)\n'
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, json.dumps(dataclasses.asdict(spec))],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    try:
        pids = _read_pids(owner, {"zygote", "child"})
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)

        wait_until_gone(pids["zygote"])
        wait_until_gone(pids["child"])
    finally:
        owner.kill()
        owner.wait()


def test_it_never_imports_django():
    code = "import sys, runtime.pool; assert 'django' not in sys.modules, 'django imported'"

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr


def _read_pids(
    proc: subprocess.Popen, names: set[str], timeout_s: float = 30
) -> dict[str, int]:
    """Read "<name> <pid>" lines from proc's stdout until every name was seen (bounded)."""
    pids: dict[str, int] = {}
    buffer = b""
    deadline = time.monotonic() + timeout_s
    fd = proc.stdout.fileno()
    while names - pids.keys():
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only saw {pids} from the owner process"
        if select.select([fd], [], [], remaining)[0]:
            chunk = os.read(fd, 4096)
            assert chunk, f"owner process exited, saw {pids}"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                name, _, pid = line.decode().partition(" ")
                if name in names:
                    pids[name] = int(pid)
    return pids


def test_it_imports_the_module_with_a_minimal_environment(pipeline, logs, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "platform-secret-key")
    spec = pipeline(
        """
        import os

        AT_IMPORT = dict(os.environ)

        def main():
            return {"env": AT_IMPORT}
        """,
        outputs={"env": "json"},
    )

    with ZygotePool(runtime_env={"OMP_NUM_THREADS": "1"}) as pool:
        result = pool.run(spec, logs)

    env = result.outputs["env"]
    assert sorted(env) == ["HOME", "LANG", "LC_ALL", "OMP_NUM_THREADS", "PATH"]
    assert env["HOME"] != os.environ.get("HOME")


def test_it_leaks_no_descriptors(pool, pipeline, logs):
    spec = pipeline(
        "import time\ndef main(sleep):\n    print('hi')\n    time.sleep(sleep)\n"
    )
    pool.run(dataclasses.replace(spec, inputs={"sleep": 0}), logs)
    before = sorted(os.listdir("/proc/self/fd"))

    for sleep in (0, 0, 5):
        pool.run(
            dataclasses.replace(spec, inputs={"sleep": sleep}, timeout_s=0.3), logs
        )

    assert sorted(os.listdir("/proc/self/fd")) == before


def test_it_imports_the_module_with_import_env_and_restarts_on_change(
    pool, pipeline, logs
):
    spec = pipeline(
        'import os\nAPI_URL = os.environ["API_URL"]\ndef main():\n    return {"url": API_URL}\n',
        outputs={"url": "string"},
    )

    first = pool.run(
        dataclasses.replace(spec, import_env={"API_URL": "https://a"}), logs
    )
    second = pool.run(
        dataclasses.replace(spec, import_env={"API_URL": "https://b"}), logs
    )

    assert (first.outputs, second.outputs) == (
        {"url": "https://a"},
        {"url": "https://b"},
    )


def test_it_gives_each_run_fresh_random_numbers_unless_seeded_at_import(
    pool, pipeline, logs
):
    unseeded = pipeline(
        """
        import random
        import numpy
        def main():
            return {"a": random.random(), "b": float(numpy.random.random())}
        """,
        outputs={"a": "number", "b": "number"},
    )
    seeded = pipeline(
        """
        import random
        import numpy
        random.seed(42)
        numpy.random.seed(42)
        def main():
            return {"a": random.random(), "b": float(numpy.random.random())}
        """,
        outputs={"a": "number", "b": "number"},
        function_path="seeded.py",
    )

    fresh = [pool.run(unseeded, logs).outputs for _ in range(2)]
    fixed = [pool.run(seeded, logs).outputs for _ in range(2)]

    assert fresh[0]["a"] != fresh[1]["a"] and fresh[0]["b"] != fresh[1]["b"]
    assert fixed[0] == fixed[1]
