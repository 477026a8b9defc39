"""What the data store holds, whichever store keeps it: objects, pages, folders, and the store's shape.

datastore/services.py validates keys, then calls the one store that
settings chose (datastore_store()): a folder on this machine
(folder_store.py) or an S3-compatible bucket (bucket_store.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

OBJECT_NOT_FOUND = "Data store object {path!r} not found."
FOLDER_NOT_FOUND = "Data store folder {path!r} not found."


@dataclass(frozen=True)
class ObjectInfo:
    path: str
    size: int
    last_modified: datetime

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def as_json(self) -> dict[str, Any]:
        """The wire shape of §7.1/§7.2: size in bytes, ISO UTC time."""
        stamp = self.last_modified.astimezone(UTC).isoformat(timespec="milliseconds")
        return {
            "path": self.path,
            "last_modified": stamp.replace("+00:00", "Z"),
            "size": self.size,
        }


@dataclass(frozen=True)
class ObjectPage:
    items: list[ObjectInfo]
    next_after: str | None  # the last key of this page when more follow


@dataclass(frozen=True)
class FolderListing:
    folder: str
    folders: list[str]  # names of direct sub-folders
    files: list[ObjectInfo]  # direct files


class ObjectStore(Protocol):
    """Operations on validated keys ('' is the root folder); NotFound names the key."""

    def info(self, key: str) -> ObjectInfo: ...

    def open(self, key: str) -> BinaryIO: ...

    def list(self, folder: str, *, after: str | None, limit: int) -> ObjectPage:
        """Every object under `folder`, recursively, sorted by key, after key `after`."""
        ...

    def folder_exists(self, folder: str) -> bool: ...

    def browse(self, folder: str) -> FolderListing:
        """Direct sub-folders and files of `folder`; NotFound when it does not exist."""
        ...

    def save(self, key: str, fileobj: BinaryIO, *, max_bytes: int | None) -> ObjectInfo:
        """Write atomically: readers see the old content or the new one."""
        ...

    def delete(self, key: str) -> None: ...
