"""Tick precision of the scheduler (RELIABILITY S1), on a real live stack.

Starts the platform (web, worker, scheduler, sweeper) on a fresh database,
creates N periodic `* * * * *` deployments of a no-op pipeline, observes two
ticks and prints p50/p99/max of (execution created_at - scheduled_for) and of
(started_at - scheduled_for). For comparison it measures, in the same run and
for the same ticks, a baseline: the placeholder loop this scheduler replaced
(check, then `time.sleep(5)`), whose lateness is its polling phase.

Usage: DATABASE_URL=postgresql://... REDIS_URL=redis://... .venv/bin/python bench/bench_scheduler.py [N]
Takes about 2-3 minutes.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from craft_ai_sdk import InputSource  # noqa: E402
from craft_ai_sdk.io import Input  # noqa: E402

from bench.figures import percentile  # noqa: E402
from tests.e2e.live import drop_live_platform, start_live_platform  # noqa: E402

NOOP = "def noop(x):\n    return None\n"
TICKS = 2
BASELINE_POLL_S = 5.0


def summary(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<44} no samples"
    return (
        f"{label:<44} n={len(values):<4} p50={statistics.median(values) * 1000:8.1f} ms  "
        f"p99={percentile(values, 0.99) * 1000:8.1f} ms  max={max(values) * 1000:8.1f} ms"
    )


def baseline_poll_loop(
    ticks: list[datetime], stop: threading.Event, out: list[float], phase_s: float
) -> None:
    """The old placeholder's shape: look, then sleep 5 s; a tick waits for the next look."""
    pending = list(ticks)
    stop.wait(phase_s)
    while pending and not stop.is_set():
        now = datetime.now(UTC)
        while pending and pending[0] <= now:
            out.append((now - pending.pop(0)).total_seconds())
        time.sleep(BASELINE_POLL_S)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    root = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    print(f"Starting the live platform in {root} ...", flush=True)
    platform = start_live_platform(root)
    try:
        sdk = platform.sdk()
        code = root / "code"
        code.mkdir()
        (code / "noop.py").write_text(NOOP)
        pipeline = f"noop-{uuid.uuid4().hex[:6]}"
        sdk.create_pipeline(
            pipeline_name=pipeline,
            function_path="noop.py",
            function_name="noop",
            container_config={"local_folder": str(code)},
            inputs=[Input("x", "number")],
        )
        names = []
        for index in range(count):
            name = f"tick-{index}-{uuid.uuid4().hex[:6]}"
            sdk.create_deployment(
                pipeline_name=pipeline,
                deployment_name=name,
                execution_rule="periodic",
                schedule="* * * * *",
                inputs_mapping=[
                    InputSource(pipeline_input_name="x", constant_value=index)
                ],
            )
            names.append(name)
        now = datetime.now(UTC)
        first = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
        ticks = [first + timedelta(minutes=i) for i in range(TICKS)]
        print(
            f"{count} deployments created; observing ticks {', '.join(t.strftime('%H:%M:%S') for t in ticks)} UTC",
            flush=True,
        )
        stop = threading.Event()
        baseline: list[float] = []
        # One polling loop per deployment, started at spread phases, as N
        # independent pollers would be.
        pollers = [
            threading.Thread(
                target=baseline_poll_loop,
                args=(ticks, stop, baseline, BASELINE_POLL_S * i / count),
                daemon=True,
            )
            for i in range(count)
        ]
        for poller in pollers:
            poller.start()

        deadline = time.monotonic() + (ticks[-1] - now).total_seconds() + 30
        expected = count * TICKS
        rows: list[tuple] = []
        while time.monotonic() < deadline:
            rows = platform.sql(
                "SELECT e.created_at, e.scheduled_for, e.started_at FROM executions_execution e "
                "JOIN deployments_deployment d ON d.id = e.deployment_id "
                "WHERE d.name = ANY(%s) AND e.scheduled_for = ANY(%s)",
                names,
                ticks,
            )
            started = sum(1 for r in rows if r[2] is not None)
            if len(rows) >= expected and started >= expected:
                break
            time.sleep(1)
        stop.set()
        for poller in pollers:
            poller.join(timeout=BASELINE_POLL_S + 1)

        created = [(r[0] - r[1]).total_seconds() for r in rows]
        started = [(r[2] - r[1]).total_seconds() for r in rows if r[2] is not None]
        print()
        print(f"Ticks fired: {len(rows)}/{expected} executions")
        print(summary("scheduler: created_at - scheduled_for", created))
        print(summary("scheduler: started_at - scheduled_for", started))
        print(summary(f"baseline: check + sleep({BASELINE_POLL_S:g} s) loop", baseline))
        print(
            "(Celery beat's default scheduler caps its sleep at beat_max_loop_interval = "
            "300 s; a schedule added while it sleeps can be up to 300 s late.)"
        )
    finally:
        drop_live_platform(platform)


if __name__ == "__main__":
    main()
