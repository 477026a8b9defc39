from __future__ import annotations

import io

import pytest

from datastore.multipart import (
    PART_ETAG_MISMATCH,
    PART_MISSING,
    PART_WRONG_SIZE,
    PARTS_NOT_CONSECUTIVE,
    TOTAL_WRONG_SIZE,
    UPLOAD_OTHER_PATH,
    datastore_multipart_end,
    datastore_multipart_part,
    datastore_multipart_put,
    datastore_multipart_start,
)
from datastore.services import datastore_info, datastore_open
from platform_site.http.errors import NotFound, TooLarge, ValidationFailed

CHUNK = 4


def upload_parts(path: str, data: bytes, *, chunk: int = CHUNK) -> tuple[dict, list]:
    config = datastore_multipart_start(path=path)
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    parts = []
    for n, piece in enumerate(chunks, start=1):
        last = n == len(chunks)
        upload_id = datastore_multipart_part(
            path=path,
            configuration=config,
            part_number=n,
            chunk_size=chunk,
            size=len(data) if last else None,
        )
        stored = datastore_multipart_put(
            upload_id=upload_id,
            part_number=n,
            stream=io.BytesIO(piece),
            max_bytes=100,
        )
        parts.append({"number": n, "metadata": stored.etag})
    return config, parts


def test_it_assembles_parts_in_order():
    config, parts = upload_parts("big/file.bin", b"0123456789")
    datastore_multipart_end(path="big/file.bin", configuration=config, parts=parts)
    with datastore_open("big/file.bin") as f:
        assert f.read() == b"0123456789"


def test_it_accepts_parts_listed_out_of_order():
    config, parts = upload_parts("f.bin", b"0123456789")
    datastore_multipart_end(path="f.bin", configuration=config, parts=parts[::-1])
    assert datastore_info("f.bin").size == 10


def test_it_fails_when_a_part_never_arrived():
    config, parts = upload_parts("f.bin", b"0123456789")
    parts.append({"number": 4})
    with pytest.raises(ValidationFailed):
        datastore_multipart_end(path="f.bin", configuration=config, parts=parts)


def test_it_fails_when_a_part_put_was_lost():
    config = datastore_multipart_start(path="f.bin")
    with pytest.raises(ValidationFailed) as exc:
        datastore_multipart_end(
            path="f.bin", configuration=config, parts=[{"number": 1}]
        )
    assert exc.value.message == PART_MISSING.format(n=1)


def test_it_fails_on_gaps_in_part_numbers():
    config, parts = upload_parts("f.bin", b"0123456789")
    with pytest.raises(ValidationFailed) as exc:
        datastore_multipart_end(path="f.bin", configuration=config, parts=parts[1:])
    assert exc.value.message == PARTS_NOT_CONSECUTIVE


def test_it_fails_on_a_truncated_part():
    config, parts = upload_parts("f.bin", b"0123456789")
    datastore_multipart_put(
        upload_id=config["upload_id"],
        part_number=1,
        stream=io.BytesIO(b"012"),
        max_bytes=100,
    )
    with pytest.raises(ValidationFailed) as exc:
        datastore_multipart_end(
            path="f.bin",
            configuration=config,
            parts=[{"number": p["number"]} for p in parts],
        )
    assert exc.value.message in (
        PART_WRONG_SIZE.format(n=1, got=3, want=CHUNK),
        TOTAL_WRONG_SIZE.format(got=9, want=10),
    )


def test_it_fails_on_an_etag_mismatch():
    config, parts = upload_parts("f.bin", b"0123456789")
    parts[0]["metadata"] = '"0000"'
    with pytest.raises(ValidationFailed) as exc:
        datastore_multipart_end(path="f.bin", configuration=config, parts=parts)
    assert exc.value.message == PART_ETAG_MISMATCH.format(n=1)


def test_it_does_not_create_the_object_when_verification_fails():
    config, parts = upload_parts("f.bin", b"0123456789")
    with pytest.raises(ValidationFailed):
        datastore_multipart_end(path="f.bin", configuration=config, parts=parts[:1])
    with pytest.raises(NotFound):
        datastore_info("f.bin")


def test_it_refuses_a_configuration_for_another_path():
    config = datastore_multipart_start(path="a.bin")
    with pytest.raises(ValidationFailed) as exc:
        datastore_multipart_part(
            path="b.bin", configuration=config, part_number=1, chunk_size=4
        )
    assert exc.value.message == UPLOAD_OTHER_PATH


@pytest.mark.parametrize("upload_id", ["../../x", "0" * 31, None, 5])
def test_it_refuses_forged_upload_ids(upload_id):
    with pytest.raises(ValidationFailed):
        datastore_multipart_part(
            path="a.bin",
            configuration={"upload_id": upload_id},
            part_number=1,
            chunk_size=4,
        )


def test_it_raises_not_found_for_an_unknown_upload():
    with pytest.raises(NotFound):
        datastore_multipart_part(
            path="a.bin",
            configuration={"upload_id": "0" * 32},
            part_number=1,
            chunk_size=4,
        )


def test_it_bounds_a_part():
    config = datastore_multipart_start(path="a.bin")
    with pytest.raises(TooLarge):
        datastore_multipart_put(
            upload_id=config["upload_id"],
            part_number=1,
            stream=io.BytesIO(b"12345"),
            max_bytes=4,
        )


def test_it_drops_the_staging_folder_after_end(settings):
    config, parts = upload_parts("f.bin", b"0123456789")
    datastore_multipart_end(path="f.bin", configuration=config, parts=parts)
    assert list((settings.DATASTORE_DIR / "~multipart").iterdir()) == []
