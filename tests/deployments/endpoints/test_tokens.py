from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from deployments.endpoints.access import (
    endpoint_token_create,
    endpoint_token_revoke,
    endpoint_token_rotate,
)
from deployments.selectors import deployment_token
from platform_site.http.errors import Conflict, ValidationFailed
from tests.deployments.endpoints.conftest import call, make_deployment


def test_a_named_token_works_beside_the_main_one(deployment):
    issued = endpoint_token_create(deployment=deployment, name="mobile app")
    assert call(deployment, issued.raw).status_code == 303
    assert call(deployment).status_code == 303
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None
    assert issued.token.digest != issued.raw and issued.raw not in issued.token.digest


def test_revoking_one_leaves_the_others(deployment):
    first = endpoint_token_create(deployment=deployment, name="first")
    second = endpoint_token_create(deployment=deployment, name="second")
    endpoint_token_revoke(token=first.token)
    assert call(deployment, first.raw).status_code == 401
    assert call(deployment, second.raw).status_code == 303
    assert call(deployment).status_code == 303


def test_an_expired_token_is_refused(deployment):
    issued = endpoint_token_create(
        deployment=deployment,
        name="short",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert call(deployment, issued.raw).status_code == 401


def test_a_token_opens_only_its_own_deployment(deployment, alice):
    issued = endpoint_token_create(deployment=deployment, name="mine")
    other = make_deployment(alice)
    assert call(other, issued.raw).status_code == 401
    assert call(deployment, issued.raw[:-1] + "x").status_code == 401


def test_names_are_unique_among_active_tokens(deployment):
    endpoint_token_create(deployment=deployment, name="ci")
    with pytest.raises(Conflict):
        endpoint_token_create(deployment=deployment, name="ci")
    with pytest.raises(ValidationFailed):
        endpoint_token_create(deployment=deployment, name=" ")


def test_rotation_without_grace_stops_the_old_token(deployment):
    old = deployment_token(deployment)
    new = endpoint_token_rotate(deployment=deployment)
    deployment.refresh_from_db()
    assert call(deployment, old).status_code == 401
    assert call(deployment, new).status_code == 303


def test_rotation_with_grace_keeps_the_old_token_for_that_long(deployment):
    old = deployment_token(deployment)
    new = endpoint_token_rotate(deployment=deployment, grace=timedelta(minutes=10))
    deployment.refresh_from_db()
    assert call(deployment, old).status_code == 303
    assert call(deployment, new).status_code == 303
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert call(deployment, old).status_code == 401
        assert call(deployment, new).status_code == 303


def test_the_main_tokens_last_use_is_kept(deployment):
    call(deployment)
    deployment.refresh_from_db()
    assert deployment.main_token_last_used_at
