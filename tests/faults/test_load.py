"""Load on the production stack (RELIABILITY R14, P2 in small): no error, connections within the bound."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from platform_site.operations.processes import platform_processes
from tests.e2e.live import embedded_stack
from tests.faults.drill import Caller, Drill, Outcome, burst, drill_stack

pytestmark = pytest.mark.e2e

# web, worker, scheduler, sweeper, …: each with its own pool
PROCESSES = len(platform_processes(port=0))


class ConnectionWatch:
    """Samples the platform's PostgreSQL connections while the load runs."""

    def __init__(self, drill):
        self.drill = drill
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        while not self.stop.is_set():
            self.peak = max(
                self.peak, self.drill.cluster.connections(self.drill.database)
            )
            time.sleep(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def test_2000_calls_at_20_concurrent(tmp_path):
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()
        bound = PROCESSES * settings.DB_POOL_SIZE
        with ConnectionWatch(drill) as watch:
            started = time.monotonic()
            outcome = burst(drill, calls=2000, concurrency=20)
            took = time.monotonic() - started
        statuses = drill.wait_final(outcome.accepted, within_s=30)
        print(
            f"\n2,000 calls at 20 concurrent: {outcome.summary()}; "
            f"{2000 / took:.0f} calls/s; peak {watch.peak} connections (bound {bound})"
        )

        assert outcome.problems == [] and outcome.statuses == {200: 2000}
        assert {s for s, _ in statuses.values()} == {"Succeeded"}
        assert len(statuses) == 2000
        assert watch.peak <= bound


def test_200_concurrent_callers_never_exhaust_postgres(tmp_path):
    """max_connections is 100 on the drill's cluster, PostgreSQL's default."""
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()
        with ConnectionWatch(drill) as watch:
            outcome = burst(drill, calls=400, concurrency=200, outcome=Outcome())
        print(
            f"\n200 concurrent callers: {outcome.summary()}; peak {watch.peak} connections"
        )

        assert outcome.problems == [] and outcome.statuses == {200: 400}
        assert watch.peak <= PROCESSES * settings.DB_POOL_SIZE < 100


def test_parallel_low_latency_calls_on_the_embedded_default(tmp_path):
    """`make run` as it comes (SQLite, embedded Redis), under load: calls written
    together, a pod host's claims and records combined, and every row right."""
    with embedded_stack(tmp_path) as platform:
        drill = Drill(cluster=None, redis=None, platform=platform, tmp=tmp_path)
        drill.endpoint_of_sleeper(
            mode="low_latency",
            enable_parallel_executions=True,
            max_parallel_executions_per_pod=6,
        )
        outcome = burst(drill, calls=600, concurrency=20)
        statuses = drill.wait_final(outcome.accepted, within_s=30)
        slept = platform.sql(
            "SELECT e.execution_id, io.value FROM executions_execution e "
            "JOIN executions_executionio io ON io.execution_id = e.id "
            "WHERE io.direction = %s",
            "output",
        )
        print(f"\n600 calls at 20 concurrent, embedded default: {outcome.summary()}")

        assert outcome.problems == [] and outcome.statuses == {200: 600}
        assert len(outcome.accepted) == 600 and set(statuses) == outcome.accepted
        assert {status for status, _ in statuses.values()} == {"Succeeded"}
        assert dict(slept) == dict.fromkeys(outcome.accepted, "0")

        # Bad calls among good ones, written in the same batches: each fails alone.
        bodies = [b'{"seconds": 0}', b'{"seconds": "soon"}', b'{"seconds": 0', b"[]"]
        answers = _at_once(drill, bodies * 15)
        for body, (status, payload) in zip(bodies * 15, answers, strict=True):
            if body == bodies[0]:
                assert status == 200 and payload["outputs"] == {"slept": 0}
            else:
                assert status == 400, (body, status, payload)
                assert payload["name"] and payload["message"]
        assert all(
            "seconds" in payload["message"]
            for body, (_, payload) in zip(bodies * 15, answers, strict=True)
            if body == bodies[1]
        )
        rows = platform.sql("SELECT count(*) FROM executions_execution")
        assert rows == [(600 + 15,)]  # a refused call leaves no row


def _at_once(drill: Drill, bodies: list[bytes]) -> list[tuple[int, dict]]:
    """Each body POSTed by a client of its own, all at once."""
    path = f"/endpoints/{drill.endpoint}"
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(
            pool.map(
                lambda body: Caller(drill, Outcome()).request("POST", path, body),
                bodies,
            )
        )
