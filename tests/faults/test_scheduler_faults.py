"""The scheduler killed across ticks, and two schedulers at once (RELIABILITY S2, S4)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest
from craft_ai_sdk import InputSource, OutputDestination

from platform_site.operations.processes import BASE_DIR, platform_processes
from tests.faults.drill import Drill, drill_stack, wait_until

pytestmark = pytest.mark.e2e

DEPLOYMENTS = 30


def periodic_deployments(drill: Drill, count: int) -> list[str]:
    sdk = drill.platform.sdk()
    pipeline = drill.endpoint.removesuffix("-ep")
    names = [f"{pipeline}-tick-{i}" for i in range(count)]
    for name in names:
        sdk.create_deployment(
            pipeline_name=pipeline,
            deployment_name=name,
            execution_rule="periodic",
            schedule="* * * * *",
            inputs_mapping=[
                InputSource(pipeline_input_name="seconds", constant_value=0)
            ],
            outputs_mapping=[
                OutputDestination(pipeline_output_name="slept", is_null=True)
            ],
        )
    return names


def make_due(drill: Drill, names: list[str], *, seconds_ago: int) -> None:
    """As if the ticks had come while nobody fired them."""
    drill.platform.sql(
        "UPDATE deployments_deployment SET next_run_at = "
        "date_trunc('minute', now()) - make_interval(secs => %s) WHERE name = ANY(%s)",
        seconds_ago,
        names,
    )


def ticks(
    drill: Drill, names: list[str], *, until: datetime | None = None
) -> list[tuple]:
    """(deployment, tick, status) of their executions; `until`: ticks due by then only."""
    rows = drill.platform.sql(
        "SELECT d.name, e.scheduled_for, e.status FROM executions_execution e "
        "JOIN deployments_deployment d ON d.id = e.deployment_id WHERE d.name = ANY(%s)",
        names,
    )
    return [row for row in rows if until is None or row[1] <= until]


def test_a_scheduler_killed_across_ticks_catches_up_once(tmp_path):
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()
        names = periodic_deployments(drill, DEPLOYMENTS)
        drill.platform.kill("scheduler")
        make_due(drill, names, seconds_ago=180)  # three ticks passed while it was down
        drill.platform.start("scheduler")
        # A minute may turn while the catch-up runs: its new tick is no catch-up.
        restarted = datetime.now(UTC)
        assert wait_until(
            lambda: (
                sum(
                    s == "Succeeded" for _, _, s in ticks(drill, names, until=restarted)
                )
                >= DEPLOYMENTS
            ),
            within_s=60,
            every_s=0.5,
        )
        rows = ticks(drill, names, until=restarted)
        ran = [(n, t) for n, t, s in rows if s != "Skipped"]
        skipped = [(n, t) for n, t, s in rows if s == "Skipped"]
        print(
            f"\nscheduler down across 3 ticks of {DEPLOYMENTS} deployments: "
            f"{len(ran)} catch-up runs, {len(skipped)} skipped ticks recorded"
        )

        assert len(ran) == DEPLOYMENTS == len({n for n, _ in ran})  # one catch-up each
        assert len(skipped) >= 2 * DEPLOYMENTS  # the other missed ticks, on record
        assert len(set(rows)) == len(rows)


def test_two_schedulers_fire_each_tick_once(tmp_path):
    with drill_stack(tmp_path) as drill:
        drill.endpoint_of_sleeper()
        names = periodic_deployments(drill, DEPLOYMENTS)
        spec = next(s for s in platform_processes(port=0) if s.name == "scheduler")
        second = subprocess.Popen(
            spec.argv,
            cwd=BASE_DIR,
            env=drill.platform.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for round_ in range(
                3
            ):  # three ticks, each due at once for every deployment
                drill.platform.sql(
                    "UPDATE deployments_deployment SET next_run_at = now() - "
                    "make_interval(secs => %s) WHERE name = ANY(%s)",
                    round_,
                    names,
                )
                assert wait_until(
                    lambda r=round_: len(ticks(drill, names)) >= DEPLOYMENTS * (r + 1),
                    within_s=30,
                    every_s=0.2,
                )
        finally:
            second.terminate()
            second.wait(10)
        rows = ticks(drill, names)
        per_tick = {(n, t) for n, t, _ in rows}
        print(
            f"\ntwo schedulers, {DEPLOYMENTS} deployments due 3 times: "
            f"{len(rows)} executions for {len(per_tick)} (deployment, tick) pairs"
        )

        assert len(rows) == len(per_tick) == 3 * DEPLOYMENTS
