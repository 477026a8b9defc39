"""The data store as a folder on this machine (PLATFORM_STORAGE=local): a key is a path below DATASTORE_DIR.

Names that are not valid key segments (`~tmp-...` files of writes in
progress, the `~multipart` folder) are invisible to every reader; links are
never followed out of the folder.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from datastore.keys import SEGMENT, describe
from datastore.objects import (
    FOLDER_NOT_FOUND,
    OBJECT_NOT_FOUND,
    FolderListing,
    ObjectInfo,
    ObjectPage,
)
from platform_site.http.errors import Conflict, NotFound, TooLarge, ValidationFailed

COPY_CHUNK = 1024 * 1024
TEMP_PREFIX = (
    "~tmp-"  # `~` is outside the key alphabet: never listed, never addressable
)
KEY_OUTSIDE_STORE = "it resolves outside the data store"


def datastore_root() -> Path:
    root = Path(settings.DATASTORE_DIR).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


class FolderStore:
    """ObjectStore (datastore/objects.py) on DATASTORE_DIR."""

    def info(self, key: str) -> ObjectInfo:
        return _info(key, _existing_file(key))

    def open(self, key: str) -> BinaryIO:
        return _existing_file(key).open("rb")

    def list(self, folder: str, *, after: str | None, limit: int) -> ObjectPage:
        # An unknown folder lists nothing (as an object store does).
        base = _resolve(folder, field="folder_path") if folder else datastore_root()
        if not base.is_dir():
            return ObjectPage(items=[], next_after=None)
        prefix = f"{folder}/" if folder else ""
        keys = sorted(
            (k, p) for k, p in _walk(base, prefix) if after is None or k > after
        )
        page: list[ObjectInfo] = []
        for k, file in keys[:limit]:
            with contextlib.suppress(FileNotFoundError):  # deleted while listing
                page.append(_info(k, file))
        next_after = keys[limit - 1][0] if len(keys) > limit else None
        return ObjectPage(items=page, next_after=next_after)

    def folder_exists(self, folder: str) -> bool:
        return not folder or _resolve(folder, field="folder_path").is_dir()

    def browse(self, folder: str) -> FolderListing:
        base = _resolve(folder, field="folder") if folder else datastore_root()
        if not base.is_dir():
            raise NotFound(FOLDER_NOT_FOUND.format(path=folder))
        prefix = f"{folder}/" if folder else ""
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
        return FolderListing(folder=folder, folders=folders, files=files)

    def save(self, key: str, fileobj: BinaryIO, *, max_bytes: int | None) -> ObjectInfo:
        """A temp file in the same folder, then os.replace: never a partial file."""
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

    def delete(self, key: str) -> None:
        """The object, then the folders it leaves empty."""
        file = _existing_file(key)
        file.unlink()
        root = datastore_root()
        parent = file.parent
        while parent != root and parent.is_relative_to(root):
            try:
                parent.rmdir()
            except OSError:  # not empty (or just refilled): stop pruning
                break
            parent = parent.parent


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


def _existing_file(key: str) -> Path:
    file = _resolve(key)
    if not file.is_file():
        raise NotFound(OBJECT_NOT_FOUND.format(path=key))
    return file


def _walk(base: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    for entry in os.scandir(base):
        if not SEGMENT.fullmatch(entry.name) or entry.name in (".", ".."):
            continue
        key = f"{prefix}{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), f"{key}/")
        elif entry.is_file(follow_symlinks=False):
            yield key, Path(entry.path)


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
