"""Executions of calls that came together (executions_build_and_save): saved at once, failing one by one."""

from __future__ import annotations

import functools

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from executions.models import Execution
from executions.services.creation import (
    executions_build_and_save,
    executions_save_each,
)
from platform_site.http.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def test_calls_that_came_together_are_saved_in_one_write(build_execution):
    builds = [functools.partial(build_execution, number1=n) for n in range(4)]

    with CaptureQueriesContext(connection) as queries:
        results = executions_build_and_save(builds)

    inserts = [q for q in queries if "INSERT" in q["sql"]]
    assert len(inserts) == (1 if connection.vendor == "postgresql" else 2)
    assert all(isinstance(r, Execution) for r in results)
    saved = Execution.objects.filter(pk__in=[r.pk for r in results])
    assert sorted(e.io.get(name="number1").value for e in saved) == [0, 1, 2, 3]


def test_a_call_that_fails_its_checks_fails_alone(build_execution):
    builds = [
        functools.partial(build_execution, number1=1),
        functools.partial(build_execution, number1="not a number"),
        functools.partial(build_execution, number1=3),
    ]

    first, refused, third = executions_build_and_save(builds)

    assert isinstance(refused, ValidationFailed)
    assert Execution.objects.filter(pk__in=[first.pk, third.pk]).count() == 2


def test_a_call_that_cannot_be_saved_fails_alone(build_execution, make_execution):
    taken = make_execution(number1=1)
    built = [
        build_execution(number1=2),
        build_execution(number1=3, execution_pk=taken.pk),  # its key is taken
        build_execution(number1=4),
    ]

    failures = executions_save_each(built)

    assert failures[0] is None and failures[2] is None
    assert isinstance(failures[1], IntegrityError)
    assert (
        Execution.objects.filter(
            pk__in=[built[0].execution.pk, built[2].execution.pk]
        ).count()
        == 2
    )
    assert Execution.objects.get(pk=taken.pk).io.get(name="number1").value == 1
