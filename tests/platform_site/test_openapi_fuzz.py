"""Property-based fuzzing of the API from its own OpenAPI document (Schemathesis): no 5xx.

Bounded: FUZZ_EXAMPLES examples per operation, no shrinking phase unless
one fails. Path parameters are random, so most land on 404s; the bodies
and query strings are what this explores (the table test in
test_malformed_bodies.py covers real objects).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from accounts.services import access_token_issue, sdk_token_create

FUZZ_EXAMPLES = 15

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def _keep_the_test_connection():
    """The real WSGI handler closes the connection after each request (as Django's
    test client avoids): the test's transaction must survive it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(alice, settings, _keep_the_test_connection) -> dict[str, str]:
    settings.LONG_POLL_HOLD_S = 0
    issued = sdk_token_create(user=alice, name="fuzz")
    return {"Authorization": f"Bearer {access_token_issue(refresh_token=issued.raw)}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
def test_it_never_answers_5xx_to_generated_requests(case, bearer):
    response = case.call(headers=bearer)

    case.validate_response(response, checks=[not_a_server_error])
