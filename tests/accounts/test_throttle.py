"""Sign-in throttling per user and per address, on the login page and on SDK token refresh."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.services import sdk_token_create
from accounts.throttle import lockout_message

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
REFRESH = "/api/v1/auth/refresh"
LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def login(username: str, password: str, address: str = "10.0.0.1", **headers):
    return Client().post(
        LOGIN,
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def refresh(token: str, address: str = "10.0.0.1"):
    return Client().post(
        REFRESH,
        {"refresh_token": token},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def test_it_refuses_even_the_right_password_after_too_many_failures(alice):
    for _ in range(LIMIT):
        login("alice", "wrong")

    response = login("alice", "password-alice")

    assert response.status_code == 429
    assert lockout_message() in response.content.decode()
    assert "_auth_user_id" not in response.client.session


def test_it_locks_an_address_that_tries_many_users(alice):
    for i in range(LIMIT):
        login(f"someone-{i}", "wrong", address="10.0.0.9")

    locked = login("alice", "password-alice", address="10.0.0.9")
    elsewhere = login("alice", "password-alice", address="10.0.0.2")

    assert locked.status_code == 429
    assert elsewhere.status_code == 302


def test_it_counts_the_peer_address_never_a_forwarded_one(alice):
    """uvicorn settles REMOTE_ADDR (tests/platform_site/test_trusted_proxies.py); axes reads only it."""
    for i in range(LIMIT):
        login(f"someone-{i}", "wrong", address="127.0.0.1")

    response = login(
        "alice",
        "password-alice",
        address="127.0.0.1",
        HTTP_X_FORWARDED_FOR="10.9.9.7",
        HTTP_FORWARDED="for=10.9.9.7",
        HTTP_X_REAL_IP="10.9.9.7",
    )

    assert response.status_code == 429


def test_it_locks_a_user_tried_from_many_addresses(alice):
    for i in range(LIMIT):
        login("alice", "wrong", address=f"10.0.1.{i}")

    response = login("alice", "password-alice", address="10.0.2.1")

    assert response.status_code == 429


def test_it_lets_an_admin_unlock_a_user_and_an_address(alice):
    for _ in range(LIMIT):
        login("alice", "wrong")

    call_command("axes_reset_username", "alice")

    assert login("alice", "password-alice").status_code == 302


def test_it_throttles_sdk_token_refresh_per_address(alice):
    issued = sdk_token_create(user=alice, name="sdk")
    for i in range(LIMIT):
        refresh(f"sdk_guess{i:03d}-not-a-token")

    locked = refresh(issued.raw)
    elsewhere = refresh(issued.raw, address="10.0.0.2")

    assert locked.status_code == 429
    assert locked.json()["name"] == "TooManyAttempts"
    assert locked.json()["message"] == lockout_message()
    assert elsewhere.status_code == 200


def test_it_unlocks_a_refresh_address_with_axes_reset_ip(alice):
    issued = sdk_token_create(user=alice, name="sdk")
    for i in range(LIMIT):
        refresh(f"sdk_guess{i:03d}-not-a-token")

    call_command("axes_reset_ip", "10.0.0.1")

    assert refresh(issued.raw).status_code == 200


def test_it_still_answers_401_below_the_limit(alice):
    response = refresh("sdk_wrong")

    assert response.status_code == 401
