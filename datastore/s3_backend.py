"""The data store on S3-compatible storage (PLATFORM_STORAGE=s3): the same operations as the folder.

datastore/services.py validates keys and calls here instead of its folder
code. Objects live under `datastore/` in the bucket. Unlike a folder, a key
and a "folder" of the same name may both exist (S3 has no folders).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from datastore.keys import key_problem
from platform_site.clients import object_store
from platform_site.http.errors import NotFound

if TYPE_CHECKING:
    from datastore.services import FolderListing, ObjectInfo, ObjectPage

AREA = "datastore/"


def _info(meta: object_store.ObjectMeta) -> ObjectInfo:
    from datastore.services import ObjectInfo

    return ObjectInfo(
        path=meta.key[len(AREA) :], size=meta.size, last_modified=meta.last_modified
    )


def info(key: str, *, not_found: str) -> ObjectInfo:
    meta = object_store.head(AREA + key)
    if meta is None:
        raise NotFound(not_found)
    return _info(meta)


def open_object(key: str, *, not_found: str) -> BinaryIO:
    stream = object_store.open_stream(AREA + key)
    if stream is None:
        raise NotFound(not_found)
    return stream


def list_objects(folder: str, *, after: str | None, limit: int) -> ObjectPage:
    from datastore.services import ObjectPage

    prefix = f"{AREA}{folder}/" if folder else AREA
    page = []
    more = False
    start = f"{AREA}{after}" if after is not None else None
    for meta in object_store.iter_objects(prefix, after=start):
        if key_problem(meta.key[len(AREA) :]) is not None:
            continue  # written by someone else: invisible, as in the folder
        if len(page) == limit:
            more = True
            break
        page.append(_info(meta))
    return ObjectPage(items=page, next_after=page[-1].path if more else None)


def folder_exists(folder: str) -> bool:
    if not folder:
        return True
    return next(object_store.iter_objects(f"{AREA}{folder}/"), None) is not None


def browse(folder: str, *, not_found: str) -> FolderListing:
    from datastore.services import FolderListing

    prefix = f"{AREA}{folder}/" if folder else AREA
    folders, files = object_store.list_folder(prefix)
    if folder and not folders and not files:
        raise NotFound(not_found)
    return FolderListing(
        folder=folder,
        folders=sorted(name for name in folders if key_problem(name) is None),
        files=[
            _info(meta) for meta in files if key_problem(meta.key[len(AREA) :]) is None
        ],
    )


def save(key: str, fileobj: BinaryIO, *, max_bytes: int | None) -> ObjectInfo:
    object_store.put(AREA + key, fileobj, max_bytes=max_bytes)
    return info(key, not_found=f"{key!r} vanished after its upload")


def delete(key: str, *, not_found: str) -> None:
    if object_store.head(AREA + key) is None:
        raise NotFound(not_found)
    object_store.delete(AREA + key)
