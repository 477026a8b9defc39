"""Pages and answers that hold tokens or secret values are never kept by a cache."""

from __future__ import annotations

import pytest

from deployments.services.deployments import deployment_create
from tests.deployments.factories import make_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(alice):
    return deployment_create(
        pipeline=make_pipeline(),
        name="secret-page",
        execution_rule="endpoint",
        created_by=alice,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/accounts/settings/"),
        ("post", "/accounts/settings/tokens/"),
        ("get", "/deployments/secret-page/"),
        ("get", "/environment-variables/"),
    ],
)
def test_it_sends_no_store_on_pages_that_show_secrets(
    alice_client, endpoint, method, path
):
    response = getattr(alice_client, method)(path)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/deployments/secret-page"),
        ("post", "/api/v1/endpoints/secret-page/generate-new-token"),
        ("get", "/api/v1/environment-variables"),
    ],
)
def test_it_sends_no_store_on_every_api_answer(api_client, endpoint, method, path):
    response = getattr(api_client, method)(path)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
