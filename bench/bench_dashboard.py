"""The deployment page's health figures stay quick at a million executions.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/platform .venv/bin/python bench/bench_dashboard.py

Creates <DATABASE_URL's database>_bench (dropped at the end), fills it with
1,000 then 1,000,000 executions over the last 30 days across 10 deployments
(INSERT ... SELECT generate_series: seconds, not minutes), and times the
deployment page and the home page through Django's test client (median of
20 requests: views, queries and templates all count), with the time spent in
SQL beside it. The ratio 1 M / 1,000 is what the indexes must keep small: the
health query reads only the window's rows of one deployment (an index-only
scan of execution_health), never the whole ledger.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = (1_000, 1_000_000)
DEPLOYMENTS = 10
DAYS = 30
REPEAT = 20
warnings.filterwarnings("ignore", message="No directory at")


def scratch_database() -> tuple[str, str]:
    """(admin URL, bench database URL), the bench database created afresh."""
    base = os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/platform"
    )
    server, _, name = base.rpartition("/")
    name = f"{name}_bench"
    admin = f"{server}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin, f"{server}/{name}"


def fill(total: int, pipeline_id: str, deployment_ids: list[str]) -> float:
    """Executions up to `total` rows; seconds it took. Mixed outcomes and durations."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM executions_execution")
        have = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO executions_execution
              (id, execution_id, pipeline_id, pipeline_name, deployment_id, deployment_name,
               trigger, endpoint_token_name, status, timeout_s, memory_limit_mib, created_at,
               end_date, runner, attempts, log_line_count)
            SELECT gen_random_uuid(), 'bench-' || n, %(pipeline)s, 'bench',
                   (%(deployments)s::uuid[])[1 + n %% %(count)s], 'bench-' || (n %% %(count)s),
                   'endpoint', 'main token',
                   CASE WHEN n %% 100 < 90 THEN 'Succeeded' WHEN n %% 100 < 97 THEN 'Failed' ELSE 'Error' END,
                   60, 512, t, t + (20 + (n * 7919) %% 2000) * interval '1 ms', '', '[]', 0
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n,
                 LATERAL (SELECT now() - (n * 2654435761 %% (%(days)s::bigint * 86400000)) * interval '1 ms' AS t) AS at
            """,
            {
                "pipeline": pipeline_id,
                "deployments": deployment_ids,
                "count": len(deployment_ids),
                "first": have + 1,
                "last": total,
                "days": DAYS,
            },
        )
        cur.execute("VACUUM ANALYZE executions_execution")
    return time.perf_counter() - started


def measure(call) -> tuple[float, float]:
    """Median (total ms, SQL ms) of REPEAT calls."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    totals, sqls = [], []
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = call()
            totals.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
        sqls.append(sum(float(q["time"]) for q in queries) * 1000)
    return statistics.median(totals), statistics.median(sqls)


def main() -> int:
    admin, url = scratch_database()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
    # Django's test client says Host: testserver.
    os.environ["ALLOWED_HOSTS"] = "testserver"
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from deployments.models import Deployment
        from pipelines.models import Pipeline, PipelineStatus

        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("bench", password="bench-password")
        pipeline = Pipeline.objects.create(
            name="bench",
            function_path="main.py",
            function_name="run",
            status=PipelineStatus.READY,
        )
        deployments = [
            Deployment.objects.create(
                name=f"bench-{i}",
                pipeline=pipeline,
                execution_rule="endpoint",
                created_by=user,
            )
            for i in range(DEPLOYMENTS)
        ]
        browser = Client()
        browser.force_login(user)
        pages = {
            "deployment page": lambda: browser.get("/deployments/bench-1/"),
            "home page": lambda: browser.get("/"),
        }
        results: dict[int, dict[str, tuple[float, float]]] = {}
        for size in SIZES:
            took = fill(size, str(pipeline.pk), [str(d.pk) for d in deployments])
            print(f"{size:>9,} executions (filled in {took:.1f} s)")
            results[size] = {name: measure(call) for name, call in pages.items()}
            for name, (total, sql) in results[size].items():
                print(f"  {name:<16} {total:8.1f} ms, of which SQL {sql:7.1f} ms")
        small, big = SIZES
        for name in pages:
            ratio = results[big][name][0] / results[small][name][0]
            # Django times a query to the millisecond: under 1 ms reads 0.
            small_sql = results[small][name][1]
            sql_ratio = (
                f"x{results[big][name][1] / small_sql:.2f}"
                if small_sql
                else "n/a (< 1 ms)"
            )
            print(
                f"{name}: {big:,} / {small:,} rows = x{ratio:.2f} render, {sql_ratio} SQL"
            )
        with connection.cursor() as cur:
            since = "now() - interval '1 day'"
            cur.execute(
                "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*), percentile_cont(0.95) WITHIN GROUP "
                "(ORDER BY extract(epoch FROM end_date - created_at)) FROM executions_execution "
                f"WHERE deployment_id = %s AND created_at >= {since}",
                [str(deployments[1].pk)],
            )
            plan = [row[0] for row in cur.fetchall()]
        print("health query plan at 1 M rows:")
        print("\n".join(f"  {line}" for line in plan))
        connection.close()
    finally:
        name = url.rpartition("/")[2]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
