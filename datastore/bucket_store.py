"""The data store on S3-compatible storage (PLATFORM_STORAGE=s3): objects under `datastore/` in the bucket.

Unlike a folder, a key and a "folder" of the same name may both exist (S3
has no folders). Keys written there by someone else that are not valid keys
are invisible, as in the folder.
"""

from __future__ import annotations

from typing import BinaryIO

from datastore.keys import key_problem
from datastore.objects import (
    FOLDER_NOT_FOUND,
    OBJECT_NOT_FOUND,
    FolderListing,
    ObjectInfo,
    ObjectPage,
)
from platform_site.clients import object_store
from platform_site.http.errors import NotFound

AREA = "datastore/"


class BucketStore:
    """ObjectStore (datastore/objects.py) on the bucket of platform_site/clients/object_store.py."""

    def info(self, key: str) -> ObjectInfo:
        meta = object_store.head(AREA + key)
        if meta is None:
            raise NotFound(OBJECT_NOT_FOUND.format(path=key))
        return _info(meta)

    def open(self, key: str) -> BinaryIO:
        stream = object_store.open_stream(AREA + key)
        if stream is None:
            raise NotFound(OBJECT_NOT_FOUND.format(path=key))
        return stream

    def list(self, folder: str, *, after: str | None, limit: int) -> ObjectPage:
        prefix = f"{AREA}{folder}/" if folder else AREA
        page: list[ObjectInfo] = []
        more = False
        start = f"{AREA}{after}" if after is not None else None
        for meta in object_store.iter_objects(prefix, after=start):
            if key_problem(meta.key[len(AREA) :]) is not None:
                continue
            if len(page) == limit:
                more = True
                break
            page.append(_info(meta))
        return ObjectPage(items=page, next_after=page[-1].path if more else None)

    def folder_exists(self, folder: str) -> bool:
        if not folder:
            return True
        return next(object_store.iter_objects(f"{AREA}{folder}/"), None) is not None

    def browse(self, folder: str) -> FolderListing:
        prefix = f"{AREA}{folder}/" if folder else AREA
        folders, files = object_store.list_folder(prefix)
        if folder and not folders and not files:
            raise NotFound(FOLDER_NOT_FOUND.format(path=folder))
        return FolderListing(
            folder=folder,
            folders=sorted(name for name in folders if key_problem(name) is None),
            files=[
                _info(meta)
                for meta in files
                if key_problem(meta.key[len(AREA) :]) is None
            ],
        )

    def save(self, key: str, fileobj: BinaryIO, *, max_bytes: int | None) -> ObjectInfo:
        object_store.put(AREA + key, fileobj, max_bytes=max_bytes)
        return self.info(key)

    def delete(self, key: str) -> None:
        if object_store.head(AREA + key) is None:
            raise NotFound(OBJECT_NOT_FOUND.format(path=key))
        object_store.delete(AREA + key)


def _info(meta: object_store.ObjectMeta) -> ObjectInfo:
    return ObjectInfo(
        path=meta.key[len(AREA) :], size=meta.size, last_modified=meta.last_modified
    )
