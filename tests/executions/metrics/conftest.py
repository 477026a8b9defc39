from __future__ import annotations

import pytest
from django.test import Client

from executions.metrics.tokens import execution_sdk_token_issue
from tests.executions.conftest import make_execution, pipeline  # noqa: F401


@pytest.fixture
def execution_client():
    """A client carrying an execution's access token, as user code's SDK sends it."""

    def make(execution) -> Client:
        raw = execution_sdk_token_issue(execution=execution)
        response = Client().post(
            "/api/v1/auth/refresh",
            {"refresh_token": raw},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        access = response.json()["access_token"]
        return Client(headers={"Authorization": f"Bearer {access}"})

    return make
