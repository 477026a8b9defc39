"""The data store driven by the official craft-ai-sdk against the live stack (§7)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid

import pytest
from craft_ai_sdk.exceptions import SdkException

pytestmark = pytest.mark.e2e

# The SDK reads these in its class body, i.e. when craft_ai_sdk is imported:
# setting them in this (already importing) process would change nothing, so
# the multipart upload runs in a fresh interpreter.
MULTIPART_SCRIPT = """
import os, sys
from craft_ai_sdk import CraftAiSdk
assert CraftAiSdk._MULTIPART_THRESHOLD == 1000, CraftAiSdk._MULTIPART_THRESHOLD
sdk = CraftAiSdk(sdk_token=os.environ["T"], environment_url=os.environ["U"],
                 control_url=os.environ["U"], verbose_log=False)
sdk.upload_data_store_object(sys.argv[1], sys.argv[2])
"""


@pytest.fixture
def folder() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


def test_it_uploads_lists_downloads_and_deletes(sdk, folder, tmp_path):
    local = tmp_path / "a.csv"
    local.write_bytes(b"a,b\n1,2\n")
    sdk.upload_data_store_object(str(local), f"{folder}/a.csv")

    info = sdk.get_data_store_object_information(f"{folder}/a.csv")
    listed = sdk.list_data_store_objects(folder)
    out = tmp_path / "out.csv"
    sdk.download_data_store_object(f"{folder}/a.csv", str(out))
    deleted = sdk.delete_data_store_object(f"{folder}/a.csv")

    assert info["path"] == f"{folder}/a.csv"
    assert info["size"] == "8.00 B"
    assert [o["path"] for o in listed] == [f"{folder}/a.csv"]
    assert out.read_bytes() == b"a,b\n1,2\n"
    assert deleted == {"path": f"{folder}/a.csv"}
    assert sdk.list_data_store_objects(folder) == []


def test_it_uploads_from_a_buffer(sdk, folder):
    sdk.upload_data_store_object(io.BytesIO(b"\x00\x01binary"), f"{folder}/b.bin")
    buffer = io.BytesIO()
    sdk.download_data_store_object(f"{folder}/b.bin", buffer)
    assert buffer.getvalue() == b"\x00\x01binary"


def test_it_uploads_in_parts_when_the_env_vars_say_so(
    live_platform, sdk, folder, tmp_path
):
    data = os.urandom(2500)  # 3 parts of 1000, 1000 and 500 bytes
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    env = {
        **os.environ,
        "CRAFT_AI__MULTIPART_THRESHOLD__B": "1000",
        "CRAFT_AI__MULTIPART_PART_SIZE__B": "1000",
        "T": live_platform.sdk_token,
        "U": live_platform.url,
    }
    subprocess.run(
        [sys.executable, "-c", MULTIPART_SCRIPT, str(local), f"{folder}/big.bin"],
        env=env,
        check=True,
        timeout=60,
    )
    buffer = io.BytesIO()
    sdk.download_data_store_object(f"{folder}/big.bin", buffer)
    assert buffer.getvalue() == data


def test_it_uploads_in_parts_with_an_exact_multiple(sdk, folder, monkeypatch):
    monkeypatch.setattr(sdk, "_MULTIPART_THRESHOLD", 100)
    monkeypatch.setattr(sdk, "_MULTIPART_PART_SIZE", 100)
    data = os.urandom(300)
    sdk.upload_data_store_object(io.BytesIO(data), f"{folder}/exact.bin")
    buffer = io.BytesIO()
    sdk.download_data_store_object(f"{folder}/exact.bin", buffer)
    assert buffer.getvalue() == data


def test_it_paginates_nothing_for_an_unknown_folder(sdk, folder):
    assert sdk.list_data_store_objects(f"{folder}/none") == []


def test_it_reports_unknown_objects(sdk, folder):
    with pytest.raises(SdkException) as exc:
        sdk.get_data_store_object_information(f"{folder}/none.csv")
    assert exc.value.status_code == 404


def test_it_reports_a_traversal_path(sdk):
    with pytest.raises(SdkException) as exc:
        sdk.upload_data_store_object(io.BytesIO(b"x"), "../escape.csv")
    assert "path_to_object" in str(exc.value)


def test_it_reports_a_missing_download(sdk, folder):
    with pytest.raises(SdkException) as exc:
        sdk.download_data_store_object(f"{folder}/none.csv", io.BytesIO())
    assert exc.value.status_code == 404
