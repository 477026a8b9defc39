"""The wizard's forms: basic schedules to CRON, typed constants."""

from __future__ import annotations

import pytest

from deployments.forms import TriggerForm, basic_schedule


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [
        ("minutes", 1, "* * * * *"),
        ("minutes", 15, "*/15 * * * *"),
        ("hours", 1, "30 * * * *"),
        ("hours", 6, "30 */6 * * *"),
        ("days", 1, "30 8 * * *"),
        ("days", 2, "30 8 */2 * *"),
        ("weeks", 1, "30 8 * * 5"),
        ("months", 3, "30 8 15 */3 *"),
    ],
)
def test_it_converts_basic_schedules(unit, value, expected):
    cron = basic_schedule(
        unit=unit, value=value, hour=8, minute=30, weekday="5", day=15
    )
    assert cron == expected


def test_it_gives_the_trigger_form_a_cron(db):
    form = TriggerForm(
        data={
            "execution_rule": "periodic",
            "schedule_mode": "basic",
            "basic_value": "1",
            "basic_unit": "days",
            "basic_time": "06:05",
        }
    )
    assert form.is_valid()
    assert form.cleaned_data["cron"] == "5 6 * * *"


def test_it_ignores_the_schedule_of_endpoints(db):
    form = TriggerForm(data={"execution_rule": "endpoint", "schedule": "nonsense"})
    assert form.is_valid()
    assert form.cleaned_data["cron"] is None
