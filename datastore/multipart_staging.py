"""Where the parts of a multipart upload wait for `end`: this machine's folder, or the bucket.

With PLATFORM_STORAGE=s3 the parts of one upload may reach different web
machines behind a load balancer, so they wait in the bucket under
`multipart/<upload id>/` (outside `datastore/`: never listed as objects).
Both kinds keep the same files: upload.json, expected.json, part-NNNNN and
its .etag (our MD5: S3's own ETag differs for objects boto3 sent in parts).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from datastore.folder_store import COPY_CHUNK, datastore_root
from platform_site.clients import object_store
from platform_site.http.errors import TooLarge

STAGING = "~multipart"  # `~` is not a key character: never an object's name
S3_AREA = "multipart/"


def part_name(number: int) -> str:
    return f"part-{number:05d}"


class _Md5Reader:
    """Counts, hashes and bounds what flows through it."""

    def __init__(self, stream: BinaryIO, *, max_bytes: int, number: int):
        self._stream = stream
        self._max = max_bytes
        self._number = number
        self.digest = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.exceeded = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(COPY_CHUNK if size is None or size < 0 else size)
        self.size += len(chunk)
        if self.size > self._max:
            self.exceeded = True
            raise self.too_large()
        self.digest.update(chunk)
        return chunk

    def too_large(self) -> TooLarge:
        return TooLarge(
            f"Part {self._number} is larger than the {self._max} bytes allowed."
        )

    @property
    def etag(self) -> str:
        return f'"{self.digest.hexdigest()}"'


class _Chained:
    """Read several streams one after the other, as one."""

    def __init__(self, opens: Iterator[BinaryIO]):
        self._opens = opens
        self._current: BinaryIO | None = None

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._current is None:
                self._current = next(self._opens, None)
                if self._current is None:
                    return b""
            chunk = self._current.read(size)
            if chunk:
                return chunk
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()


class FolderStaging:
    """DATASTORE_DIR/~multipart/<upload id>/ on this machine."""

    def _folder(self, upload_id: str) -> Path:
        return datastore_root() / STAGING / upload_id

    def create(self, upload_id: str) -> None:
        self._folder(upload_id).mkdir(parents=True)

    def exists(self, upload_id: str) -> bool:
        return self._folder(upload_id).is_dir()

    def read_json(self, upload_id: str, name: str) -> dict:
        try:
            return json.loads((self._folder(upload_id) / name).read_text())
        except FileNotFoundError:
            return {}

    def write_json(self, upload_id: str, name: str, value: dict) -> None:
        file = self._folder(upload_id) / name
        temp = file.with_name(f"{file.name}.{uuid.uuid4().hex}.tmp")
        temp.write_text(json.dumps(value))
        temp.replace(file)

    def put_part(self, upload_id: str, number: int, reader: _Md5Reader) -> None:
        """Atomically: a retried PUT replaces the part whole."""
        target = self._folder(upload_id) / part_name(number)
        temp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with temp.open("xb") as out:
                while chunk := reader.read(COPY_CHUNK):
                    out.write(chunk)
            temp.replace(target)
            target.with_suffix(".etag").write_text(reader.etag)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def part(self, upload_id: str, number: int) -> tuple[int, str | None] | None:
        """(size, etag) of a received part; None when it never came."""
        file = self._folder(upload_id) / part_name(number)
        if not file.is_file():
            return None
        etag_file = file.with_suffix(".etag")
        etag = etag_file.read_text() if etag_file.is_file() else None
        return file.stat().st_size, etag

    def open_parts(self, upload_id: str, numbers: list[int]) -> _Chained:
        folder = self._folder(upload_id)
        return _Chained((folder / part_name(n)).open("rb") for n in numbers)

    def drop(self, upload_id: str) -> None:
        shutil.rmtree(self._folder(upload_id), ignore_errors=True)

    def sweep_older_than(self, cutoff: float) -> None:
        staging = datastore_root() / STAGING
        if not staging.is_dir():
            return
        for entry in staging.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)


class BucketStaging:
    """multipart/<upload id>/ in the S3 bucket, seen by every web machine."""

    def _key(self, upload_id: str, name: str) -> str:
        return f"{S3_AREA}{upload_id}/{name}"

    def create(self, upload_id: str) -> None:
        pass  # upload.json, written next, is what makes it exist

    def exists(self, upload_id: str) -> bool:
        return object_store.head(self._key(upload_id, "upload.json")) is not None

    def read_json(self, upload_id: str, name: str) -> dict:
        stream = object_store.open_stream(self._key(upload_id, name))
        if stream is None:
            return {}
        with stream:
            return json.loads(stream.read())

    def write_json(self, upload_id: str, name: str, value: dict) -> None:
        body = json.dumps(value).encode()
        object_store.put(self._key(upload_id, name), _bytes_reader(body))

    def put_part(self, upload_id: str, number: int, reader: _Md5Reader) -> None:
        try:
            object_store.put(self._key(upload_id, part_name(number)), reader)
        except Exception:
            if reader.exceeded:  # boto3 may wrap our refusal in its own error
                raise reader.too_large() from None
            raise
        etag = reader.etag.encode()
        object_store.put(
            self._key(upload_id, f"{part_name(number)}.etag"), _bytes_reader(etag)
        )

    def part(self, upload_id: str, number: int) -> tuple[int, str | None] | None:
        meta = object_store.head(self._key(upload_id, part_name(number)))
        if meta is None:
            return None
        stream = object_store.open_stream(
            self._key(upload_id, f"{part_name(number)}.etag")
        )
        if stream is None:
            return meta.size, None
        with stream:
            return meta.size, stream.read().decode()

    def open_parts(self, upload_id: str, numbers: list[int]) -> _Chained:
        def opens() -> Iterator[BinaryIO]:
            for number in numbers:
                stream = object_store.open_stream(
                    self._key(upload_id, part_name(number))
                )
                if stream is None:
                    raise FileNotFoundError(part_name(number))
                yield stream

        return _Chained(opens())

    def drop(self, upload_id: str) -> None:
        object_store.delete_prefix(f"{S3_AREA}{upload_id}/")

    def sweep_older_than(self, cutoff: float) -> None:
        limit = datetime.fromtimestamp(cutoff, tz=UTC)
        stale = {
            meta.key[len(S3_AREA) :].split("/", 1)[0]
            for meta in object_store.iter_objects(S3_AREA)
            if meta.key.endswith("/upload.json") and meta.last_modified < limit
        }
        for upload_id in stale:
            self.drop(upload_id)


def _bytes_reader(data: bytes) -> BinaryIO:
    return io.BytesIO(data)


def staging() -> FolderStaging | BucketStaging:
    return BucketStaging() if object_store.s3_enabled() else FolderStaging()


def md5_reader(stream: BinaryIO, *, max_bytes: int, number: int) -> _Md5Reader:
    return _Md5Reader(stream, max_bytes=max_bytes, number=number)
