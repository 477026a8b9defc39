"""Low-latency deployments through faults (issue: no stuck queue, one failure rule).

Each drill runs a queue-mode and a parallel-mode deployment of a function
that reports every run of itself to a ledger outside the platform (a TCP
server in this test process; the drill's sandboxes share the host's network
for it), so a doubled run is seen, not guessed: runs in the ledger minus
executions that ran. (Runs report their deployment, not their execution id:
parallel runs share one process, and so its environment.) Each drill prints
one row of the table kept in test-artifacts/pod-drills.txt.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socketserver
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from craft_ai_sdk import Input, Output

from tests.e2e.live import ARTIFACTS
from tests.faults.drill import Drill, Outcome, burst, drill_stack, wait_until

pytestmark = pytest.mark.e2e

COUNTED = """
import os, socket, time

def counted(seconds):
    with socket.create_connection(("127.0.0.1", int(os.environ["LEDGER_PORT"])), 5) as s:
        s.sendall(os.environ["CRAFT_AI_DEPLOYMENT_NAME"].encode() + b"\\n")
    time.sleep(seconds)
    return {"slept": seconds}
"""
TABLE = ARTIFACTS / "pod-drills.txt"
COLUMNS = ("drill", "mode", "accepted", "succeeded", "error", "doubled", "recovery_s")


class Ledger(socketserver.ThreadingTCPServer):
    """Counts the runs of each deployment, as the functions report them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _LedgerLine)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _LedgerLine(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline().decode().strip()
        with self.server.lock:
            self.server.runs[line] += 1


@contextmanager
def pod_drill(tmp_path) -> Iterator[tuple[Drill, dict[str, Drill], Ledger]]:
    """A drill stack with a queue-mode and a parallel-mode deployment of `counted`."""
    ledger = Ledger()
    try:
        with drill_stack(tmp_path, PLATFORM_SANDBOX_NETWORK="host") as drill:
            sdk = drill.platform.sdk()
            sdk.create_or_update_environment_variable("LEDGER_PORT", str(ledger.port))
            name = f"counted-{uuid.uuid4().hex[:6]}"
            folder = tmp_path / name
            folder.mkdir()
            (folder / "main.py").write_text(COUNTED)
            sdk.create_pipeline(
                pipeline_name=name,
                function_path="main.py",
                function_name="counted",
                container_config={"local_folder": str(folder)},
                inputs=[Input("seconds", "number")],
                outputs=[Output("slept", "number")],
            )
            modes = {}
            for mode, extra in (
                ("queue", {}),
                (
                    "parallel",
                    {
                        "enable_parallel_executions": True,
                        "max_parallel_executions_per_pod": 6,
                    },
                ),
            ):
                deployment = sdk.create_deployment(
                    pipeline_name=name,
                    deployment_name=f"{name}-{mode}",
                    execution_rule="endpoint",
                    mode="low_latency",
                    **extra,
                )
                assert deployment["status"] == "up", deployment
                modes[mode] = dataclasses.replace(
                    drill,
                    endpoint=deployment["name"],
                    endpoint_token=deployment["endpoint_token"],
                )
            yield drill, modes, ledger
    finally:
        ledger.shutdown()
        ledger.server_close()


def serves(drill: Drill, within_s: float) -> float | None:
    """Seconds until a quick call to the deployment answers 200 (None: not within)."""
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        try:
            answer = requests.post(
                f"{drill.platform.url}/endpoints/{drill.endpoint}",
                json={"seconds": 0},
                headers={"Authorization": f"EndpointToken {drill.endpoint_token}"},
                timeout=10,
            )
            if answer.status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return None


def record(
    target: Drill,
    drill_name: str,
    mode: str,
    statuses,
    outcome: Outcome,
    ledger,
    recovery,
):
    accepted = outcome.accepted
    [(ran,)] = target.platform.sql(
        "SELECT count(*) FROM executions_execution WHERE deployment_name = %s"
        " AND status IN ('Succeeded', 'Failed', 'Error')",
        target.endpoint,
    )
    row = {
        "drill": drill_name,
        "mode": mode,
        "accepted": len(accepted),
        "succeeded": sum(statuses.get(i, ("",))[0] == "Succeeded" for i in accepted),
        "error": sum(statuses.get(i, ("",))[0] == "Error" for i in accepted),
        "doubled": ledger.runs[target.endpoint] - ran,
        "recovery_s": "-" if recovery is None else f"{recovery:.1f}",
    }
    line = " | ".join(f"{row[c]!s:>{len(c)}}" for c in COLUMNS)
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    if not TABLE.exists():
        TABLE.write_text(" | ".join(COLUMNS) + "\n")
    with TABLE.open("a") as table:
        table.write(line + "\n")
    print(f"\n{' | '.join(COLUMNS)}\n{line}")
    return row


def bursts_through(
    drill: Drill,
    modes: dict[str, Drill],
    ledger: Ledger,
    *,
    name: str,
    calls: int,
    seconds: float,
    fault,
    after: int,
) -> dict[str, tuple[dict, Outcome, dict]]:
    """A burst on each deployment at once; `fault()` once `after` calls were accepted.

    Returns {mode: (its table row, what its callers saw, final statuses)}.
    """
    outcomes = {mode: Outcome() for mode in modes}

    def strike(_: Outcome) -> None:
        wait_until(
            lambda: sum(len(o.accepted) for o in outcomes.values()) >= after,
            within_s=60,
        )
        fault()

    threads = [
        threading.Thread(
            target=burst,
            kwargs={
                "drill": modes[mode],
                "calls": calls,
                "concurrency": 6,
                "seconds": seconds,
                "outcome": outcomes[mode],
                "during": strike if mode == "queue" else None,
                "within_s": 150,
            },
        )
        for mode in modes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    results = {}
    for mode, target in modes.items():
        statuses = drill.wait_final(outcomes[mode].accepted, within_s=60)
        row = record(
            target, name, mode, statuses, outcomes[mode], ledger, serves(target, 10)
        )
        results[mode] = (row, outcomes[mode], statuses)
    return results


def test_two_redis_restarts_never_stop_a_low_latency_deployment(tmp_path):
    with pod_drill(tmp_path) as (drill, modes, ledger):

        def restart_twice() -> None:
            drill.redis.restart(down_s=1.0)
            time.sleep(3)
            drill.redis.restart(down_s=1.0)

        results = bursts_through(
            drill,
            modes,
            ledger,
            name="redis restart x2",
            calls=40,
            seconds=0.2,
            fault=restart_twice,
            after=20,
        )
        for row, outcome, _ in results.values():
            assert outcome.problems == [], outcome.problems
            assert row["accepted"] == 40 and row["succeeded"] == 40, row
            assert row["doubled"] == 0 and row["recovery_s"] != "-"


def test_a_postgres_restart_right_after_claims_loses_nothing(tmp_path):
    with pod_drill(tmp_path) as (drill, modes, ledger):
        results = bursts_through(
            drill,
            modes,
            ledger,
            name="postgres restart",
            calls=30,
            seconds=0.1,
            fault=drill.cluster.restart,
            after=10,
        )
        for row, outcome, statuses in results.values():
            reasons = [statuses[i][1] for i in outcome.accepted]
            assert not any(r and "heartbeat" in r for r in reasons), reasons
            assert row["error"] == 0 and row["succeeded"] == row["accepted"], row
            assert row["doubled"] == 0 and row["recovery_s"] != "-"


def pod_pids(deployment_name: str, drill: Drill) -> list[int]:
    """Host pids of the pod processes (pod.py) of one deployment."""
    [(pk,)] = drill.platform.sql(
        "SELECT id FROM deployments_deployment WHERE name = %s", deployment_name
    )
    found = subprocess.run(
        ["pgrep", "-f", f"pod.py .*pods/{pk}"], capture_output=True, text=True
    )
    return [int(pid) for pid in found.stdout.split()]


@pytest.mark.parametrize("mode", ["queue", "parallel"])
def test_a_killed_pod_follows_the_one_rule(tmp_path, mode):
    with pod_drill(tmp_path) as (drill, modes, ledger):
        target = modes[mode]
        outcome = Outcome()
        callers = threading.Thread(
            target=burst,
            kwargs={
                "drill": target,
                "calls": 3,
                "concurrency": 3,
                "seconds": 3,
                "outcome": outcome,
                "within_s": 120,
            },
        )
        callers.start()
        expected_running = 1 if mode == "queue" else 3
        assert wait_until(
            lambda: (
                sum(s == "Running" for s, _ in drill.statuses().values())
                >= expected_running
            ),
            within_s=30,
        )
        time.sleep(0.5)  # the functions are asleep
        pids = pod_pids(target.endpoint, drill)
        assert pids, "no pod process found"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        recovery = serves(target, 20)
        recovery = None if recovery is None else time.monotonic() - killed_at
        callers.join(120)
        statuses = drill.wait_final(outcome.accepted, within_s=60)
        row = record(target, "pod SIGKILL", mode, statuses, outcome, ledger, recovery)

        assert outcome.problems == [], outcome.problems
        assert row["accepted"] == 3
        if mode == "queue":
            # The one running ran once more, first; the others once.
            assert row["succeeded"] == 3 and row["doubled"] == 1, row
        else:
            # Parallel: those running end Error naming the pod, never run twice.
            assert row["error"] == 3 and row["doubled"] == 0, row
            assert all("pod" in (statuses[i][1] or "") for i in outcome.accepted), (
                statuses
            )


FILLER = """
import os

def fill(seconds):
    written = 0
    try:
        with open("ballast.bin", "wb") as f:
            while True:
                f.write(b"x" * (1024 * 1024))
                f.flush()
                written += 1
    except OSError:
        pass  # the disk is full: exactly what this pipeline is for
    return {"slept": written}
"""


def test_a_pipeline_filling_the_data_dirs_disk(tmp_path):
    """507 naming the disk on writes, /healthz degraded, and back once the pod is re-created."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    data = tmp_path / "stack" / "data"
    data.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=192m", "tmpfs", str(data)], check=True
    )
    try:
        with drill_stack(tmp_path, PLATFORM_DISK_MIN_FREE_MIB="32") as drill:
            sdk = drill.platform.sdk()
            folder = tmp_path / "filler"
            folder.mkdir()
            (folder / "main.py").write_text(FILLER)
            sdk.create_pipeline(
                pipeline_name="filler",
                function_path="main.py",
                function_name="fill",
                container_config={"local_folder": str(folder)},
                inputs=[Input("seconds", "number")],
                outputs=[Output("slept", "number")],
            )
            deployment = sdk.create_deployment(
                pipeline_name="filler",
                deployment_name="filler-ll",
                execution_rule="endpoint",
                mode="low_latency",
            )
            target = dataclasses.replace(
                drill,
                endpoint="filler-ll",
                endpoint_token=deployment["endpoint_token"],
            )
            assert serves(target, 30) is not None  # it filled the disk

            health = requests.get(f"{drill.platform.url}/healthz", timeout=10)
            big = tmp_path / "upload.bin"
            big.write_bytes(os.urandom(4 * 1024 * 1024))
            signed = sdk._get(
                f"{sdk.base_environment_api_url}/data-store/upload",
                params={"path_to_object": "big.bin"},
            )
            with big.open("rb") as upload:
                stored = requests.post(
                    signed["signed_url"], files={"file": upload}, timeout=30
                )
            recovered_at = time.monotonic()
            sdk.update_deployment("filler-ll", is_enabled=False)
            assert wait_until(  # its pod host stopped the pod
                lambda: not drill.platform.sql("SELECT 1 FROM deployments_pod"),
                within_s=30,
            )
            sdk.update_deployment("filler-ll", is_enabled=True)
            assert wait_until(
                lambda: (
                    requests.get(f"{drill.platform.url}/healthz", timeout=10).json()[
                        "status"
                    ]
                    == "ok"
                ),
                within_s=30,
            )
            recovery = time.monotonic() - recovered_at
            print(
                f"\ndisk full: /healthz {health.status_code} {health.json()['status']}; "
                f"upload {stored.status_code}; healthy again {recovery:.1f} s "
                "after the pod was re-created"
            )

            assert health.status_code == 200
            assert health.json()["status"] == "degraded"
            assert "PLATFORM_DISK_MIN_FREE_MIB" in health.json()["message"]
            assert stored.status_code == 507
            assert b"disk is full" in stored.content
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
