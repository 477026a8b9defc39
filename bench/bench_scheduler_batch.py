"""500 periodic deployments due on the same minute: how late is the last one fired?

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/platform \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_scheduler_batch.py [N]

On a fresh PostgreSQL database, N (500) deployments share one due tick. The
scheduler's loop (scheduler_step until it finds nothing) fires them; the
figure is each execution's created_at - scheduled_for, i.e. fired and
committed, its message sent on commit. The baseline, in the same run, is the
same loop claiming one deployment per transaction (batch_size=1), as the
scheduler did before batches. Target: p99 <= 1 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import percentile  # noqa: E402

BASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/platform"
)
DB_NAME = f"platform_bench_{uuid.uuid4().hex[:8]}"
ADMIN_URL = f"{BASE_URL.rpartition('/')[0]}/postgres"
os.environ["DATABASE_URL"] = f"{BASE_URL.rpartition('/')[0]}/{DB_NAME}"
# Messages go to a queue nobody reads, removed at the end.
os.environ["PLATFORM_QUEUE"] = f"bench-{DB_NAME}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
TARGET_P99_S = 1.0


def setup(count: int) -> list[int]:
    from django.contrib.auth import get_user_model

    from deployments.services.deployments import deployment_create
    from pipelines.models import Pipeline, PipelineStatus

    user = get_user_model().objects.create_user("bench", "bench@example.org", "pw")
    pipeline = Pipeline.objects.create(
        name="noop",
        function_path="main.py",
        function_name="noop",
        created_by=user,
        status=PipelineStatus.READY,
        inputs=[{"name": "x", "data_type": "number"}],
        outputs=[],
    )
    return [
        deployment_create(
            pipeline=pipeline,
            name=f"tick-{i}",
            execution_rule="periodic",
            schedule="* * * * *",
            inputs_mapping=[{"pipeline_input_name": "x", "constant_value": i}],
            outputs_mapping=[],
            created_by=user,
        ).pk
        for i in range(count)
    ]


def fire_all(pks: list[int], *, batch_size: int) -> tuple[list[float], float]:
    """Make every deployment due on one tick, run the loop; (lateness of each, loop time)."""
    from django.utils import timezone

    from deployments.models import Deployment
    from deployments.scheduler import scheduler_step
    from executions.models import Execution

    # Due a second from now: the scheduler sleeps until the due time, then wakes.
    tick = timezone.now() + timedelta(seconds=1)
    Deployment.objects.filter(pk__in=pks).update(next_run_at=tick)
    time.sleep(max(0.0, (tick - timezone.now()).total_seconds()))
    started = time.perf_counter()
    while scheduler_step(batch_size=batch_size):
        pass
    took = time.perf_counter() - started
    late = [
        (created - tick).total_seconds()
        for created in Execution.objects.filter(scheduled_for=tick).values_list(
            "created_at", flat=True
        )
    ]
    return late, took


def line(label: str, late: list[float], took: float) -> str:
    return (
        f"  {label:<36} fired {len(late):4d} in {took:5.2f} s   "
        f"p50 {statistics.median(late) * 1000:7.0f} ms   p99 "
        f"{percentile(late, 0.99) * 1000:7.0f} ms   max {max(late) * 1000:7.0f} ms"
    )


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from platform_site.clients.redis_client import redis_client

        call_command("migrate", interactive=False, verbosity=0)
        pks = setup(count)
        print(f"{count} periodic deployments due on the same tick")
        time.sleep(1.2)  # the next tick must be a different second from the first
        batched, took = fire_all(pks, batch_size=100)
        print(line("batched claims (100 per transaction)", batched, took))
        time.sleep(1.2)
        single, single_took = fire_all(pks, batch_size=1)
        print(line("baseline: one per transaction", single, single_took))
        p99 = percentile(batched, 0.99)
        print(
            f"  p99 batched / one-by-one = {p99 / percentile(single, 0.99):.2f}; "
            f"target p99 <= {TARGET_P99_S:.0f} s: {'ok' if p99 <= TARGET_P99_S else 'MISSED'}"
        )
        redis_client().delete(settings.CELERY_TASK_DEFAULT_QUEUE)
        from django.db import connections

        connections.close_all()
        for conn in connections.all():
            if conn.vendor == "postgresql":
                conn.close_pool()
        return 0 if p99 <= TARGET_P99_S else 1
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
