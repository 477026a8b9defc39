from __future__ import annotations

from deployments.endpoints.access import endpoint_token_create
from deployments.models import EndpointToken
from deployments.selectors import deployment_token
from tests.deployments.endpoints.conftest import call


def page(client, deployment) -> str:
    return client.get(f"/deployments/{deployment.name}/").content.decode()


def test_it_creates_a_token_and_shows_it_once(alice_client, deployment):
    response = alice_client.post(
        f"/deployments/{deployment.name}/tokens/",
        {"name": "<partner>", "expires_in_days": "30"},
    )
    token = EndpointToken.objects.get(deployment=deployment)
    raw = response.content.decode().split('id="new-token">')[1].split("<")[0]
    assert response["Cache-Control"].startswith("max-age=0")
    assert call(deployment, raw).status_code == 303
    assert token.expires_at is not None
    listing = page(alice_client, deployment)
    assert raw not in listing
    assert "&lt;partner&gt;" in listing and "<partner>" not in listing


def test_it_refuses_a_bad_expiry(alice_client, deployment):
    response = alice_client.post(
        f"/deployments/{deployment.name}/tokens/",
        {"name": "x", "expires_in_days": "-1"},
        follow=True,
    )
    assert "Expiry must be a whole number" in response.content.decode()
    assert not EndpointToken.objects.exists()


def test_it_revokes_one_token(alice_client, deployment):
    issued = endpoint_token_create(deployment=deployment, name="ci")
    alice_client.post(
        f"/deployments/{deployment.name}/tokens/{issued.token.id}/revoke/"
    )
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert "revoked" in page(alice_client, deployment)


def test_it_rotates_with_a_grace_period(alice_client, deployment):
    old = deployment_token(deployment)
    alice_client.post(
        f"/deployments/{deployment.name}/rotate-token/", {"grace_minutes": "15"}
    )
    deployment.refresh_from_db()
    assert deployment_token(deployment) != old
    assert call(deployment, old).status_code == 303


def test_it_sets_the_rate_limit(alice_client, deployment):
    alice_client.post(
        f"/deployments/{deployment.name}/rate-limit/", {"calls_per_minute": "5"}
    )
    deployment.refresh_from_db()
    assert deployment.calls_per_minute == 5
    alice_client.post(f"/deployments/{deployment.name}/rate-limit/", {})
    deployment.refresh_from_db()
    assert deployment.calls_per_minute is None


def test_it_needs_a_post_and_a_session(client, alice_client, deployment):
    url = f"/deployments/{deployment.name}/tokens/"
    assert alice_client.get(url).status_code == 405
    assert client.post(url, {"name": "x"}).status_code == 302
    assert not EndpointToken.objects.exists()


def test_it_404s_bad_ids(alice_client, deployment):
    assert (
        alice_client.post("/deployments/nope/tokens/", {"name": "x"}).status_code == 404
    )
    revoke = f"/deployments/{deployment.name}/tokens/00000000-0000-0000-0000-000000000000/revoke/"
    assert alice_client.post(revoke).status_code == 404
