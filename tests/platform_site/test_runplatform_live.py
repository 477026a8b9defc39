"""`manage.py runplatform` for real: embedded Redis, SQLite, every child, SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from craft_ai_sdk import CraftAiSdk, Output

from platform_site.operations.processes import BASE_DIR
from tests.e2e.live import descendants, free_port, healthz

pytestmark = pytest.mark.e2e

HEALTH_TIMEOUT_S = 120
STOP_TIMEOUT_S = 10


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture
def launcher():
    data_dir = Path(tempfile.mkdtemp(prefix="rp-", dir="/tmp"))
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(PLATFORM_DATA_DIR=str(data_dir), PORT=str(port), PYTHONUNBUFFERED="1")
    log = (data_dir / "launcher.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "runplatform"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.url = f"http://127.0.0.1:{port}"
    proc.env = env
    proc.log_path = data_dir / "launcher.log"
    yield proc
    for pid in descendants(proc.pid) | {proc.pid}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(5)
    log.close()


def wait_healthy(proc) -> dict:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    body: dict = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.log_path.read_text()[-3000:]
        try:
            status, body = healthz(proc.url)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"not healthy: {body}\n{proc.log_path.read_text()[-3000:]}")


def run_a_pipeline(launcher, tmp_path: Path) -> None:
    """One execution, so the worker has forked its execution processes too."""
    token = subprocess.run(
        [sys.executable, "manage.py", "create_sdk_token", "admin"],
        cwd=BASE_DIR,
        env=launcher.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    (tmp_path / "main.py").write_text("def hello():\n    return {'word': 'hi'}\n")
    sdk = CraftAiSdk(
        sdk_token=token,
        environment_url=launcher.url,
        control_url=launcher.url,
        verbose_log=False,
    )
    sdk.create_pipeline(
        pipeline_name="hello",
        function_path="main.py",
        function_name="hello",
        container_config={"local_folder": str(tmp_path)},
        outputs=[Output("word", "string")],
    )
    assert sdk.run_pipeline("hello")["outputs"] == {"word": "hi"}


def test_it_starts_everything_and_stops_every_child_on_sigterm(launcher, tmp_path):
    body = wait_healthy(launcher)
    assert set(body["parts"].values()) == {"ok"}
    run_a_pipeline(launcher, tmp_path)
    children = descendants(launcher.pid)
    assert len(children) >= 5  # redis, web, worker, scheduler, sweeper, …

    launcher.send_signal(signal.SIGTERM)
    launcher.wait(STOP_TIMEOUT_S)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(running(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if running(p)]
    output = launcher.log_path.read_text()
    assert launcher.returncode == 0, output[-3000:]
    assert "Created user admin with password" in output
    assert "stopped." in output


def test_it_restarts_a_killed_worker(launcher):
    wait_healthy(launcher)
    output = launcher.log_path
    worker_pid = next(
        pid
        for pid in descendants(launcher.pid)
        if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()
        and Path(f"/proc/{pid}/stat").read_text().split()[3] == str(launcher.pid)
    )
    os.kill(worker_pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "restarting worker" not in output.read_text():
        time.sleep(0.2)
    text = output.read_text()
    assert "worker killed by SIGKILL. Restarting it in 1 s." in text
    assert "restarting worker" in text
    wait_healthy(launcher)
