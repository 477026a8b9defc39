"""SQLite has one writer at a time: the hot path's writers take turns for it here, not in SQLite's busy handler.

A writer that finds SQLite's lock taken sleeps 1, 2, 5, 10 ms... (Python's
sqlite3 `timeout` is sqlite3_busy_timeout), even when the holder is done
within a tenth of a millisecond: under the parallel runs of a pod host and
the calls of the web process, writers mostly slept. A turn is a lock file
(flock) and a thread lock: a waiter wakes the moment the holder is done.

Writers that take no turn (pages, the scheduler) still meet SQLite's own
lock. A turn is taken before SQLite's lock, never while holding it: inside
a transaction (which holds SQLite's lock from its BEGIN IMMEDIATE) none is
taken, so two writers can never wait on each other. On PostgreSQL this is
a no-op: its row locks let writers go together.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.creation import DatabaseCreation

_thread_turn = threading.Lock()
_files: dict[tuple[int, str], int] = {}


def _lock_file(database: str) -> int:
    """This process's descriptor of the lock file beside `database` (a forked child opens its own)."""
    key = (os.getpid(), database)
    if key not in _files:
        _files[key] = os.open(
            f"{database}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
    return _files[key]


@contextlib.contextmanager
def sqlite_write_turn(db: BaseDatabaseWrapper) -> Iterator[None]:
    """Hold the turn to write while the block runs: SQLite only, outside a transaction."""
    database = str(db.settings_dict["NAME"])
    if (
        db.vendor != "sqlite"
        or db.in_atomic_block
        or DatabaseCreation.is_in_memory_db(database)
    ):
        yield
        return
    with _thread_turn:
        fd = _lock_file(database)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
