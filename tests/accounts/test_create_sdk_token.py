from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_sdk_token", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_working_token_as_its_last_line(alice):
    token = run("alice").strip().splitlines()[-1]
    response = Client().post(
        "/api/v1/auth/refresh",
        {"refresh_token": token},
        content_type="application/json",
    )
    access = response.json()["access_token"]
    me = Client(headers={"Authorization": f"Bearer {access}"}).get("/api/v1/users/me")
    assert me.json()["name"] == "alice"


def test_it_names_the_token(alice):
    run("alice", "--name", "ci runner")
    assert alice.sdk_tokens.get().name == "ci runner"


def test_it_fails_for_an_unknown_user(db):
    with pytest.raises(CommandError, match="nobody"):
        run("nobody")
