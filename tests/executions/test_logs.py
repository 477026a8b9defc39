"""The log sink keeps at most EXECUTION_LOG_MAX_LINES / _BYTES per execution."""

from __future__ import annotations

import textwrap

import pytest

from executions.models import Execution, ExecutionStatus, LogLine, Trigger
from executions.services import execution_create, execution_run, input_values_resolve
from executions.services.logs import LOG_CUT, LOG_DROPPED, LogSink
from pipelines.models import Pipeline, PipelineStatus
from runtime.pool import ZygotePool

T0 = 1_700_000_000.0


def stored(execution: Execution) -> list[tuple[str, str]]:
    return [
        (line.stream, line.message)
        for line in LogLine.objects.filter(execution=execution).order_by("seq")
    ]


def test_it_keeps_every_line_under_the_caps(make_execution):
    execution = make_execution()
    sink = LogSink(execution)

    for i in range(3):
        sink.on_log("stdout", T0 + i, f"line {i}\n")
    sink.stop()

    assert stored(execution) == [("stdout", f"line {i}") for i in range(3)]


def test_it_cuts_at_the_line_cap_with_a_marker_and_a_count(make_execution, settings):
    settings.EXECUTION_LOG_MAX_LINES = 3
    execution = make_execution()
    sink = LogSink(execution)

    for i in range(10):
        sink.on_log("stdout", T0 + i, f"line {i}")
    sink.stop()

    cut = LOG_CUT.format(max_lines=3, max_bytes=settings.EXECUTION_LOG_MAX_BYTES)
    assert stored(execution) == [
        ("stdout", "line 0"),
        ("stdout", "line 1"),
        ("stdout", "line 2"),
        ("stderr", cut),
        ("stderr", LOG_DROPPED.format(lines=7, bytes=7 * len("line 9"))),
    ]
    execution.refresh_from_db()
    assert execution.log_line_count == 5


def test_it_cuts_at_the_byte_cap(make_execution, settings):
    settings.EXECUTION_LOG_MAX_BYTES = 10
    execution = make_execution()
    sink = LogSink(execution)

    for line in ("12345", "6789", "too long now", "x"):
        sink.on_log("stdout", T0, line)
    sink.stop()

    messages = [message for _, message in stored(execution)]
    assert messages[:2] == ["12345", "6789"]
    assert messages[2].startswith("[platform] Log limit reached")
    assert messages[3] == LOG_DROPPED.format(lines=2, bytes=len("too long now") + 1)


CHATTY = """
def chatty(number1):
    for i in range(300_000):
        print("line", i, "x" * 40)
    return {"total": number1}
"""


@pytest.mark.django_db(transaction=True)
def test_it_ends_a_chatty_execution_normally_with_bounded_logs(alice, settings):
    settings.EXECUTION_LOG_MAX_LINES = 1000
    pipeline = Pipeline.objects.create(
        name="chatty",
        function_path="main.py",
        function_name="chatty",
        created_by=alice,
        status=PipelineStatus.READY,
        inputs=[{"name": "number1", "data_type": "number", "is_required": True}],
        outputs=[{"name": "total", "data_type": "number"}],
    )
    pipeline.code_dir.mkdir(parents=True)
    (pipeline.code_dir / "main.py").write_text(textwrap.dedent(CHATTY))
    execution = execution_create(
        pipeline=pipeline,
        trigger=Trigger.RUN,
        created_by=alice,
        inputs=input_values_resolve(
            pipeline=pipeline,
            given={"number1": 7},
            files={},
            inputs_mapping=None,
            source="run",
        ),
        outputs_mapping=None,
    )
    pool = ZygotePool()
    try:
        execution_run(execution_pk=execution.pk, pool=pool)
    finally:
        pool.close()

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.status_reason
    assert execution.io.get(direction="output", name="total").value == 7
    messages = [message for _, message in stored(execution)]
    assert len(messages) == 1002
    assert messages[999].startswith("line 999 ")
    assert messages[1000].startswith("[platform] Log limit reached (1000 lines")
    assert messages[1001].startswith("[platform] 299000 more lines")
