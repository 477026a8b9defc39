"""The data store: files shared by the environment, under settings.DATASTORE_DIR or in S3.

Every operation validates its key the same way (datastore/keys.py), then
calls the one store settings chose: with PLATFORM_STORAGE=local a folder on
this machine (folder_store.py, no model: a key is a path), with
PLATFORM_STORAGE=s3 a bucket (bucket_store.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import BinaryIO

from datastore.bucket_store import BucketStore
from datastore.folder_store import FolderStore
from datastore.keys import describe, key_problem, path_error, render_template
from datastore.objects import FolderListing, ObjectInfo, ObjectPage, ObjectStore
from platform_site.clients.object_store import s3_enabled
from platform_site.http.errors import ValidationFailed

LIST_LIMIT = 1000


def datastore_store() -> ObjectStore:
    """The store of this installation (the one place that asks which)."""
    return BucketStore() if s3_enabled() else FolderStore()


# -- keys and paths -----------------------------------------------------------


def datastore_path_error(path: str, *, template: bool = True) -> str | None:
    """None when `path` is a valid data store path, else a sentence saying why.

    With template=True (for output mappings) `{execution_id}`, `{date}` and
    `{date_time}` are accepted; pass template=False for input mappings.
    """
    return path_error(path, template=template, field="data store path")


def validate_key(path: object, *, field: str = "path_to_object") -> str:
    """The key itself when valid; ValidationFailed naming `field` otherwise."""
    problem = key_problem(path)
    if problem is not None:
        raise ValidationFailed(describe(path, problem, field=field))
    return path  # type: ignore[return-value]


def validate_folder(folder: str | None, *, field: str = "folder_path") -> str:
    """A folder key ('' for the root); one trailing '/' is tolerated."""
    if not folder:
        return ""
    return validate_key(folder.removesuffix("/"), field=field)


# -- reading --------------------------------------------------------------------


def datastore_info(path: str) -> ObjectInfo:
    """Size and modification time of one object; NotFound when it does not exist."""
    return datastore_store().info(validate_key(path))


def datastore_open(path: str) -> BinaryIO:
    """The object opened for binary reading (the caller closes it)."""
    return datastore_store().open(validate_key(path))


def datastore_list(
    folder: str | None, *, after: str | None = None, limit: int = LIST_LIMIT
) -> ObjectPage:
    """Every object under `folder` (recursive), sorted by key, after key `after`.

    An unknown folder lists nothing (as an object store does).
    """
    return datastore_store().list(validate_folder(folder), after=after, limit=limit)


def datastore_folder_exists(folder: str) -> bool:
    return datastore_store().folder_exists(validate_folder(folder))


def datastore_browse(folder: str | None) -> FolderListing:
    """Direct sub-folders and files of one folder, for the UI; NotFound when absent."""
    return datastore_store().browse(validate_folder(folder, field="folder"))


# -- writing --------------------------------------------------------------------


def datastore_save(
    *, path: str, fileobj: BinaryIO, max_bytes: int | None = None
) -> ObjectInfo:
    """Write an object atomically: readers see the old content or the new one, never a partial file."""
    return datastore_store().save(validate_key(path), fileobj, max_bytes=max_bytes)


def datastore_delete(path: str) -> str:
    """Delete one object (and, in a folder, the folders it leaves empty); returns its key."""
    datastore_store().delete(validate_key(path))
    return path


# -- helpers for the execution engine ---------------------------------------------


def datastore_store_output(
    *, path_template: str, source: BinaryIO, execution_id: str, now: datetime
) -> str:
    """Store an execution output (an open file) at its rendered path; returns that path.

    `{execution_id}`, `{date}` (YYYYMMDD) and `{date_time}` (YYYYMMDD_hhmmss,
    UTC) are substituted first; the result must then be a valid key.
    """
    moment = now.astimezone(UTC) if now.tzinfo else now
    key = render_template(
        path_template,
        execution_id=execution_id,
        date=moment.strftime("%Y%m%d"),
        date_time=moment.strftime("%Y%m%d_%H%M%S"),
    )
    validate_key(key)
    datastore_save(path=key, fileobj=source)
    return key
