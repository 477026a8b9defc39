"""The data store: files shared by the environment, under settings.DATASTORE_DIR or in S3.

With PLATFORM_STORAGE=local the filesystem is the store (no model): an
object's key is its path relative to DATASTORE_DIR. With PLATFORM_STORAGE=s3
every function below validates the key the same way, then hands over to
datastore/s3_backend.py. Names that are not valid key segments (`~tmp-...` files of
writes in progress, the `~multipart` folder) are invisible to every reader.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from datastore import s3_backend
from datastore.keys import (
    SEGMENT,
    describe,
    key_problem,
    path_error,
    render_template,
)
from platform_site.clients.object_store import s3_enabled
from platform_site.http.errors import Conflict, NotFound, TooLarge, ValidationFailed

COPY_CHUNK = 1024 * 1024
TEMP_PREFIX = (
    "~tmp-"  # `~` is outside the key alphabet: never listed, never addressable
)
LIST_LIMIT = 1000

OBJECT_NOT_FOUND = "Data store object {path!r} not found."
FOLDER_NOT_FOUND = "Data store folder {path!r} not found."
KEY_OUTSIDE_STORE = "it resolves outside the data store"


@dataclass(frozen=True)
class ObjectInfo:
    path: str
    size: int
    last_modified: datetime

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def as_json(self) -> dict:
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


# -- keys and paths -----------------------------------------------------------


def datastore_root() -> Path:
    root = Path(settings.DATASTORE_DIR).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


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


def _resolve(key: str, *, field: str = "path_to_object") -> Path:
    """The file path of a validated key, refusing anything that lands outside the root."""
    root = datastore_root()
    target = Path(os.path.realpath(root / key))
    # Belt and braces after the allow-list: a symlink planted in the store
    # must not lead a read or write outside it.
    if target == root or not target.is_relative_to(root):
        raise ValidationFailed(describe(key, KEY_OUTSIDE_STORE, field=field))
    return target


def _info(key: str, file: Path) -> ObjectInfo:
    stat = file.stat()
    return ObjectInfo(
        path=key,
        size=stat.st_size,
        last_modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
    )


def _existing_file(path: str) -> Path:
    file = _resolve(validate_key(path))
    if not file.is_file():
        raise NotFound(OBJECT_NOT_FOUND.format(path=path))
    return file


# -- reading --------------------------------------------------------------------


def datastore_info(path: str) -> ObjectInfo:
    """Size and modification time of one object; NotFound when it does not exist."""
    if s3_enabled():
        key = validate_key(path)
        return s3_backend.info(key, not_found=OBJECT_NOT_FOUND.format(path=path))
    return _info(path, _existing_file(path))


def datastore_open(path: str) -> BinaryIO:
    """The object opened for binary reading (the caller closes it)."""
    if s3_enabled():
        key = validate_key(path)
        return s3_backend.open_object(key, not_found=OBJECT_NOT_FOUND.format(path=path))
    return _existing_file(path).open("rb")


def _walk(base: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    for entry in os.scandir(base):
        if not SEGMENT.fullmatch(entry.name) or entry.name in (".", ".."):
            continue
        key = f"{prefix}{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), f"{key}/")
        elif entry.is_file(follow_symlinks=False):
            yield key, Path(entry.path)


def datastore_list(
    folder: str | None, *, after: str | None = None, limit: int = LIST_LIMIT
) -> ObjectPage:
    """Every object under `folder` (recursive), sorted by key, after key `after`.

    An unknown folder lists nothing (as an object store does).
    """
    key = validate_folder(folder)
    if s3_enabled():
        return s3_backend.list_objects(key, after=after, limit=limit)
    base = _resolve(key, field="folder_path") if key else datastore_root()
    if not base.is_dir():
        return ObjectPage(items=[], next_after=None)
    prefix = f"{key}/" if key else ""
    keys = sorted((k, p) for k, p in _walk(base, prefix) if after is None or k > after)
    page: list[ObjectInfo] = []
    for k, file in keys[:limit]:
        with contextlib.suppress(FileNotFoundError):  # deleted while listing
            page.append(_info(k, file))
    next_after = keys[limit - 1][0] if len(keys) > limit else None
    return ObjectPage(items=page, next_after=next_after)


def datastore_folder_exists(folder: str) -> bool:
    key = validate_folder(folder)
    if s3_enabled():
        return s3_backend.folder_exists(key)
    return not key or _resolve(key, field="folder_path").is_dir()


def datastore_browse(folder: str | None) -> FolderListing:
    """Direct sub-folders and files of one folder, for the UI; NotFound when absent."""
    key = validate_folder(folder, field="folder")
    if s3_enabled():
        return s3_backend.browse(key, not_found=FOLDER_NOT_FOUND.format(path=key))
    base = _resolve(key, field="folder") if key else datastore_root()
    if not base.is_dir():
        raise NotFound(FOLDER_NOT_FOUND.format(path=key))
    prefix = f"{key}/" if key else ""
    folders: list[str] = []
    files: list[ObjectInfo] = []
    for entry in sorted(os.scandir(base), key=lambda e: e.name):
        if not SEGMENT.fullmatch(entry.name) or entry.name in (".", ".."):
            continue
        if entry.is_dir(follow_symlinks=False):
            folders.append(entry.name)
        elif entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                files.append(_info(f"{prefix}{entry.name}", Path(entry.path)))
    return FolderListing(folder=key, folders=folders, files=files)


# -- writing --------------------------------------------------------------------


def _prepare_parent(key: str, target: Path) -> None:
    """Create the object's folders; Conflict where a file or folder is in the way."""
    if target.is_dir():
        raise Conflict(
            f"Invalid path_to_object {key!r}: a folder with this path exists."
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise Conflict(
            f"Invalid path_to_object {key!r}: one of its folders is a file."
        ) from None


def _copy_bounded(fileobj: BinaryIO, out: BinaryIO, max_bytes: int | None) -> None:
    written = 0
    while chunk := fileobj.read(COPY_CHUNK):
        written += len(chunk)
        if max_bytes is not None and written > max_bytes:
            raise TooLarge(f"The file is larger than the {max_bytes} bytes allowed.")
        out.write(chunk)


def _open_temp(key: str, target: Path) -> BinaryIO:
    """A new temp file next to the target, its folders created."""
    # A concurrent delete may prune the empty folder between mkdir and open.
    for attempt in range(3):
        _prepare_parent(key, target)
        try:
            return (target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}").open("xb")
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def datastore_save(
    *, path: str, fileobj: BinaryIO, max_bytes: int | None = None
) -> ObjectInfo:
    """Write an object atomically (temp file in the same folder, then os.replace).

    Readers see the old content or the new one, never a partial file.
    """
    key = validate_key(path)
    if s3_enabled():
        return s3_backend.save(key, fileobj, max_bytes=max_bytes)
    target = _resolve(key)
    out = _open_temp(key, target)
    temp = Path(out.name)
    try:
        with out:
            _copy_bounded(fileobj, out, max_bytes)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except IsADirectoryError:
        raise Conflict(
            f"Invalid path_to_object {key!r}: a folder with this path exists."
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return _info(key, target)


def datastore_delete(path: str) -> str:
    """Delete one object, then the folders it leaves empty; returns its key."""
    if s3_enabled():
        key = validate_key(path)
        s3_backend.delete(key, not_found=OBJECT_NOT_FOUND.format(path=path))
        return path
    file = _existing_file(path)
    file.unlink()
    root = datastore_root()
    parent = file.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:  # not empty (or just refilled): stop pruning
            break
        parent = parent.parent
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
