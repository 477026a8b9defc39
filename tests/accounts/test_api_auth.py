"""Bearer auth on /api/v1: every failure is a 401 with a JSON {"message", "name"} body."""

from __future__ import annotations

import time

import jwt
import pytest
import time_machine
from django.test import Client

from accounts.models import SdkToken
from accounts.services import (
    INVALID_ACCESS_TOKEN,
    INVALID_REFRESH_TOKEN,
    access_token_issue,
    sdk_token_create,
    sdk_token_revoke,
)

ME = "/api/v1/users/me"


@pytest.fixture
def issued(alice):
    return sdk_token_create(user=alice, name="laptop")


def bearer(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


def claims_for(issued, **extra) -> dict:
    now = int(time.time())
    return {
        "sub": str(issued.token.user_id),
        "tid": str(issued.token.id),
        "iat": now,
        "exp": now + 3600,
        **extra,
    }


def assert_401(response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["name"] == "Unauthorized"
    assert body["message"]


def test_it_answers_who_am_i(api_client, alice):
    response = api_client.get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "id": str(alice.pk),
        "name": "alice",
        "email": "alice@example.org",
    }


def test_it_refuses_a_request_without_token(client, db):
    response = client.get(ME)
    assert_401(response)
    assert response.json()["message"] == INVALID_ACCESS_TOKEN


def test_it_refuses_another_auth_scheme(issued):
    client = Client(headers={"Authorization": f"Token {issued.raw}"})
    assert_401(client.get(ME))


def test_it_refuses_a_wrong_token(db):
    assert_401(bearer("not-a-jwt").get(ME))


def test_it_refuses_the_sdk_token_itself_as_access_token(issued):
    assert_401(bearer(issued.raw).get(ME))


def test_it_refuses_an_access_token_once_its_sdk_token_is_revoked(issued):
    access = access_token_issue(refresh_token=issued.raw)
    assert bearer(access).get(ME).status_code == 200
    sdk_token_revoke(token=issued.token)
    assert_401(bearer(access).get(ME))


def test_it_refuses_an_expired_access_token(issued):
    access = access_token_issue(refresh_token=issued.raw)
    with time_machine.travel(time.time() + 3600 + 5):
        assert_401(bearer(access).get(ME))


def test_it_refuses_a_jwt_signed_with_another_key(issued):
    forged = jwt.encode(claims_for(issued), "another-key-" * 4, algorithm="HS256")
    assert_401(bearer(forged).get(ME))


def test_it_refuses_an_unsigned_jwt(issued):
    forged = jwt.encode(claims_for(issued), None, algorithm="none")
    assert_401(bearer(forged).get(ME))


def test_it_refuses_a_jwt_naming_another_user(issued, bob, settings):
    forged = jwt.encode(
        claims_for(issued, sub=str(bob.pk)), settings.SECRET_KEY, algorithm="HS256"
    )
    assert_401(bearer(forged).get(ME))


def test_it_refuses_a_jwt_without_expiry(issued, settings):
    claims = claims_for(issued)
    del claims["exp"]
    forged = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
    assert_401(bearer(forged).get(ME))


def test_it_refuses_an_inactive_user(issued, alice):
    access = access_token_issue(refresh_token=issued.raw)
    alice.is_active = False
    alice.save()
    assert_401(bearer(access).get(ME))


def test_it_ignores_a_logged_in_browser_session(alice_client):
    assert_401(alice_client.get(ME))


def test_it_exchanges_an_sdk_token_for_an_access_token(client, issued):
    response = client.post(
        "/api/v1/auth/refresh",
        {"refresh_token": issued.raw},
        content_type="application/json",
    )
    assert response.status_code == 200
    access = response.json()["access_token"]
    assert bearer(access).get(ME).json()["name"] == "alice"
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


def test_it_gives_the_sdk_a_lifetime_it_can_read(issued, settings):
    access = access_token_issue(refresh_token=issued.raw)
    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_LIFETIME_S


def test_it_refuses_to_refresh_a_wrong_sdk_token(client, db):
    response = client.post(
        "/api/v1/auth/refresh",
        {"refresh_token": "sdk_wrong"},
        content_type="application/json",
    )
    assert_401(response)
    assert response.json()["message"] == INVALID_REFRESH_TOKEN


def test_it_refuses_to_refresh_a_revoked_sdk_token(client, issued):
    sdk_token_revoke(token=issued.token)
    response = client.post(
        "/api/v1/auth/refresh",
        {"refresh_token": issued.raw},
        content_type="application/json",
    )
    assert_401(response)


def test_it_names_the_missing_refresh_token(client, db):
    response = client.post("/api/v1/auth/refresh", {}, content_type="application/json")
    assert response.status_code == 400
    assert "refresh_token" in response.json()["message"]


def test_it_answers_a_malformed_refresh_body_with_json(client, db):
    response = client.post(
        "/api/v1/auth/refresh", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["message"]


def test_it_gets_a_user_by_id(api_client, bob):
    response = api_client.get(f"/api/v1/users/{bob.pk}")
    assert response.json()["name"] == "bob"


def test_it_answers_404_json_for_an_unknown_user(api_client):
    response = api_client.get("/api/v1/users/999999")
    assert response.status_code == 404
    assert "999999" in response.json()["message"]


@pytest.mark.parametrize("user_id", ["³", "٣", "99999999999999999999999"])
def test_it_answers_404_for_ids_that_are_not_plain_integers(api_client, user_id):
    # "³".isdigit() is True: found by the OpenAPI fuzz run.
    response = api_client.get(f"/api/v1/users/{user_id}")

    assert response.status_code == 404


def test_it_stores_only_digests_of_sdk_tokens(issued, django_db_blocker):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {SdkToken._meta.db_table}")
        dump = repr(cursor.fetchall())
    assert issued.raw not in dump
    assert issued.raw[12:] not in dump
