"""S3-compatible object storage (AWS S3, MinIO, Ceph...) through boto3, for PLATFORM_STORAGE=s3.

The data store (`datastore/<key>`) and execution files (`executions/<id>/...`)
live here when several machines must see them; keys are relative to
PLATFORM_S3_PREFIX. Credentials come from boto3's usual chain
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an instance role):
never from our settings, and never given to user code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from botocore.exceptions import ClientError
from django.conf import settings

from platform_site.clients.per_process import per_process
from platform_site.http.errors import TooLarge

MISSING_CODES = ("404", "NoSuchKey", "NotFound")


@dataclass(frozen=True)
class ObjectMeta:
    key: str  # relative to the prefix, as given
    size: int
    last_modified: datetime


def s3_enabled() -> bool:
    return settings.STORAGE == "s3"


def client():
    """This process's boto3 client (clients/per_process.py; boto3 clients are thread-safe)."""
    return per_process(("s3", settings.S3_ENDPOINT_URL), _new_client)


def _new_client():
    # Imported here: boto3 costs 0.35 s, and local storage never needs it.
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL or None,
        region_name=settings.S3_REGION,
        # Path-style: MinIO and Ceph need no DNS name per bucket.
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


def _full(key: str) -> str:
    return f"{settings.S3_PREFIX}{key}"


def _relative(full_key: str) -> str:
    return full_key[len(settings.S3_PREFIX) :]


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in MISSING_CODES


def head(key: str) -> ObjectMeta | None:
    """Size and time of one object; None when it does not exist."""
    try:
        found = client().head_object(Bucket=settings.S3_BUCKET, Key=_full(key))
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return ObjectMeta(key, found["ContentLength"], found["LastModified"])


class _Body:
    """The object's stream, with only read/close: Django then streams it as it comes."""

    def __init__(self, body):
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def close(self) -> None:
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_stream(key: str) -> BinaryIO | None:
    """The object opened for reading (the caller closes it); None when it does not exist."""
    try:
        found = client().get_object(Bucket=settings.S3_BUCKET, Key=_full(key))
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return _Body(found["Body"])  # type: ignore[return-value]


class _Bounded:
    """A reader that refuses to go past max_bytes (boto3 reads it in chunks)."""

    def __init__(self, fileobj: BinaryIO, max_bytes: int | None):
        self._fileobj = fileobj
        self._max = max_bytes
        self.read_bytes = 0
        self.exceeded = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._fileobj.read(size)
        # Fill the request: boto3 takes a short first read for the end of the file.
        while size is not None and 0 < len(chunk) < size:
            more = self._fileobj.read(size - len(chunk))
            if not more:
                break
            chunk += more
        self.read_bytes += len(chunk)
        if self._max is not None and self.read_bytes > self._max:
            self.exceeded = True
            raise TooLarge(f"The file is larger than the {self._max} bytes allowed.")
        return chunk


def put(key: str, fileobj: BinaryIO, *, max_bytes: int | None = None) -> None:
    """Write one object (an S3 PUT is atomic: readers see old or new, never partial)."""
    reader = _Bounded(fileobj, max_bytes)
    try:
        client().upload_fileobj(reader, settings.S3_BUCKET, _full(key))
    except Exception:
        if reader.exceeded:  # boto3 may wrap our refusal in its own error
            raise TooLarge(
                f"The file is larger than the {max_bytes} bytes allowed."
            ) from None
        raise


def put_file(key: str, source: Path) -> None:
    client().upload_file(str(source), settings.S3_BUCKET, _full(key))


def delete(key: str) -> None:
    client().delete_object(Bucket=settings.S3_BUCKET, Key=_full(key))


def iter_objects(prefix: str, *, after: str | None = None) -> Iterator[ObjectMeta]:
    """Every object whose key starts with `prefix`, by key (S3 lists in key order)."""
    kwargs = {"Bucket": settings.S3_BUCKET, "Prefix": _full(prefix)}
    if after is not None:
        kwargs["StartAfter"] = _full(after)
    for page in client().get_paginator("list_objects_v2").paginate(**kwargs):
        for item in page.get("Contents", []):
            yield ObjectMeta(_relative(item["Key"]), item["Size"], item["LastModified"])


def list_folder(prefix: str) -> tuple[list[str], list[ObjectMeta]]:
    """(names of direct sub-folders, direct objects) under `prefix` (ending in '/' or empty)."""
    folders: list[str] = []
    files: list[ObjectMeta] = []
    paginator = client().get_paginator("list_objects_v2")
    for page in paginator.paginate(
        Bucket=settings.S3_BUCKET, Prefix=_full(prefix), Delimiter="/"
    ):
        for common in page.get("CommonPrefixes", []):
            folders.append(_relative(common["Prefix"])[len(prefix) :].rstrip("/"))
        for item in page.get("Contents", []):
            files.append(
                ObjectMeta(_relative(item["Key"]), item["Size"], item["LastModified"])
            )
    return folders, files


def delete_prefix(prefix: str) -> None:
    """Delete every object under `prefix` (an execution's files), 1,000 per request."""
    keys = [_full(meta.key) for meta in iter_objects(prefix)]
    for start in range(0, len(keys), 1000):
        client().delete_objects(
            Bucket=settings.S3_BUCKET,
            Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]},
        )
