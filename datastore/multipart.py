"""Multipart uploads (§7.4): parts land in a staging folder, `end` checks and assembles them.

The client never looks at the status of its part PUTs, so `end` is where a
lost or truncated part must be caught: it checks the part numbers, every
part's size against the declared chunk size and total, and the ETags.
Parts wait in datastore/multipart_staging.py: this machine's
DATASTORE_DIR/~multipart/<upload id>/, or the bucket with PLATFORM_STORAGE=s3.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO

from datastore.multipart_staging import md5_reader, staging
from datastore.objects import ObjectInfo
from datastore.services import datastore_save, validate_key
from platform_site.http.errors import NotFound, ValidationFailed

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
MAX_PARTS = 10_000
STALE_AFTER_S = 24 * 3600

UPLOAD_UNKNOWN = "Unknown or expired multipart_upload_configuration."
UPLOAD_OTHER_PATH = "multipart_upload_configuration belongs to another path_to_object."
PART_NUMBER_RANGE = f"part_number must be between 1 and {MAX_PARTS}."
PARTS_EMPTY = "parts must list at least one part."
PARTS_NOT_CONSECUTIVE = "parts must be numbered 1, 2, 3... without gaps or repeats."
PART_MISSING = "Part {n} of the multipart upload was never received."
PART_ETAG_MISMATCH = "Part {n} does not match its ETag: it was corrupted in transit."
PART_WRONG_SIZE = "Part {n} has {got} bytes, expected {want}."
PARTS_WRONG_COUNT = "The upload declared {want} parts but parts lists {got}."
TOTAL_WRONG_SIZE = "The parts add up to {got} bytes, but the upload declared {want}."


@dataclass(frozen=True)
class StoredPart:
    etag: str


def _upload_id(upload_id: object) -> str:
    """A well-formed upload id that is still staged."""
    if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
        raise ValidationFailed(UPLOAD_UNKNOWN)
    if not staging().exists(upload_id):
        raise NotFound(UPLOAD_UNKNOWN)
    return upload_id


def _checked_upload(*, path: str, configuration: Any) -> tuple[str, str]:
    """The key and upload id of an upload the caller is continuing."""
    key = validate_key(path)
    given = configuration.get("upload_id") if isinstance(configuration, dict) else None
    upload_id = _upload_id(given)
    if staging().read_json(upload_id, "upload.json").get("path") != key:
        raise ValidationFailed(UPLOAD_OTHER_PATH)
    return key, upload_id


def datastore_multipart_start(*, path: str) -> dict:
    """Open a multipart upload; the returned dict is echoed back by the client."""
    key = validate_key(path)
    # Abandoned uploads (the client died mid-way) are removed after a day.
    staging().sweep_older_than(time.time() - STALE_AFTER_S)
    upload_id = uuid.uuid4().hex
    staging().create(upload_id)
    staging().write_json(upload_id, "upload.json", {"path": key})
    return {"upload_id": upload_id, "path_to_object": key}


def datastore_multipart_part(
    *,
    path: str,
    configuration: Any,
    part_number: int,
    chunk_size: int,
    size: int | None = None,
) -> str:
    """Check a part request and return the upload id to sign its PUT URL with.

    The last part carries the total `size`: recorded, with the chunk size, for `end`.
    """
    _, upload_id = _checked_upload(path=path, configuration=configuration)
    if not 1 <= part_number <= MAX_PARTS:
        raise ValidationFailed(PART_NUMBER_RANGE)
    if chunk_size < 1:
        raise ValidationFailed("chunk_size must be a positive number of bytes.")
    if size is not None:
        if size < 0:
            raise ValidationFailed("size must not be negative.")
        staging().write_json(
            upload_id,
            "expected.json",
            {"parts": part_number, "chunk_size": chunk_size, "size": size},
        )
    return upload_id


def datastore_multipart_put(
    *, upload_id: str, part_number: int, stream: BinaryIO, max_bytes: int
) -> StoredPart:
    """Store one part's bytes (a retried PUT replaces the part whole)."""
    upload_id = _upload_id(upload_id)
    if not 1 <= part_number <= MAX_PARTS:
        raise ValidationFailed(PART_NUMBER_RANGE)
    reader = md5_reader(stream, max_bytes=max_bytes, number=part_number)
    staging().put_part(upload_id, part_number, reader)
    return StoredPart(etag=reader.etag)


def _part_numbers(parts: Any) -> list[int]:
    if not isinstance(parts, list) or not parts:
        raise ValidationFailed(PARTS_EMPTY)
    numbers = []
    for part in parts:
        number = part.get("number") if isinstance(part, dict) else None
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValidationFailed(PARTS_NOT_CONSECUTIVE)
        numbers.append(number)
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        raise ValidationFailed(PARTS_NOT_CONSECUTIVE)
    return numbers


def _verify_parts(upload_id: str, parts: list[dict], numbers: list[int]) -> list[int]:
    """The part numbers in order, once every part is there, whole and of the right size."""
    store = staging()
    sizes = []
    ordered = sorted(zip(parts, numbers, strict=True), key=lambda p: p[1])
    for part, number in ordered:
        found = store.part(upload_id, number)
        if found is None:
            raise ValidationFailed(PART_MISSING.format(n=number))
        size, stored_etag = found
        etag = part.get("metadata")
        if etag and stored_etag and etag.strip('"') != stored_etag.strip('"'):
            raise ValidationFailed(PART_ETAG_MISMATCH.format(n=number))
        sizes.append(size)
    expected = store.read_json(upload_id, "expected.json")
    chunk_size = expected.get("chunk_size", sizes[0])
    if "parts" in expected and expected["parts"] != len(sizes):
        raise ValidationFailed(
            PARTS_WRONG_COUNT.format(want=expected["parts"], got=len(sizes))
        )
    for number, size in enumerate(sizes[:-1], start=1):
        if size != chunk_size:
            raise ValidationFailed(
                PART_WRONG_SIZE.format(n=number, got=size, want=chunk_size)
            )
    if "size" in expected and sum(sizes) != expected["size"]:
        raise ValidationFailed(
            TOTAL_WRONG_SIZE.format(got=sum(sizes), want=expected["size"])
        )
    return [number for _, number in ordered]


def datastore_multipart_end(*, path: str, configuration: Any, parts: Any) -> ObjectInfo:
    """Verify every part, assemble them into the object, drop the staging.

    A failed check also drops the upload: the client cannot resend a part.
    """
    key, upload_id = _checked_upload(path=path, configuration=configuration)
    try:
        numbers = _part_numbers(parts)
        ordered = _verify_parts(upload_id, parts, numbers)
        stream = staging().open_parts(upload_id, ordered)
        try:
            return datastore_save(path=key, fileobj=stream)  # type: ignore[arg-type]
        finally:
            stream.close()
    finally:
        staging().drop(upload_id)
