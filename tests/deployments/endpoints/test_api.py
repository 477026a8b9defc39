from __future__ import annotations

from django.test import Client

from tests.deployments.endpoints.conftest import call


def url(deployment, tail="endpoint-tokens"):
    return f"/api/v1/deployments/{deployment.name}/{tail}"


def test_it_creates_lists_and_revokes_tokens(api_client, deployment):
    created = api_client.post(
        url(deployment),
        {"name": "ci", "expires_at": "2099-01-01T00:00:00Z"},
        content_type="application/json",
    ).json()
    assert call(deployment, created["endpoint_token"]).status_code == 303

    listed = api_client.get(url(deployment)).json()
    assert [t["name"] for t in listed["tokens"]] == ["ci"]
    assert listed["tokens"][0]["last_used_at"] is not None
    assert listed["tokens"][0]["expires_at"] == "2099-01-01T00:00:00.000Z"
    assert "endpoint_token" not in listed["tokens"][0]

    revoked = api_client.delete(f"{url(deployment)}/{created['id']}").json()
    assert revoked["revoked_at"] is not None
    assert call(deployment, created["endpoint_token"]).status_code == 401


def test_it_refuses_a_naive_expiry(api_client, deployment):
    response = api_client.post(
        url(deployment),
        {"name": "ci", "expires_at": "2099-01-01T00:00:00"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()["message"]


def test_it_404s_an_unknown_token(api_client, deployment):
    assert api_client.delete(f"{url(deployment)}/nope").status_code == 404


def test_it_rotates_with_a_grace_period(api_client, deployment):
    old = api_client.get(f"/api/v1/deployments/{deployment.name}").json()[
        "endpoint_token"
    ]
    body = api_client.post(
        url(deployment, "endpoint-token/rotate"),
        {"grace_period_s": 600},
        content_type="application/json",
    ).json()
    deployment.refresh_from_db()
    assert call(deployment, old).status_code == 303
    assert call(deployment, body["endpoint_token"]).status_code == 303


def test_the_official_rotation_keeps_no_grace(api_client, deployment):
    old = api_client.get(f"/api/v1/deployments/{deployment.name}").json()[
        "endpoint_token"
    ]
    api_client.post(f"/api/v1/endpoints/{deployment.name}/generate-new-token")
    deployment.refresh_from_db()
    assert call(deployment, old).status_code == 401


def test_it_sets_and_clears_the_rate_limit(api_client, deployment):
    set_ = api_client.put(
        url(deployment, "rate-limit"),
        {"calls_per_minute": 30},
        content_type="application/json",
    )
    assert set_.json()["calls_per_minute"] == 30
    bad = api_client.put(
        url(deployment, "rate-limit"),
        {"calls_per_minute": 0},
        content_type="application/json",
    )
    assert bad.status_code == 400
    cleared = api_client.put(
        url(deployment, "rate-limit"),
        {"calls_per_minute": None},
        content_type="application/json",
    )
    assert cleared.json()["calls_per_minute"] is None


def test_it_needs_a_user_token(deployment):
    assert Client().get(url(deployment)).status_code == 401


def test_it_refuses_a_nul_in_a_name(api_client, deployment):
    response = api_client.post(
        url(deployment), {"name": "a\x00b"}, content_type="application/json"
    )
    assert response.status_code == 400
