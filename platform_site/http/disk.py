"""The platform's disk: "no space left" answered as a clear 507, and the free space /healthz reports.

Every write path (pipeline archives, data store uploads and their multipart
parts, execution files, SQLite's database) can meet a full disk; the answer
is one rule here instead of a check in each: the request fails with a JSON
507 naming the disk, never a bare or HTML 500.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from django.conf import settings

from platform_site.http.errors import ApiError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# SQLite and PostgreSQL say it in words (PostgreSQL's SQLSTATE 53100: disk_full).
DISK_FULL_WORDS = ("database or disk is full", "No space left on device")
DISK_FULL_SQLSTATE = "53100"


class InsufficientStorage(ApiError):
    status = 507
    name = "InsufficientStorage"


def disk_full_error(exc: BaseException) -> InsufficientStorage | None:
    """The 507 for an exception caused (anywhere in its chain) by a full disk; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_disk_full(current):
            return InsufficientStorage(
                "The platform's disk is full (no space left in its data directory); "
                "free some space or ask the operator, then try again."
            )
        current = current.__cause__ or current.__context__
    return None


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    if getattr(exc, "sqlstate", None) == DISK_FULL_SQLSTATE:
        return True
    return type(exc).__name__ in ("OperationalError", "DiskFull") and any(
        words in str(exc) for words in DISK_FULL_WORDS
    )


def data_dir_free_mib(path: Path | None = None) -> int:
    """Free MiB on the file system of the data directory (what unprivileged writers get)."""
    return shutil.disk_usage(path or settings.DATA_DIR).free // (1024 * 1024)
