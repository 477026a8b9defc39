from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from deployments.endpoints.access import endpoint_rate_limit_set
from tests.deployments.endpoints.conftest import call


def test_without_a_limit_every_call_goes_through(deployment):
    assert [call(deployment).status_code for _ in range(3)] == [303, 303, 303]


def test_past_the_limit_it_answers_429_with_retry_after(deployment):
    endpoint_rate_limit_set(deployment=deployment, calls_per_minute=2)
    with time_machine.travel(datetime(2030, 1, 1, 12, 0, 40, tzinfo=UTC), tick=False):
        answers = [call(deployment) for _ in range(3)]
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert answers[2]["Retry-After"] == "20"
    assert answers[2].json()["name"] == "TooManyRequests"


def test_the_next_minute_starts_a_new_count(deployment):
    endpoint_rate_limit_set(deployment=deployment, calls_per_minute=1)
    with time_machine.travel(datetime(2030, 1, 1, 12, 5, 59, tzinfo=UTC), tick=False):
        assert call(deployment).status_code == 303
        assert call(deployment).status_code == 429
    with time_machine.travel(datetime(2030, 1, 1, 12, 6, 0, tzinfo=UTC), tick=False):
        assert call(deployment).status_code == 303


def test_removing_the_limit_lifts_it(deployment):
    endpoint_rate_limit_set(deployment=deployment, calls_per_minute=1)
    with time_machine.travel(datetime(2030, 1, 1, 13, 0, 0, tzinfo=UTC), tick=False):
        call(deployment)
        endpoint_rate_limit_set(deployment=deployment, calls_per_minute=None)
        assert call(deployment).status_code == 303


def test_a_wrong_token_does_not_count(deployment):
    endpoint_rate_limit_set(deployment=deployment, calls_per_minute=1)
    with time_machine.travel(datetime(2030, 1, 1, 14, 0, 0, tzinfo=UTC), tick=False):
        assert call(deployment, "x" * 20).status_code == 401
        assert call(deployment).status_code == 303
