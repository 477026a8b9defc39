"""A worker SIGKILLed mid-execution (RELIABILITY R1, R2, R7)."""

from __future__ import annotations

import threading
import time

import pytest

from executions.services.runners import DIED_REASON
from tests.faults.drill import Outcome, burst, drill_stack, wait_until

pytestmark = pytest.mark.e2e

REAPED = DIED_REASON.partition("{what}")[0] + "worker"


def test_a_killed_workers_runs_end_error_and_its_queue_still_runs(tmp_path):
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()
        running, queued = Outcome(), Outcome()
        long_calls = threading.Thread(
            target=burst,
            kwargs={
                "drill": drill,
                "calls": 8,
                "concurrency": 8,
                "seconds": 60,
                "outcome": running,
            },
        )
        long_calls.start()
        assert wait_until(
            lambda: sum(s == "Running" for s, _ in drill.statuses().values()) == 8,
            within_s=30,
        )
        # Every worker thread is busy: these wait in the broker's queue.
        short_calls = threading.Thread(
            target=burst,
            kwargs={
                "drill": drill,
                "calls": 4,
                "concurrency": 4,
                "seconds": 0,
                "outcome": queued,
            },
        )
        short_calls.start()
        assert wait_until(lambda: len(drill.statuses()) == 12, within_s=30)
        killed_at = time.time()
        drill.platform.kill("worker")  # SIGKILL, with its zygotes and their children
        drill.platform.start("worker")
        long_calls.join(120)
        short_calls.join(120)
        statuses = drill.wait_final(running.accepted | queued.accepted, within_s=30)
        [(settled_at,)] = drill.platform.sql(
            "SELECT extract(epoch FROM max(end_date)) FROM executions_execution"
            " WHERE status = 'Error'"
        )
        settled_s = float(settled_at) - killed_at
        print(
            f"\nworker SIGKILL with 8 running, 4 queued: running callers "
            f"{running.summary()}; queued callers {queued.summary()}; "
            f"running ones settled {settled_s:.1f} s after the kill"
        )

        assert set(statuses) == running.accepted | queued.accepted
        reaped = [statuses[i] for i in running.accepted]
        assert all(s == "Error" and r.startswith(REAPED) for s, r in reaped), reaped
        # Its lease (PLATFORM_RUNNER_LEASE_S, 3 s) ran out: settled, not reaped at 30 s.
        assert settled_s < 6
        assert {statuses[i][0] for i in queued.accepted} == {"Succeeded"}
        assert queued.succeeded == queued.accepted
        # The callers of reaped runs got the failure with their execution_id, never a bare 500.
        assert running.problems == [] and queued.problems == []
