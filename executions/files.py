"""Execution files (file inputs and outputs): in EXECUTIONS_DIR, or in S3 with PLATFORM_STORAGE=s3.

`ExecutionIo.file_path` says where one lives: an absolute path on this
machine's disk, or `s3:executions/<execution pk>/...` in the bucket, so that a
file a worker wrote on one machine downloads through any web process.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from platform_site.clients import object_store

S3_MARK = "s3:"
SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def _key(execution_pk: object, relative: str) -> str:
    return f"executions/{execution_pk}/{relative}"


def execution_file_store(
    *, execution_pk: object, relative: str, source: Path | BinaryIO
) -> str:
    """Store a file at `relative` (e.g. outputs/report/report.csv) of the execution; its file_path."""
    if object_store.s3_enabled():
        key = _key(execution_pk, relative)
        if isinstance(source, Path):
            object_store.put_file(key, source)
        else:
            object_store.put(key, source)
        return S3_MARK + key
    target = Path(settings.EXECUTIONS_DIR) / str(execution_pk) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        shutil.copyfile(source, target)
    else:
        with target.open("wb") as out:
            shutil.copyfileobj(source, out)
    return str(target)


def execution_file_name(file_path: str) -> str:
    return file_path.rsplit("/", 1)[-1]


def execution_file_open(file_path: str) -> BinaryIO:
    """The file opened for reading (the caller closes it); FileNotFoundError when gone."""
    if file_path.startswith(S3_MARK):
        stream = object_store.open_stream(file_path.removeprefix(S3_MARK))
        if stream is None:
            raise FileNotFoundError(file_path)
        return stream
    return open(file_path, "rb")  # noqa: SIM115 - the caller closes it


def execution_files_delete(execution_pks: Iterable[object]) -> None:
    """Remove the files of deleted executions (call once their rows are gone)."""
    for pk in execution_pks:
        shutil.rmtree(Path(settings.EXECUTIONS_DIR) / str(pk), ignore_errors=True)
        if object_store.s3_enabled():
            object_store.delete_prefix(_key(pk, ""))


def safe_filename(name: str | None, fallback: str) -> str:
    base = Path(str(name or "")).name
    cleaned = SAFE_FILENAME.sub("_", base).strip("._")
    return cleaned[:120] or fallback
