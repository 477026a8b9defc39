from __future__ import annotations

import pytest
from django.test import Client

from accounts.services import access_token_issue, sdk_token_create
from executions.models import Trigger
from executions.services import execution_create
from tests.deployments.factories import make_pipeline

pytestmark = pytest.mark.django_db


def bearer(user) -> dict[str, str]:
    issued = sdk_token_create(user=user, name="metrics")
    return {"Authorization": f"Bearer {access_token_issue(refresh_token=issued.raw)}"}


def test_it_refuses_anonymous_scrapes():
    response = Client().get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_it_refuses_a_user_who_is_not_staff(alice):
    assert Client(headers=bearer(alice)).get("/metrics").status_code == 401


def test_it_answers_a_staff_user_in_prometheus_format(alice):
    alice.is_staff = True
    alice.save()
    execution_create(
        pipeline=make_pipeline(),
        trigger=Trigger.RUN,
        created_by=alice,
        inputs=[],
        outputs_mapping=None,
    )
    client = Client(headers=bearer(alice))
    client.get("/healthz")

    response = client.get("/metrics")

    text = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert 'platform_executions{mode="run",status="Pending"} 1.0' in text
    assert "platform_execution_duration_seconds_bucket{le=" in text
    assert 'platform_queue_depth{where="pending_executions"} 1.0' in text
    assert "platform_scheduler_lag_seconds 0.0" in text
    assert "platform_http_requests_total{" in text
    assert "platform_disk_free_bytes " in text
    assert "# TYPE platform_pods_oldest_pending_seconds gauge" in text


def test_it_answers_the_operator_token(settings):
    settings.METRICS_TOKEN = "operator-scrape-token-1234"
    client = Client(headers={"Authorization": "Bearer operator-scrape-token-1234"})

    assert client.get("/metrics").status_code == 200
    assert (
        Client(headers={"Authorization": "Bearer wrong"}).get("/metrics").status_code
        == 401
    )


def test_it_refuses_the_wrong_method(settings):
    settings.METRICS_TOKEN = "operator-scrape-token-1234"
    client = Client(headers={"Authorization": "Bearer operator-scrape-token-1234"})

    assert client.post("/metrics").status_code == 405
