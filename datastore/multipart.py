"""Multipart uploads (§7.4): parts land in a staging folder, `end` checks and assembles them.

The client never looks at the status of its part PUTs, so `end` is where a
lost or truncated part must be caught: it checks the part numbers, every
part's size against the declared chunk size and total, and the ETags.
Staging lives in DATASTORE_DIR/~multipart/<upload id>/ (`~` is not a key
character, so staging can never collide with an object or be listed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from datastore.services import (
    COPY_CHUNK,
    ObjectInfo,
    datastore_root,
    datastore_save,
    validate_key,
)
from platform_site.errors import NotFound, TooLarge, ValidationFailed

STAGING = "~multipart"
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


def _staging_root() -> Path:
    return datastore_root() / STAGING


def _sweep_stale(now: float) -> None:
    """Abandoned uploads (the client died mid-way) are removed after a day."""
    staging = _staging_root()
    if not staging.is_dir():
        return
    for entry in staging.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if now - entry.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(entry, ignore_errors=True)


def _upload_dir(upload_id: object) -> Path:
    if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
        raise ValidationFailed(UPLOAD_UNKNOWN)
    folder = _staging_root() / upload_id
    if not folder.is_dir():
        raise NotFound(UPLOAD_UNKNOWN)
    return folder


def _read_json(file: Path) -> dict:
    try:
        return json.loads(file.read_text())
    except FileNotFoundError:
        return {}


def _write_json(file: Path, value: dict) -> None:
    temp = file.with_name(f"{file.name}.{uuid.uuid4().hex}.tmp")
    temp.write_text(json.dumps(value))
    temp.replace(file)


def _checked_upload(*, path: str, configuration: Any) -> tuple[str, Path]:
    """The key and staging folder of an upload the caller is continuing."""
    key = validate_key(path)
    upload_id = (
        configuration.get("upload_id") if isinstance(configuration, dict) else None
    )
    folder = _upload_dir(upload_id)
    if _read_json(folder / "upload.json").get("path") != key:
        raise ValidationFailed(UPLOAD_OTHER_PATH)
    return key, folder


def datastore_multipart_start(*, path: str) -> dict:
    """Open a multipart upload; the returned dict is echoed back by the client."""
    key = validate_key(path)
    _sweep_stale(time.time())
    upload_id = uuid.uuid4().hex
    folder = _staging_root() / upload_id
    folder.mkdir(parents=True)
    _write_json(folder / "upload.json", {"path": key})
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
    _, folder = _checked_upload(path=path, configuration=configuration)
    if not 1 <= part_number <= MAX_PARTS:
        raise ValidationFailed(PART_NUMBER_RANGE)
    if chunk_size < 1:
        raise ValidationFailed("chunk_size must be a positive number of bytes.")
    if size is not None:
        if size < 0:
            raise ValidationFailed("size must not be negative.")
        _write_json(
            folder / "expected.json",
            {"parts": part_number, "chunk_size": chunk_size, "size": size},
        )
    return folder.name


def _part_file(folder: Path, number: int) -> Path:
    return folder / f"part-{number:05d}"


def datastore_multipart_put(
    *, upload_id: str, part_number: int, stream: BinaryIO, max_bytes: int
) -> StoredPart:
    """Store one part's bytes (atomically: a retried PUT replaces the part whole)."""
    folder = _upload_dir(upload_id)
    if not 1 <= part_number <= MAX_PARTS:
        raise ValidationFailed(PART_NUMBER_RANGE)
    target = _part_file(folder, part_number)
    temp = folder / f"{target.name}.{uuid.uuid4().hex}.tmp"
    digest = hashlib.md5(usedforsecurity=False)
    written = 0
    try:
        with temp.open("xb") as out:
            while chunk := stream.read(COPY_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise TooLarge(
                        f"Part {part_number} is larger than the {max_bytes} bytes allowed."
                    )
                digest.update(chunk)
                out.write(chunk)
        etag = f'"{digest.hexdigest()}"'
        temp.replace(target)
        target.with_suffix(".etag").write_text(etag)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return StoredPart(etag=etag)


class _ChainedParts:
    """Read part files one after the other, as one stream."""

    def __init__(self, files: list[Path]):
        self._files = iter(files)
        self._current: BinaryIO | None = None

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._current is None:
                nxt = next(self._files, None)
                if nxt is None:
                    return b""
                self._current = nxt.open("rb")
            chunk = self._current.read(size)
            if chunk:
                return chunk
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()


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


def _verify_parts(folder: Path, parts: list[dict], numbers: list[int]) -> list[Path]:
    files = []
    for part, number in sorted(zip(parts, numbers, strict=True), key=lambda p: p[1]):
        file = _part_file(folder, number)
        if not file.is_file():
            raise ValidationFailed(PART_MISSING.format(n=number))
        etag = part.get("metadata")
        stored = file.with_suffix(".etag")
        if (
            etag
            and stored.is_file()
            and etag.strip('"') != stored.read_text().strip('"')
        ):
            raise ValidationFailed(PART_ETAG_MISMATCH.format(n=number))
        files.append(file)
    sizes = [f.stat().st_size for f in files]
    expected = _read_json(folder / "expected.json")
    chunk_size = expected.get("chunk_size", sizes[0])
    if "parts" in expected and expected["parts"] != len(files):
        raise ValidationFailed(
            PARTS_WRONG_COUNT.format(want=expected["parts"], got=len(files))
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
    return files


def datastore_multipart_end(*, path: str, configuration: Any, parts: Any) -> ObjectInfo:
    """Verify every part, assemble them into the object, drop the staging folder.

    A failed check also drops the upload: the client cannot resend a part.
    """
    key, folder = _checked_upload(path=path, configuration=configuration)
    try:
        numbers = _part_numbers(parts)
        files = _verify_parts(folder, parts, numbers)
        stream = _ChainedParts(files)
        try:
            return datastore_save(path=key, fileobj=stream)  # type: ignore[arg-type]
        finally:
            stream.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
