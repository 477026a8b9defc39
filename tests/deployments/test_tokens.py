from __future__ import annotations

import pytest
from django.db import connection

from deployments.endpoints.access import endpoint_token_rotate
from deployments.endpoints.tokens import (
    TOKEN_RULE,
    token_decrypt,
    token_encrypt,
    token_format_error,
    token_generate,
)
from deployments.models import Deployment
from deployments.selectors import deployment_token
from deployments.services.deployments import (
    deployment_create,
)
from platform_site.http.errors import ValidationFailed
from tests.deployments.factories import make_pipeline, unique


def test_it_generates_url_safe_random_tokens():
    first, second = token_generate(), token_generate()

    assert first != second
    assert token_format_error(first) is None and len(first) >= 40


def test_it_round_trips_through_encryption_without_showing_the_token():
    encrypted = token_encrypt("s3cret-token")

    assert "s3cret-token" not in encrypted
    assert token_decrypt(encrypted) == "s3cret-token"


def test_it_reads_nothing_back_with_another_server_key(settings):
    encrypted = token_encrypt("s3cret-token")
    settings.SECRET_KEY = "another key"

    assert token_decrypt(encrypted) is None


@pytest.mark.parametrize(
    "bad", ["has space 123456789", "a?b-123456789012", "a/b-123456789012", "", "é" * 16]
)
def test_it_refuses_tokens_that_are_not_url_safe(bad):
    assert token_format_error(bad) is not None


def test_it_refuses_chosen_tokens_shorter_than_16_characters():
    assert token_format_error("x" * 16) is None
    assert token_format_error("x") == (f"endpoint_token must be {TOKEN_RULE} (got 1).")


@pytest.mark.django_db
def test_it_stores_the_token_only_encrypted(alice):
    deployment = deployment_create(
        pipeline=make_pipeline(),
        name=unique("d"),
        execution_rule="endpoint",
        endpoint_token="my-chosen-token-123",
        created_by=alice,
    )

    with connection.cursor() as cursor:
        # By name: every database binds a string (SQLite cannot bind a UUID).
        cursor.execute(
            "SELECT * FROM deployments_deployment WHERE name = %s", [deployment.name]
        )
        row = cursor.fetchone()
    assert not any("my-chosen-token-123" in str(column) for column in row)
    assert deployment_token(deployment) == "my-chosen-token-123"


@pytest.mark.django_db
def test_it_rotates_the_token(alice):
    deployment = deployment_create(
        pipeline=make_pipeline(),
        name=unique("d"),
        execution_rule="endpoint",
        created_by=alice,
    )
    old = deployment_token(deployment)

    new = endpoint_token_rotate(deployment=deployment)
    chosen = endpoint_token_rotate(deployment=deployment, token="chosen-one-123456")

    assert new != old
    assert (
        deployment_token(Deployment.objects.get(pk=deployment.pk))
        == chosen
        == "chosen-one-123456"
    )
    with pytest.raises(ValidationFailed):
        endpoint_token_rotate(deployment=deployment, token="not url safe")
