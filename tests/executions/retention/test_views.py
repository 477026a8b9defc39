from __future__ import annotations

import pytest
from django.test import Client

from deployments.services.retention import deployment_is_pinned
from tests.deployments.endpoints.conftest import make_deployment


@pytest.fixture
def deployment(alice):
    return make_deployment(alice)


def test_it_pins_and_unpins_from_the_page(alice_client, deployment):
    url = f"/deployments/{deployment.name}/pin/"
    alice_client.post(url, {"pinned": "true"})
    assert deployment_is_pinned(deployment)
    page = alice_client.get(f"/deployments/{deployment.name}/").content.decode()
    assert "Pinned: its executions are kept" in page
    alice_client.post(url, {"pinned": "false"})
    assert not deployment_is_pinned(deployment)


def test_pages_say_what_is_kept(alice_client, deployment, settings):
    settings.RETENTION_DAYS = 30
    page = alice_client.get(f"/deployments/{deployment.name}/").content.decode()
    assert "deleted 30 days after they were created" in page
    listing = alice_client.get("/executions/").content.decode()
    assert 'id="retention-note"' in listing


def test_without_retention_the_list_says_nothing(alice_client, db):
    assert (
        'id="retention-note"' not in alice_client.get("/executions/").content.decode()
    )


def test_pinning_needs_a_post_and_a_session(client, alice_client, deployment):
    url = f"/deployments/{deployment.name}/pin/"
    assert alice_client.get(url).status_code == 405
    assert client.post(url, {"pinned": "true"}).status_code == 302
    assert not deployment_is_pinned(deployment)
    assert alice_client.post("/deployments/nope/pin/").status_code == 404


def test_the_api_reads_and_sets_the_pin(api_client, deployment, settings):
    settings.RETENTION_DAYS = 7
    url = f"/api/v1/deployments/{deployment.name}/retention"
    assert api_client.get(url).json() == {
        "deployment_name": deployment.name,
        "pinned": False,
        "retention_days": 7,
    }
    set_ = api_client.put(url, {"pinned": True}, content_type="application/json")
    assert set_.json()["pinned"] is True
    bad = api_client.put(url, {"pinned": "yes"}, content_type="application/json")
    assert bad.status_code == 400
    assert Client().get(url).status_code == 401
