from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from deployments.schedules import (
    schedule_describe,
    schedule_error,
    schedule_next_run,
    schedule_next_runs,
)


@pytest.mark.parametrize(
    ("expr", "wording"),
    [
        ("* * * * *", "Every minute"),
        ("*/2 * * * *", "Every 2 minutes"),
        ("0 14 * * *", "At 14:00"),
    ],
)
def test_it_describes_schedules_in_24_hour_words(expr, wording):
    assert schedule_describe(expr) == wording


@pytest.mark.parametrize(
    "expr", ["61 * * * *", "* * * * * *", "", "   ", "@hourly", "a b c d e", None]
)
def test_it_refuses_bad_samples_naming_schedule(expr):
    message = schedule_error(expr)

    assert message is not None and "schedule" in message


def test_it_refuses_an_expression_that_never_matches():
    assert "never" in schedule_error("0 0 30 2 *")
    assert schedule_describe("0 0 30 2 *") is None


def test_it_accepts_feb_29_and_finds_the_next_leap_day():
    assert schedule_error("0 0 29 2 *") is None

    nxt = schedule_next_run("0 0 29 2 *", after=datetime(2025, 3, 1, tzinfo=UTC))

    assert nxt == datetime(2028, 2, 29, tzinfo=UTC)


@time_machine.travel(datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC), tick=False)
def test_it_lists_next_runs_in_utc_from_a_frozen_clock():
    runs = schedule_next_runs("*/15 * * * *", start=datetime.now(UTC), count=3)

    assert runs == [
        datetime(2025, 1, 1, 12, 15, tzinfo=UTC),
        datetime(2025, 1, 1, 12, 30, tzinfo=UTC),
        datetime(2025, 1, 1, 12, 45, tzinfo=UTC),
    ]
    assert all(run.tzinfo is not None for run in runs)


def test_it_gives_the_next_run_strictly_after_a_tick():
    tick = datetime(2025, 1, 1, 12, 1, tzinfo=UTC)

    assert schedule_next_run("* * * * *", after=tick) == datetime(
        2025, 1, 1, 12, 2, tzinfo=UTC
    )


def test_it_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        schedule_next_run("* * * * *", after=datetime(2025, 1, 1))
