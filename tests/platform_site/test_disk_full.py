"""A full disk answers a clear 507 naming it on every face, never a bare or HTML 500.

The data folders sit on a real 1 MiB tmpfs, so the kernel itself says
ENOSPC where the platform writes.
"""

from __future__ import annotations

import io
import os
import subprocess
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from platform_site.http.disk import data_dir_free_mib, disk_full_error
from tests.pipelines.test_pipeline_api import form

BIG = os.urandom(2 * 1024 * 1024)  # incompressible, twice the disk


@pytest.fixture
def full_disk(tmp_path, settings):
    """PIPELINES_DIR and DATASTORE_DIR on a 1 MiB tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    settings.PIPELINES_DIR = mount / "pipelines"
    settings.DATASTORE_DIR = mount / "datastore"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _disk_full_json(response):
    assert response.status_code == 507, response.content[:300]
    body = response.json()
    assert body["name"] == "InsufficientStorage"
    assert "disk is full" in body["message"]


def test_creating_a_pipeline_on_a_full_disk_answers_507(full_disk, api_client):
    big = SimpleUploadedFile("step_file", BIG)
    _disk_full_json(api_client.post("/api/v1/pipelines", form(step_file=big)))


def test_a_signed_upload_on_a_full_disk_answers_507(full_disk, api_client):
    r = api_client.get("/api/v1/data-store/upload", {"path_to_object": "big.bin"})
    url = urlsplit(r.json()["signed_url"])
    upload = io.BytesIO(BIG)
    upload.name = "big.bin"

    r = Client().post(f"{url.path}?{url.query}", {"file": upload})

    assert r.status_code == 507
    assert b"disk is full" in r.content
    assert not (full_disk / "datastore" / "big.bin").exists()


def test_a_web_upload_on_a_full_disk_answers_507_not_an_html_500(
    full_disk, alice_client
):
    r = alice_client.post(
        "/data-store/upload",
        {"folder": "", "file": SimpleUploadedFile("big.bin", BIG)},
    )
    assert r.status_code == 507
    assert b"disk is full" in r.content
    assert b"<html" not in r.content.lower()


def test_the_rule_reads_the_cause_chain():
    try:
        try:
            raise OSError(28, "No space left on device")
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert disk_full_error(wrapped).status == 507
    assert disk_full_error(OSError(13, "Permission denied")) is None


def test_it_reads_the_free_space_of_a_folder(full_disk):
    assert data_dir_free_mib(full_disk) <= 1
