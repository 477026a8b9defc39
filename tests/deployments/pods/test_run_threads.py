"""When a pod host's run thread keeps its PostgreSQL connection between runs (deployments/pods/run_threads.py)."""

from __future__ import annotations

import pytest
from django.db import connection

from deployments.pods.run_threads import connection_after_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pooled():
    if connection.vendor != "postgresql" or connection.pool is None:
        pytest.skip("PostgreSQL with its connection pool only")
    connection.ensure_connection()
    yield connection.pool
    connection.close()


def test_a_thread_keeps_its_connection_while_the_pool_has_room(pooled):
    held = connection.connection

    connection_after_run(keep=False)

    assert connection.connection is held


def test_a_thread_gives_its_connection_back_when_someone_waits(pooled, monkeypatch):
    stats = {**pooled.get_stats(), "requests_waiting": 1}
    monkeypatch.setattr(type(pooled), "get_stats", lambda self: stats)

    connection_after_run(keep=False)

    assert connection.connection is None


def test_a_thread_gives_its_connection_back_when_the_pool_is_spent(pooled, monkeypatch):
    stats = pooled.get_stats()
    spent = {**stats, "pool_available": 0, "pool_size": stats["pool_max"]}
    monkeypatch.setattr(type(pooled), "get_stats", lambda self: spent)

    connection_after_run(keep=False)

    assert connection.connection is None
