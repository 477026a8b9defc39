# ruff: noqa: I001, I002  (a script for the tree of 67aa200, whose apps are gone)
"""How database_before_the_move.sql was made: rows written by the code of 67aa200.

Commit 67aa200 is the last one before pipelines, pods, endpoint_access,
retention, replays and metrics moved (issue 18). In a checkout of it, on an
empty database:

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/before_the_move \\
        python manage.py migrate
    DATABASE_URL=... python manage.py shell < tests/upgrades/rows_before_the_move.py
    pg_dump --no-owner --no-privileges --inserts --exclude-table-data=axes_* \\
        postgresql://postgres@127.0.0.1:5432/before_the_move \\
        | grep -Ev '^.(un)?restrict ' > tests/upgrades/database_before_the_move.sql

(grep drops pg_dump's psql-only restrict lines: the test loads the file with psycopg).

Not imported by the tests (its models no longer exist): test_moved_models.py
loads the dump, migrates it forward and reads these rows back.
"""

import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from deployments.models import Deployment, Pipeline, PipelineArchive, PipelineLog
from endpoint_access.models import EndpointLimits, EndpointToken
from executions.models import Execution, ExecutionIo
from metrics.models import PipelineMetric
from pods.models import Pod, PodLog
from replays.models import ExecutionReplay
from retention.models import DeploymentPin

now = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
alice = get_user_model().objects.create_user("alice", "alice@example.org", "x")
pipeline = Pipeline.objects.create(
    name="moved-pipeline",
    function_path="src/main.py",
    function_name="main",
    inputs=[{"name": "word", "data_type": "string", "is_required": True}],
    outputs=[{"name": "echo", "data_type": "string"}],
    status="ready",
    created_by=alice,
)
PipelineArchive.objects.create(
    pipeline=pipeline, content=b"PK\x05\x06" + bytes(18), sha256="ab" * 32
)
PipelineLog.objects.create(pipeline=pipeline, timestamp=now, message="built in 1.2 s")
deployment = Deployment.objects.create(
    name="moved-endpoint",
    pipeline=pipeline,
    execution_rule="endpoint",
    mode="low_latency",
    status="up",
    endpoint_url_path="moved-endpoint",
    created_by=alice,
)
EndpointToken.objects.create(
    deployment=deployment, name="partner", prefix="abcd1234", digest="cd" * 32
)
EndpointLimits.objects.create(
    deployment=deployment, calls_per_minute=120, main_token_last_used_at=now
)
DeploymentPin.objects.create(deployment=deployment)
Pod.objects.create(
    deployment=deployment,
    pod_id="moved-endpoint-pod",
    host="host-1",
    status="running",
    restarts=2,
    heartbeat_at=now,
)
PodLog.objects.create(
    deployment=deployment,
    pod_id="moved-endpoint-pod",
    timestamp=now,
    message="Pod is up (pid 42).",
)


def execution(execution_id):
    return Execution.objects.create(
        execution_id=execution_id,
        pipeline=pipeline,
        pipeline_name=pipeline.name,
        deployment=deployment,
        deployment_name=deployment.name,
        trigger="endpoint",
        created_by=alice,
        status="Succeeded",
        timeout_s=60,
        memory_limit_mib=512,
        end_date=timezone.now(),
    )


original, replay = execution("moved-endpoint-1"), execution("moved-endpoint-2")
ExecutionIo.objects.create(
    execution=original,
    direction="input",
    position=0,
    name="word",
    data_type="string",
    mapping_type="endpoint",
    mapping_value={},
    value="hello",
)
ExecutionReplay.objects.create(
    replay=replay, original=original, original_execution_id=original.execution_id
)
PipelineMetric.objects.create(
    execution=original, kind="single", name="accuracy", value=0.93
)
