"""Paging through big logs and many executions stays quick.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/platform .venv/bin/python bench/bench_logs.py

Fills a scratch PostgreSQL database with 10,000 executions of 20 log lines
each plus one execution of 100,000 lines, then times (median of 20 requests,
through Django's test client, so views, queries and templates all count):
the SDK logs route (first 1,000 lines, and a one-second window in the middle),
the live-tail fragment near the end of the big log, the execution page, and
the executions list (first and last page). The baseline, measured in the same
run, is what "loading everything" costs: reading all 100,000 lines of the big
execution into memory.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
import warnings
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EXECUTIONS = 10_000
LINES_EACH = 20
BIG_LINES = 100_000
REPEAT = 20
# whitenoise warns that collectstatic never ran: irrelevant to timings.
warnings.filterwarnings("ignore", message="No directory at")


def scratch_database() -> tuple[str, str]:
    base = os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/platform"
    )
    name = f"platform_bench_logs_{uuid.uuid4().hex[:8]}"
    admin = f"{base.rpartition('/')[0]}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin, name


def median_ms(call) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fill(pipeline_id: str) -> str:
    """Executions and log lines, generated inside PostgreSQL (seconds, not minutes)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO executions_execution
              (id, execution_id, pipeline_id, pipeline_name, trigger, status, timeout_s,
               memory_limit_mib, created_at, end_date, log_line_count)
            SELECT gen_random_uuid(), 'bench-' || n, %s, 'bench', 'run', 'Succeeded', 60, 512,
                   now() - n * interval '1 second', now() - n * interval '1 second' + interval '40 ms', %s
            FROM generate_series(1, %s) AS n
            """,
            [pipeline_id, LINES_EACH, EXECUTIONS],
        )
        cur.execute(
            """
            INSERT INTO executions_logline (execution_id, seq, timestamp, stream, message)
            SELECT e.id, s, e.created_at + s * interval '1 ms', 'stdout', 'line ' || s || ' of ' || e.execution_id
            FROM executions_execution e, generate_series(1, %s) AS s
            """,
            [LINES_EACH],
        )
        cur.execute(
            """
            UPDATE executions_execution SET log_line_count = %s, status = 'Running', end_date = NULL
            WHERE execution_id = 'bench-1'
            """,
            [LINES_EACH + BIG_LINES],
        )
        cur.execute(
            """
            INSERT INTO executions_logline (execution_id, seq, timestamp, stream, message)
            SELECT e.id, %s + s, e.created_at + s * interval '10 ms', 'stderr', 'big line ' || s
            FROM executions_execution e, generate_series(1, %s) AS s
            WHERE e.execution_id = 'bench-1'
            """,
            [LINES_EACH, BIG_LINES],
        )
        cur.execute("ANALYZE")
    return "bench-1"


def main() -> int:
    admin, name = scratch_database()
    os.environ["DATABASE_URL"] = f"{admin.rpartition('/')[0]}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from accounts.services import access_token_issue, sdk_token_create
        from executions.models import Execution, LogLine
        from pipelines.models import Pipeline, PipelineStatus

        call_command("migrate", verbosity=0)
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user("bench", password="bench-password")
        pipeline = Pipeline.objects.create(
            name="bench",
            function_path="main.py",
            function_name="run",
            status=PipelineStatus.READY,
        )
        started = time.perf_counter()
        big_id = fill(str(pipeline.pk))
        fill_s = time.perf_counter() - started
        big = Execution.objects.get(execution_id=big_id)
        total_lines = LogLine.objects.count()

        access = access_token_issue(
            refresh_token=sdk_token_create(user=user, name="bench").raw
        )
        api = Client(headers={"Authorization": f"Bearer {access}"})
        browser = Client()
        browser.force_login(user)
        middle_ms = int((big.created_at.timestamp() + BIG_LINES * 0.005) * 1000)
        last_page = EXECUTIONS // 50

        def ok(response):
            assert response.status_code in (200, 286), response.status_code
            return response

        cases = [
            (
                "SDK logs: first 1,000 lines",
                lambda: ok(
                    api.post(
                        f"/api/v1/executions/{big_id}/logs",
                        {"limit": 1000},
                        content_type="application/json",
                    )
                ),
            ),
            (
                "SDK logs: 1 s window mid-log",
                lambda: ok(
                    api.post(
                        f"/api/v1/executions/{big_id}/logs",
                        {"from": middle_ms, "to": middle_ms + 1000},
                        content_type="application/json",
                    )
                ),
            ),
            (
                "live tail after line 99,990",
                lambda: ok(
                    browser.get(
                        f"/executions/{big_id}/logs/?after={BIG_LINES + LINES_EACH - 10}",
                        headers={"HX-Request": "true"},
                    )
                ),
            ),
            (
                "execution page (100k lines)",
                lambda: ok(browser.get(f"/executions/{big_id}/")),
            ),
            ("executions list, page 1", lambda: ok(browser.get("/executions/"))),
            (
                f"executions list, page {last_page}",
                lambda: ok(browser.get(f"/executions/?page={last_page}")),
            ),
            (
                "executions list, status filter",
                lambda: ok(browser.get("/executions/?status=Running")),
            ),
        ]
        baseline = median_ms(
            lambda: list(
                LogLine.objects.filter(execution=big).values_list("message", flat=True)
            )
        )

        print(
            f"log lines: {total_lines:,} over {EXECUTIONS:,} executions (one with {BIG_LINES:,}); filled in {fill_s:.1f} s"
        )
        print(
            f"baseline: load all {BIG_LINES:,} lines of one execution   {baseline:8.1f} ms"
        )
        print(f"{'request':40} {'p50':>9} {'share of baseline':>18}")
        for label, call in cases:
            call()  # warm-up
            value = median_ms(call)
            print(f"{label:40} {value:7.1f} ms {value / baseline:17.2f}x")
        return 0
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
