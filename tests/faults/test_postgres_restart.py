"""PostgreSQL restarts and killed backends (RELIABILITY R13), on a cluster of the drill's own."""

from __future__ import annotations

import threading
import time

import pytest

from tests.faults.drill import Outcome, burst, drill_stack, wait_until

pytestmark = pytest.mark.e2e


def test_executions_in_flight_survive_a_postgres_restart(tmp_path):
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()
        outcome = Outcome()
        callers = threading.Thread(
            target=burst,
            kwargs={
                "drill": drill,
                "calls": 8,
                "concurrency": 8,
                "seconds": 4,
                "outcome": outcome,
            },
        )
        callers.start()
        assert wait_until(
            lambda: sum(s == "Running" for s, _ in drill.statuses().values()) == 8,
            within_s=30,
        )
        drill.cluster.restart()  # while all 8 functions sleep
        time.sleep(1)
        drill.cluster.terminate_backends(
            drill.database
        )  # and again, backend by backend
        callers.join(90)
        statuses = drill.wait_final(outcome.accepted, within_s=30)
        print(f"\nPostgreSQL restart with 8 executions running: {outcome.summary()}")

        assert outcome.problems == [] and outcome.statuses[500] == 0
        assert len(outcome.accepted) == 8
        assert {statuses[i] for i in outcome.accepted} == {("Succeeded", None)}
        assert outcome.succeeded == outcome.accepted  # each caller got its outputs


def test_a_burst_of_calls_survives_a_postgres_restart(tmp_path):
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()

        def restart_midway(outcome: Outcome) -> None:
            wait_until(lambda: len(outcome.accepted) >= 60, within_s=60)
            drill.cluster.restart()

        outcome = burst(drill, calls=300, concurrency=20, during=restart_midway)
        statuses = drill.wait_final(outcome.accepted, within_s=60)
        rows = set(statuses)
        print(f"\nPostgreSQL restart during a 300-call burst: {outcome.summary()}")

        assert outcome.problems == [] and outcome.statuses[500] == 0
        assert [statuses[i] for i in rows if statuses[i][0] != "Succeeded"] == []
        assert len(outcome.succeeded) == 300
        assert rows == outcome.accepted  # nothing accepted is missing, nothing extra
        assert {statuses[i][0] for i in rows} == {"Succeeded"}
