"""The running service with the real runtime (a ZygotePool in this process), no worker."""

from __future__ import annotations

import textwrap

import pytest

from executions.models import Execution, ExecutionStatus, LogLine, Trigger
from executions.services import execution_create, execution_run, input_values_resolve
from executions.services.running import run_work_dir
from pipelines.models import Pipeline, PipelineStatus
from runtime.pool import ZygotePool

pytestmark = pytest.mark.django_db(transaction=True)

CODE = """
import os, sys, time

def add(number1, number2=2):
    print("adding", number1, number2)
    print("to stderr", file=sys.stderr)
    return {"total": number1 + number2}

def boom(number1, number2=2):
    raise ValueError("no luck " + str(number1))

def wrong(number1, number2=2):
    return {"total": "not a number"}

def slow(number1, number2=2):
    time.sleep(30)

def env(number1, number2=2):
    return {"total": len(os.environ), "keys": sorted(os.environ)}

def fifo(number1, number2=2):
    os.mkfifo("pipe")
    return {"report": {"path": "pipe"}}

def link(number1, number2=2):
    os.symlink("/etc/hostname", "hostname")
    return {"report": {"path": "hostname"}}

def outside(number1, number2=2):
    return {"report": {"path": "/etc/hostname"}}
"""


@pytest.fixture
def pool():
    pool = ZygotePool()
    yield pool
    pool.close()


def make_pipeline(alice, function_name, *, outputs=None, status=PipelineStatus.READY):
    pipeline = Pipeline.objects.create(
        name=f"p-{function_name}",
        function_path="main.py",
        function_name=function_name,
        created_by=alice,
        status=status,
        inputs=[
            {"name": "number1", "data_type": "number", "is_required": True},
            {"name": "number2", "data_type": "number"},
        ],
        outputs=outputs or [{"name": "total", "data_type": "number"}],
    )
    pipeline.code_dir.mkdir(parents=True)
    (pipeline.code_dir / "main.py").write_text(textwrap.dedent(CODE))
    return pipeline


def run(pipeline, alice, pool, *, timeout_s=None, **given) -> Execution:
    inputs = input_values_resolve(
        pipeline=pipeline,
        given=given or {"number1": 1},
        files={},
        inputs_mapping=None,
        source="run",
    )
    execution = execution_create(
        pipeline=pipeline,
        trigger=Trigger.RUN,
        created_by=alice,
        inputs=inputs,
        outputs_mapping=None,
        timeout_s=timeout_s,
    )
    execution_run(execution_pk=execution.pk, pool=pool)
    execution.refresh_from_db()
    return execution


def test_it_runs_and_stores_outputs_and_logs(alice, pool):
    execution = run(make_pipeline(alice, "add"), alice, pool, number1=9, number2=6)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.status_reason
    assert execution.io.get(direction="output", name="total").value == 15
    lines = list(LogLine.objects.filter(execution=execution).order_by("seq"))
    assert {(line.stream, line.message) for line in lines} == {
        ("stdout", "adding 9 6"),
        ("stderr", "to stderr"),
    }
    assert execution.log_line_count == 2
    assert (
        execution.function_started_at
        <= execution.function_ended_at
        <= execution.end_date
    )
    assert not run_work_dir(execution).exists()


def test_it_fails_a_raising_function_with_its_traceback(alice, pool):
    execution = run(make_pipeline(alice, "boom"), alice, pool)
    assert execution.status == ExecutionStatus.FAILED
    assert "no luck 1" in execution.status_reason
    logs = "\n".join(
        LogLine.objects.filter(execution=execution).values_list("message", flat=True)
    )
    assert "Traceback" in logs
    assert "ValueError: no luck 1" in logs


def test_it_fails_a_wrong_typed_output_naming_it(alice, pool):
    execution = run(make_pipeline(alice, "wrong"), alice, pool)
    assert execution.status == ExecutionStatus.FAILED
    assert "'total'" in execution.status_reason


def test_it_fails_at_the_timeout(alice, pool):
    execution = run(make_pipeline(alice, "slow"), alice, pool, timeout_s=1)
    assert execution.status == ExecutionStatus.FAILED
    assert "1" in execution.status_reason and "time" in execution.status_reason.lower()


def test_it_gives_the_child_no_platform_secret(alice, pool, settings):
    pipeline = make_pipeline(
        alice,
        "env",
        outputs=[
            {"name": "total", "data_type": "number"},
            {"name": "keys", "data_type": "array"},
        ],
    )
    execution = run(pipeline, alice, pool)
    keys = execution.io.get(name="keys").value
    assert "CRAFT_AI_EXECUTION_ID" in keys
    assert not {
        "DATABASE_URL",
        "SECRET_KEY",
        "REDIS_URL",
        "DJANGO_SETTINGS_MODULE",
    } & set(keys)


def test_it_errors_when_the_pipeline_is_not_ready(alice, pool):
    pipeline = make_pipeline(alice, "add")
    inputs = input_values_resolve(
        pipeline=pipeline,
        given={"number1": 1},
        files={},
        inputs_mapping=None,
        source="run",
    )
    execution = execution_create(
        pipeline=pipeline,
        trigger=Trigger.RUN,
        created_by=alice,
        inputs=inputs,
        outputs_mapping=None,
    )
    Pipeline.objects.filter(pk=pipeline.pk).update(
        status=PipelineStatus.CREATION_FAILED
    )
    execution_run(execution_pk=execution.pk, pool=pool)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ERROR
    assert "not ready" in execution.status_reason


def test_it_ignores_a_duplicate_delivery(alice, pool):
    execution = run(make_pipeline(alice, "add"), alice, pool)
    ended = execution.end_date
    execution_run(execution_pk=execution.pk, pool=pool)
    execution.refresh_from_db()
    assert execution.end_date == ended
    assert execution.log_line_count == 2


@pytest.mark.parametrize("function", ["fifo", "link", "outside"])
def test_a_file_output_that_is_not_a_plain_file_of_the_work_dir_fails_naming_it(
    alice, pool, function
):
    """Refused by the runtime in the child, or by the platform (confined.py) if changed since."""
    pipeline = make_pipeline(
        alice, function, outputs=[{"name": "report", "data_type": "file"}]
    )
    execution = run(pipeline, alice, pool)
    assert execution.status == ExecutionStatus.FAILED
    assert "Output 'report' must be" in execution.status_reason
