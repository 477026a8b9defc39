"""SIGTERM to `make run` (runplatform) with executions in flight and callers held."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from executions.worker import WORKER_STOPPED_REASON
from platform_site.processes import BASE_DIR
from tests.e2e.live import LivePlatform, free_port
from tests.faults.drill import Drill, Outcome, burst, wait_until
from tests.faults.services import drop_cluster, drop_redis, start_cluster, start_redis
from tests.platform_site.test_runplatform_live import (
    descendants,
    running,
    wait_healthy,
)

pytestmark = pytest.mark.e2e

STOP_WITHIN_S = 10


def test_sigterm_stops_everything_and_answers_every_held_caller(tmp_path):
    cluster, redis_server = start_cluster(), start_redis()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DATABASE_URL": cluster.url,
        "REDIS_URL": redis_server.url,
        "PLATFORM_DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "PLATFORM_ADMIN_PASSWORD": "drill-password-1234",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "launcher.log"
    with log_path.open("wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "runplatform"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    launcher.url, launcher.log_path = f"http://127.0.0.1:{port}", log_path
    try:
        wait_healthy(launcher)
        platform = LivePlatform(
            url=launcher.url,
            env=env,
            data_dir=tmp_path / "data",
            database_url=cluster.url,
            log_dir=tmp_path,
        )
        platform.sdk_token = platform.new_sdk_token("admin")
        drill = Drill(
            cluster=cluster, redis=redis_server, platform=platform, tmp=tmp_path
        )
        drill.endpoint_of_sleeper()
        outcome = Outcome()
        callers = threading.Thread(
            target=burst,
            kwargs={
                "drill": drill,
                "calls": 4,
                "concurrency": 4,
                "seconds": 60,
                "outcome": outcome,
            },
        )
        callers.start()
        assert wait_until(
            lambda: sum(s == "Running" for s, _ in drill.statuses().values()) == 4,
            within_s=30,
        )
        children = descendants(launcher.pid)
        started = time.monotonic()
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(STOP_WITHIN_S + 5)
        took = time.monotonic() - started
        callers.join(60)
        statuses = drill.statuses()
        print(
            f"\nSIGTERM with 4 executions running: stopped in {took:.1f} s, exit "
            f"{launcher.returncode}; callers {outcome.summary()}; "
            f"statuses {sorted(s for s, _ in statuses.values())}"
        )
        log = log_path.read_text()

        assert launcher.returncode == 0 and took < STOP_WITHIN_S, log[-3000:]
        assert "ignored SIGTERM" not in log  # web and worker stopped by themselves
        assert wait_until(lambda: not any(running(pid) for pid in children), within_s=3)
        # Held callers were answered with their execution_id, not cut off.
        assert outcome.problems == [] and len(outcome.accepted) == 4
        assert set(statuses) == outcome.accepted
        assert {statuses[i] for i in outcome.accepted} == {
            ("Error", WORKER_STOPPED_REASON)
        }
    finally:
        for pid in descendants(launcher.pid) | {launcher.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        launcher.wait(5)
        drop_redis(redis_server)
        drop_cluster(cluster)
