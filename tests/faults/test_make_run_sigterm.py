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
import requests
from craft_ai_sdk import Input, Output

from executions.worker import WORKER_STOPPED_REASON
from platform_site.operations.processes import BASE_DIR
from tests.e2e.live import LivePlatform, descendants, free_port
from tests.faults.drill import Drill, Outcome, burst, wait_until
from tests.faults.services import drop_cluster, drop_redis, start_cluster, start_redis
from tests.platform_site.test_runplatform_live import running, wait_healthy

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
        queue = low_latency_sleeper(platform)
        held: dict[str, float] = {}
        held_call = threading.Thread(
            target=hold, args=(platform.url, queue, held), daemon=True
        )
        held_call.start()
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
            lambda: sum(s == "Running" for s, _ in drill.statuses().values()) == 5,
            within_s=30,
        )
        children = descendants(launcher.pid)
        started = time.monotonic()
        launcher.send_signal(signal.SIGTERM)
        held["signalled"] = time.monotonic()
        launcher.wait(STOP_WITHIN_S + 5)
        took = time.monotonic() - started
        callers.join(60)
        held_call.join(10)
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
        assert set(statuses) == outcome.accepted | {held["execution_id"]}
        assert {statuses[i] for i in outcome.accepted} == {
            ("Error", WORKER_STOPPED_REASON)
        }
        # The low-latency call held at SIGTERM was answered within about a
        # second with its execution_id; queue mode runs it again at restart.
        answered_s = held["answered"] - held["signalled"]
        print(f"held low-latency call answered {answered_s:.2f} s after SIGTERM")
        assert held["status"] in (303, 500) and answered_s < 1.5
        assert statuses[held["execution_id"]][0] == "Pending"
    finally:
        for pid in descendants(launcher.pid) | {launcher.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        launcher.wait(5)
        drop_redis(redis_server)
        drop_cluster(cluster)


LOW_LATENCY_SLEEPER = """
import time

def nap(seconds):
    time.sleep(seconds)
    return {"slept": seconds}
"""


def low_latency_sleeper(platform: LivePlatform) -> dict:
    """A queue-mode low-latency endpoint of a function sleeping its input's seconds."""
    sdk = platform.sdk()
    folder = platform.log_dir / "nap"
    folder.mkdir()
    (folder / "main.py").write_text(LOW_LATENCY_SLEEPER)
    sdk.create_pipeline(
        pipeline_name="nap",
        function_path="main.py",
        function_name="nap",
        container_config={"local_folder": str(folder)},
        inputs=[Input("seconds", "number")],
        outputs=[Output("slept", "number")],
    )
    return sdk.create_deployment(
        pipeline_name="nap",
        deployment_name="nap-queue",
        execution_rule="endpoint",
        mode="low_latency",
    )


def hold(url: str, deployment: dict, held: dict) -> None:
    """One call held by the endpoint: when and how it is answered."""
    answer = requests.post(
        f"{url}/endpoints/{deployment['endpoint_url_path']}",
        json={"seconds": 60},
        headers={"Authorization": f"EndpointToken {deployment['endpoint_token']}"},
        timeout=90,
        allow_redirects=False,
    )
    held["answered"] = time.monotonic()
    held["status"] = answer.status_code
    body = answer.json()
    held["execution_id"] = (
        body.get("execution_id") or body["additional_data"]["execution_id"]
    )
