"""The execution page's timeline bar (views.pages.timeline_segments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from executions.models import Execution, ExecutionStatus
from executions.views.pages import CUT_SHORT, timeline_segments

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _execution(**fields) -> Execution:
    return Execution(created_at=T0, started_at=T0 + timedelta(seconds=1), **fields)


def test_it_shows_every_stage_of_a_finished_run():
    execution = _execution(
        status=ExecutionStatus.SUCCEEDED,
        process_started_at=T0 + timedelta(seconds=1.1),
        function_started_at=T0 + timedelta(seconds=1.2),
        function_ended_at=T0 + timedelta(seconds=4.9),
        end_date=T0 + timedelta(seconds=5),
    )
    labels = [s.label for s in timeline_segments(execution)]
    assert labels == [
        "Queued",
        "Worker → process",
        "Process → function",
        "Function",
        "Outputs stored",
    ]


def test_it_shows_the_function_of_a_timed_out_run():
    # A child killed at its timeout never reports its function's timestamps.
    execution = _execution(
        status=ExecutionStatus.FAILED,
        process_started_at=T0 + timedelta(seconds=1.3),
        end_date=T0 + timedelta(seconds=5),
    )
    segments = timeline_segments(execution)
    assert [s.label for s in segments] == ["Queued", "Worker → process", CUT_SHORT]
    assert round(segments[-1].seconds, 1) == 3.7


def test_it_draws_no_function_while_running():
    execution = _execution(status=ExecutionStatus.RUNNING, process_started_at=T0)
    assert CUT_SHORT not in [s.label for s in timeline_segments(execution)]
