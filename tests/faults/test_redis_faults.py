"""The broker loses its messages (RELIABILITY R4, R5): FLUSHALL, then a bare restart, during a burst."""

from __future__ import annotations

import time

import pytest

from tests.faults.drill import Outcome, burst, drill_stack, wait_until

pytestmark = pytest.mark.e2e

RESEND_WITHIN_S = 10
BURST_WITHIN_S = 150


def test_a_burst_survives_flushall_and_a_redis_restart(tmp_path):
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()
        worker = drill.platform.procs["worker"]

        def break_the_broker(outcome: Outcome) -> None:
            # Never after the burst gave up: its teardown stops this Redis.
            wait_until(
                lambda: len(outcome.accepted) >= 50 or outcome.stop.is_set(),
                within_s=60,
            )
            if outcome.stop.is_set():
                return
            drill.redis.flushall()
            wait_until(
                lambda: len(outcome.accepted) >= 120 or outcome.stop.is_set(),
                within_s=60,
            )
            if outcome.stop.is_set():
                return
            drill.redis.restart(down_s=1.0)

        # Bounded well inside pytest-timeout: a stuck worker fails here, clearly.
        outcome = burst(
            drill,
            calls=200,
            concurrency=20,
            during=break_the_broker,
            within_s=BURST_WITHIN_S,
        )
        statuses = drill.wait_final(outcome.accepted, within_s=60)
        waits = drill.platform.sql(
            "SELECT max(extract(epoch FROM started_at - created_at)) "
            "FROM executions_execution"
        )[0][0]
        print(
            f"\nFLUSHALL + Redis restart during a 200-call burst: {outcome.summary()}; "
            f"longest wait for a worker {float(waits):.1f} s; "
            f"worker exit code {worker.poll()}"
        )

        assert outcome.problems == [] and outcome.statuses[500] == 0
        assert set(statuses) == outcome.accepted
        assert {statuses[i][0] for i in statuses} == {"Succeeded"}
        assert float(waits) < RESEND_WITHIN_S + 2  # lost messages were re-sent in time
        assert worker.poll() is None  # the worker rode through the restart


def test_a_lost_message_is_resent_within_10_s(tmp_path):
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()
        sdk = drill.platform.sdk()
        pipeline = drill.endpoint.removesuffix("-ep")
        drill.platform.kill("worker")  # nobody consumes: the message waits in Redis
        try:
            execution_id = sdk.run_pipeline(
                pipeline, inputs={"seconds": 0}, wait_for_completion=False
            )["execution_id"]
            drill.redis.flushall()  # ... and is lost
            lost_at = time.monotonic()
        finally:
            drill.platform.start("worker")
        statuses = drill.wait_final({execution_id}, within_s=60)
        took = time.monotonic() - lost_at
        print(
            f"\nA message lost by FLUSHALL ran {took:.1f} s later (worker start included)"
        )

        assert statuses[execution_id][0] == "Succeeded"
        assert took < RESEND_WITHIN_S + 5  # the worker's own start takes a few seconds
