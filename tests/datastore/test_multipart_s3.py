"""Multipart uploads with PLATFORM_STORAGE=s3: the same checks, parts staged in the bucket.

Every test of test_multipart.py runs again here, on a fresh bucket of the
moto server, but the one that looks into the local staging folder.
"""

from __future__ import annotations

import pytest

from datastore.multipart import datastore_multipart_end
from tests.datastore import test_multipart
from tests.datastore.test_multipart import *  # noqa: F403 - the same tests, on S3
from tests.datastore.test_multipart import upload_parts

del test_it_drops_the_staging_folder_after_end  # noqa: F821 - a local folder only


@pytest.fixture(autouse=True)
def storage(s3_storage):
    return s3_storage


def test_it_stages_in_the_bucket_and_drops_the_parts_after_end(s3_server, storage):
    config, parts = upload_parts("f.bin", b"0123456789")
    staged = s3_server.keys(storage)

    datastore_multipart_end(path="f.bin", configuration=config, parts=parts)

    assert any(key.startswith("multipart/") for key in staged)
    assert s3_server.keys(storage) == ["datastore/f.bin"]


assert test_multipart.CHUNK  # the module the tests come from
