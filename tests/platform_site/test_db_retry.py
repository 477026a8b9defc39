from __future__ import annotations

import pytest
from django.db import IntegrityError, OperationalError, transaction

from platform_site.clients.db_retry import db_retry

# Outside a test transaction: inside one nothing may be retried (the last test).
pytestmark = pytest.mark.django_db(transaction=True)
SERVER_GONE = OperationalError("server closed the connection unexpectedly")


def flaky(failures: int, error: Exception = SERVER_GONE):
    calls = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "stored"

    return fn, calls


def test_it_retries_a_lost_connection_until_it_works():
    fn, calls = flaky(3)
    slept: list[float] = []

    assert db_retry(fn, what="storing", sleep=slept.append) == "stored"
    assert len(calls) == 4
    assert slept == [0.1, 0.2, 0.4]


def test_it_gives_up_after_its_time():
    fn, calls = flaky(1000)

    with pytest.raises(OperationalError):
        db_retry(fn, what="storing", for_s=0.0, sleep=lambda s: None)
    assert len(calls) == 1


def test_it_never_retries_what_is_not_a_blip():
    fn, calls = flaky(1, IntegrityError("duplicate key"))

    with pytest.raises(IntegrityError):
        db_retry(fn, what="storing", sleep=lambda s: None)
    assert len(calls) == 1


def test_it_cannot_retry_inside_a_transaction():
    fn, calls = flaky(1)

    with pytest.raises(OperationalError), transaction.atomic():
        db_retry(fn, what="storing", sleep=lambda s: None)
    assert len(calls) == 1
