"""An endpoint call records the token it came with; "Triggered by" names it."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from deployments.endpoints.access import endpoint_token_create
from deployments.endpoints.endpoint_cache import MAIN_TOKEN_NAME
from executions.models import Execution
from tests.deployments.endpoints.conftest import call


def _last(deployment) -> Execution:
    return Execution.objects.filter(deployment=deployment).latest("created_at")


def test_it_records_a_named_token(deployment):
    issued = endpoint_token_create(deployment=deployment, name="mobile app")
    call(deployment, issued.raw)
    assert _last(deployment).endpoint_token_name == "mobile app"


def test_it_records_the_main_token(deployment):
    call(deployment)
    assert _last(deployment).endpoint_token_name == MAIN_TOKEN_NAME


def test_it_sets_the_name_in_the_insert(deployment):
    issued = endpoint_token_create(deployment=deployment, name="ci")
    with CaptureQueriesContext(connection) as queries:
        call(deployment, issued.raw)
    touching = [q["sql"] for q in queries if '"executions_execution"' in q["sql"]]
    assert [s for s in touching if s.startswith("UPDATE")] == []
    inserts = [s for s in touching if 'INSERT INTO "executions_execution"' in s]
    assert len(inserts) == 1 and "endpoint_token_name" in inserts[0]


def test_the_execution_page_names_the_token(client, alice, deployment):
    issued = endpoint_token_create(deployment=deployment, name="mobile app")
    call(deployment, issued.raw)
    client.force_login(alice)
    page = client.get(f"/executions/{_last(deployment).execution_id}/")
    assert "token “mobile app”" in page.content.decode()
