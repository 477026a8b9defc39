"""Every test of test_signed_views.py again with PLATFORM_STORAGE=s3, on a fresh bucket of the moto server."""

from __future__ import annotations

import pytest

from tests.datastore.test_signed_views import *  # noqa: F403 - the same tests, on S3


@pytest.fixture(autouse=True)
def storage(s3_storage):
    return s3_storage
