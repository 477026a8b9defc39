"""The login page, the token settings page, anonymous access and CSRF."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import SdkToken
from accounts.services import sdk_token_create

SETTINGS = "/accounts/settings/"
CREATE = "/accounts/settings/tokens/"
LOGIN = "/accounts/login/"
# Token-authenticated faces, and the self-authorising signed URLs the SDK
# fetches without any credential (docs/sdk-protocol.md §1.2).
PUBLIC_PREFIXES = (
    "accounts/login/",
    "accounts/logout/",
    "healthz",
    "metrics",  # a bearer token instead (tests/platform_site/test_metrics.py)
    "api/",
    "endpoints/",
    "data-store/signed/",
    "files/",
    "favicon.ico",  # a redirect to the static icon, as public as the icon
)
SAMPLES = {"uuid": str(uuid.uuid4()), "int": "1", "slug": "x", "str": "x", "path": "x"}


def revoke_url(token: SdkToken) -> str:
    return reverse("accounts:token_revoke", args=[token.id])


def all_routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    routes = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += all_routes(entry, route)
        elif isinstance(entry, URLPattern):
            routes.append(route)
    return routes


def ui_routes() -> list[str]:
    """Every UI route of the project, with sample values in its parameters."""
    filled = {
        re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES.get(m[1] or "str", "x"), r)
        for r in all_routes(get_resolver())
    }
    return sorted("/" + r for r in filled if not r.startswith(PUBLIC_PREFIXES))


def test_it_shows_the_login_page(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_it_logs_in_with_a_password(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": "password-alice"})
    assert response.status_code == 302
    assert client.get(SETTINGS).status_code == 200


def test_it_refuses_a_wrong_password(client, alice):
    response = client.post(LOGIN, {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("route", ui_routes())
def test_it_sends_anonymous_visitors_to_login(client, db, route):
    response = client.get(route)
    # 405: a POST-only action, which is no page and reveals nothing.
    assert response.status_code in (302, 405), route
    if response.status_code == 302:
        assert response["Location"].startswith(LOGIN), route


def test_it_lists_only_my_tokens(alice_client, alice, bob):
    sdk_token_create(user=alice, name="alice-laptop")
    sdk_token_create(user=bob, name="bob-laptop")
    response = alice_client.get(SETTINGS)
    assert b"alice-laptop" in response.content
    assert b"bob-laptop" not in response.content


def test_it_shows_a_new_token_once(alice_client, alice):
    response = alice_client.post(CREATE, {"name": "laptop"})
    assert response.status_code == 200
    token = alice.sdk_tokens.get()
    raw = re.search(rb'id="new-token"[^>]*>(sdk_[\w-]+)<', response.content)[1]
    assert raw.decode().startswith(token.prefix)
    assert raw not in alice_client.get(SETTINGS).content


def test_it_answers_htmx_with_the_tokens_fragment(alice_client):
    response = alice_client.post(
        CREATE, {"name": "laptop"}, headers={"HX-Request": "true"}
    )
    assert response.content.lstrip().startswith(b'<div id="tokens">')
    assert b"<html" not in response.content


def test_it_names_an_unnamed_token(alice_client, alice):
    alice_client.post(CREATE, {"name": "  "})
    assert alice.sdk_tokens.get().name == "SDK token"


def test_it_refuses_get_on_create(alice_client):
    assert alice_client.get(CREATE).status_code == 405


def test_it_revokes_a_token(alice_client, alice):
    issued = sdk_token_create(user=alice, name="laptop")
    response = alice_client.post(revoke_url(issued.token))
    assert response.status_code == 200
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert b"revoked" in response.content


def test_it_cannot_revoke_another_users_token(alice_client, bob):
    issued = sdk_token_create(user=bob, name="bob-laptop")
    response = alice_client.post(revoke_url(issued.token))
    assert response.status_code == 404
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_it_answers_404_for_an_unknown_token(alice_client):
    url = reverse("accounts:token_revoke", args=[uuid.uuid4()])
    assert alice_client.post(url).status_code == 404


def test_it_refuses_a_post_without_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(CREATE, {"name": "forged"})
    assert response.status_code == 403
    assert not alice.sdk_tokens.exists()


def test_it_refuses_a_revoke_without_csrf_token(alice):
    issued = sdk_token_create(user=alice, name="laptop")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(revoke_url(issued.token)).status_code == 403
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_it_accepts_a_post_with_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(SETTINGS)
    csrf = client.cookies["csrftoken"].value
    response = client.post(CREATE, {"name": "ok", "csrfmiddlewaretoken": csrf})
    assert response.status_code == 200
    assert alice.sdk_tokens.filter(name="ok").exists()
