from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.services import (
    TOKEN_PREFIX,
    access_token_issue,
    admin_user_ensure,
    sdk_token_create,
    sdk_token_lookup,
    sdk_token_revoke,
)
from platform_site.http.errors import NotAuthenticated


def test_it_creates_a_token_shown_once_and_stored_as_a_digest(alice):
    issued = sdk_token_create(user=alice, name="laptop")
    assert issued.raw.startswith(TOKEN_PREFIX)
    assert issued.token.prefix == issued.raw[:12]
    assert issued.raw not in issued.token.digest


def test_it_finds_an_active_token_by_its_raw_value(alice):
    issued = sdk_token_create(user=alice, name="laptop")
    assert sdk_token_lookup(issued.raw) == issued.token


@pytest.mark.parametrize("raw", ["", "sdk_nope", None, 42])
def test_it_finds_nothing_for_bad_values(db, raw):
    assert sdk_token_lookup(raw) is None


def test_it_revokes_once_and_keeps_the_first_date(alice):
    issued = sdk_token_create(user=alice, name="laptop")
    sdk_token_revoke(token=issued.token)
    first = issued.token.revoked_at
    sdk_token_revoke(token=issued.token)
    issued.token.refresh_from_db()
    assert issued.token.revoked_at == first
    assert sdk_token_lookup(issued.raw) is None


def test_it_refuses_to_issue_for_a_revoked_token(alice):
    issued = sdk_token_create(user=alice, name="laptop")
    sdk_token_revoke(token=issued.token)
    with pytest.raises(NotAuthenticated):
        access_token_issue(refresh_token=issued.raw)


def test_it_creates_admin_once_with_a_generated_password(db):
    password = admin_user_ensure()
    admin = get_user_model().objects.get(username="admin")
    assert password and admin.check_password(password)
    assert admin.is_superuser
    assert password not in admin.password
    assert admin_user_ensure() is None


def test_it_creates_admin_with_the_given_password(db):
    assert admin_user_ensure(password="from-the-env-123") == "from-the-env-123"
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password("from-the-env-123")


def test_it_leaves_an_existing_admin_alone(db):
    get_user_model().objects.create_user("admin", "", "chosen-by-a-human")
    assert admin_user_ensure(password="other") is None
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password("chosen-by-a-human")
