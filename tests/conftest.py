"""Personas and shared fixtures (alice owns things, bob is another user, charlie an outsider)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from accounts.services import access_token_issue, sdk_token_create


@pytest.fixture(scope="session")
def live_platform(tmp_path_factory):
    """One live stack (web, worker, scheduler, sweeper) for the whole session.

    Defined here only, so every test folder shares the same instance; tests
    use unique names because the stack is shared.
    """
    from tests.e2e.live import drop_live_platform, start_live_platform

    platform = start_live_platform(tmp_path_factory.mktemp("live"))
    yield platform
    drop_live_platform(platform)


@pytest.fixture(scope="session")
def s3_server():
    """An S3-compatible server (moto in server mode) for the whole session."""
    from tests.s3_server import running_s3_server

    with running_s3_server() as server:
        yield server


@pytest.fixture
def s3_storage(s3_server, settings, monkeypatch):
    """PLATFORM_STORAGE=s3 on a fresh bucket of the test server; the bucket's name."""
    bucket = s3_server.new_bucket()
    for name, value in s3_server.env(bucket).items():
        monkeypatch.setenv(name, value)
    settings.STORAGE = "s3"
    settings.S3_BUCKET = bucket
    settings.S3_ENDPOINT_URL = s3_server.url
    settings.S3_PREFIX = ""
    return bucket


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    """MD5 instead of PBKDF2 for the users tests create in-process.

    PBKDF2's 1,000,000 rounds were about half of the in-process suite's time;
    what the tests check is who may log in, not the hash's cost. The live
    stacks run with the production hashers (their users are made there).
    """
    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    ):
        yield


@pytest.fixture(autouse=True, scope="session")
def _database_work_on_the_test_thread():
    """Async views' database work runs on the test's thread, inside its transaction.

    The platform's database threads (platform_site/clients/db_threads.py)
    keep connections of their own, which would not see a test's rows; the
    live stacks run them as in production.
    """
    with override_settings(DB_THREADS=0):
        yield


@pytest.fixture(autouse=True)
def _isolated_data_dir(settings, tmp_path):
    """Pipeline code and execution files of unit tests go to a temporary folder."""
    settings.PIPELINES_DIR = tmp_path / "pipelines"
    settings.EXECUTIONS_DIR = tmp_path / "executions"
    settings.DATASTORE_DIR = tmp_path / "datastore"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user(
        "alice", "alice@example.org", "password-alice"
    )


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user(
        "bob", "bob@example.org", "password-bob"
    )


@pytest.fixture
def charlie(db):
    return get_user_model().objects.create_user(
        "charlie", "charlie@example.org", "password-charlie"
    )


@pytest.fixture
def alice_client(alice) -> Client:
    """A browser session logged in as alice."""
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def api_client(alice) -> Client:
    """An API client carrying alice's Bearer access token, as the SDK sends it."""
    issued = sdk_token_create(user=alice, name="tests")
    access = access_token_issue(refresh_token=issued.raw)
    return Client(headers={"Authorization": f"Bearer {access}"})
