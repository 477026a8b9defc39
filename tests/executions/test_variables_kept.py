"""A worker or pod host keeps the variables between changes, and sees each change at once."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.services import variables
from executions.services.variables import (
    environment_variable_delete,
    environment_variables,
    environment_variables_keep,
    environment_variables_set,
)


def seen_within(expected: dict, seconds: float = 5.0) -> dict:
    deadline = time.monotonic() + seconds
    while (current := environment_variables()) != expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    return current


@pytest.fixture
def keeping(monkeypatch):
    """This test process keeps variables as a worker does; undone afterwards."""
    monkeypatch.setattr(variables, "_changed", None)
    monkeypatch.setattr(variables, "_kept", {})
    environment_variables_keep()


@pytest.mark.django_db(transaction=True)
def test_a_kept_copy_costs_no_query_until_a_change(keeping):
    environment_variables_set(values={"GREETING": "hello"})
    assert seen_within({"GREETING": "hello"}) == {"GREETING": "hello"}
    time.sleep(0.3)  # the announcement may arrive after the first read: let it
    environment_variables()

    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            assert environment_variables() == {"GREETING": "hello"}

    assert len(queries) == 0


@pytest.mark.django_db(transaction=True)
def test_a_kept_copy_follows_every_change(keeping):
    environment_variables_set(values={"A": "1", "B": "2"})
    assert seen_within({"A": "1", "B": "2"}) == {"A": "1", "B": "2"}

    environment_variables_set(values={"A": "changed"})
    assert seen_within({"A": "changed", "B": "2"}) == {"A": "changed", "B": "2"}

    environment_variable_delete(name="B")
    assert seen_within({"A": "changed"}) == {"A": "changed"}


@pytest.mark.django_db
def test_a_process_that_does_not_keep_them_reads_them_each_time():
    environment_variables_set(values={"A": "1"})
    assert environment_variables() == {"A": "1"}
    environment_variable_delete(name="A")
    assert environment_variables() == {}
