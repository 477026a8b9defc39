"""Migrations that moved models between apps keep every row (issue 18).

database_before_the_move.sql is a database as the code before the move left
it, with a row in every table that moved or was folded into another
(rows_before_the_move.py says how it was made). It is loaded into a database
of its own, `manage.py migrate` runs on it as an upgrade would, and the rows
are read back where they live now, by SQL and through the ORM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


@pytest.fixture
def upgraded_database(tmp_path):
    """The dump loaded into a new database and migrated forward; its URL."""
    server = settings.DATABASES["default"]
    if server["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the dump is PostgreSQL's")
    name = f"before_the_move_{uuid.uuid4().hex[:8]}"
    params = {
        "host": server["HOST"],
        "port": server["PORT"] or 5432,
        "user": server["USER"],
        "password": server["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        # A connection of its own: the dump empties search_path for its session.
        with psycopg.connect(dbname=name, autocommit=True, **params) as load:
            load.execute((HERE / "database_before_the_move.sql").read_text())
        password = f":{params['password']}" if params["password"] else ""
        url = f"postgresql://{params['user']}{password}@{params['host']}:{params['port']}/{name}"
        _manage(url, tmp_path, "migrate", "--no-input")
        yield url, params | {"dbname": name}
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(url: str, data_dir: Path, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url, "PLATFORM_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _rows(params: dict, sql: str) -> list[tuple]:
    with psycopg.connect(**params) as conn:
        return conn.execute(sql).fetchall()


def test_every_moved_row_is_where_its_model_lives_now(upgraded_database):
    _url, params = upgraded_database
    assert _rows(params, "SELECT name, status FROM pipelines_pipeline") == [
        ("moved-pipeline", "ready")
    ]
    assert _rows(params, "SELECT sha256 FROM pipelines_pipelinearchive") == [
        ("ab" * 32,)
    ]
    assert _rows(params, "SELECT message FROM pipelines_pipelinelog") == [
        ("built in 1.2 s",)
    ]
    assert _rows(params, "SELECT name, prefix FROM deployments_endpointtoken") == [
        ("partner", "abcd1234")
    ]
    assert _rows(params, "SELECT pod_id, host, restarts FROM deployments_pod") == [
        ("moved-endpoint-pod", "host-1", 2)
    ]
    assert _rows(params, "SELECT message FROM deployments_podlog") == [
        ("Pod is up (pid 42).",)
    ]
    assert _rows(params, "SELECT name, value FROM executions_pipelinemetric") == [
        ("accuracy", 0.93)
    ]
    assert _rows(
        params, "SELECT original_execution_id FROM executions_executionreplay"
    ) == [("moved-endpoint-1",)]


def test_side_tables_became_fields_of_the_deployment(upgraded_database):
    _url, params = upgraded_database
    [(calls, last_used, pinned)] = _rows(
        params,
        "SELECT calls_per_minute, main_token_last_used_at IS NOT NULL,"
        " executions_pinned_at IS NOT NULL FROM deployments_deployment",
    )
    assert (calls, last_used, pinned) == (120, True, True)
    old_tables = _rows(
        params,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND ("
        "tablename LIKE 'deployments_pipeline%' OR tablename LIKE 'pods_%'"
        " OR tablename LIKE 'endpoint_access_%' OR tablename LIKE 'retention_%'"
        " OR tablename LIKE 'replays_%' OR tablename LIKE 'metrics_%')",
    )
    assert old_tables == []


def test_the_orm_follows_the_moved_relations(upgraded_database, tmp_path):
    url, _params = upgraded_database
    read = (
        "import json;"
        "from pipelines.models import Pipeline;"
        "p = Pipeline.objects.get(name='moved-pipeline');"
        "d = p.deployments.get();"
        "e = p.executions.get(execution_id='moved-endpoint-1');"
        "print(json.dumps({"
        "'archive': len(p.archive.content), 'logs': p.logs.count(),"
        "'pod': d.pod.status, 'pod_logs': d.pod_logs.count(),"
        "'tokens': list(d.extra_tokens.values_list('name', flat=True)),"
        "'metrics': list(e.metrics.values_list('name', flat=True)),"
        "'replays': list(e.replays.values_list('replay__execution_id', flat=True)),"
        "'inputs': list(e.io.values_list('value', flat=True))}))"
    )
    found = json.loads(_manage(url, tmp_path, "shell", "-c", read).splitlines()[-1])
    assert found == {
        "archive": 22,
        "logs": 1,
        "pod": "running",
        "pod_logs": 1,
        "tokens": ["partner"],
        "metrics": ["accuracy"],
        "replays": ["moved-endpoint-2"],
        "inputs": ["hello"],
    }
    # Nothing left for makemigrations to write, and no migration left to run.
    _manage(url, tmp_path, "migrate", "--check")
