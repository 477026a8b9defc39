from __future__ import annotations

import pytest
from django.test import Client

from deployments.selectors import deployment_token
from deployments.services.deployments import deployment_create
from tests.deployments.factories import make_pipeline, unique


@pytest.fixture(autouse=True)
def _no_hold(settings):
    settings.ENDPOINT_HOLD_S = 0


def make_deployment(alice):
    pipeline = make_pipeline(
        inputs=[{"name": "number1", "data_type": "number"}],
        outputs=[{"name": "number3", "data_type": "number"}],
    )
    return deployment_create(
        pipeline=pipeline,
        name=unique("d"),
        execution_rule="endpoint",
        inputs_mapping=None,
        outputs_mapping=None,
        created_by=alice,
    )


@pytest.fixture
def deployment(alice):
    return make_deployment(alice)


def call(deployment, token: str | None = None):
    token = deployment_token(deployment) if token is None else token
    return Client(headers={"Authorization": f"EndpointToken {token}"}).post(
        f"/endpoints/{deployment.endpoint_url_path}",
        {"number1": 1},
        content_type="application/json",
    )
