"""SQLite has one writer at a time: the hot path's writers take turns for it here, not in SQLite's busy handler.

A writer that finds SQLite's lock taken sleeps 1, 2, 5, 10 ms... (Python's
sqlite3 `timeout` is sqlite3_busy_timeout), even when the holder is done
within a tenth of a millisecond: under the parallel runs of a pod host and
the calls of the web process, writers mostly slept. A turn is a lock file
(flock) and a thread lock: a waiter wakes the moment the holder is done.

Threads of one process that wait for the turn (a pod host's parallel
runs, each claiming and recording) have their writes done by the thread
that gets it, all in its one transaction (sqlite_write: flat combining):
one BEGIN, one COMMIT, one turn for all, where each write alone waited for
the others' turns.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.creation import DatabaseCreation
from django.db.utils import ConnectionHandler

T = TypeVar("T")

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


def _takes_turns(db: BaseDatabaseWrapper) -> bool:
    return not (
        db.vendor != "sqlite"
        or db.in_atomic_block
        or DatabaseCreation.is_in_memory_db(str(db.settings_dict["NAME"]))
    )


@contextlib.contextmanager
def _file_turn(db: BaseDatabaseWrapper) -> Iterator[None]:
    """The other processes' part of the turn (the caller holds _thread_turn)."""
    fd = _lock_file(str(db.settings_dict["NAME"]))
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def sqlite_write_turn(db: BaseDatabaseWrapper) -> Iterator[None]:
    """Hold the turn to write while the block runs: SQLite only, outside a transaction."""
    if not _takes_turns(db):
        yield
        return
    with _thread_turn, _file_turn(db):
        yield


@dataclass
class _Write(Generic[T]):
    write: Callable[[BaseDatabaseWrapper], T]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass
class _Waiting:
    """The writes waiting for the turn, by database file."""

    writes: dict[str, list[_Write[Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_waiting = _Waiting()


def sqlite_write(
    write: Callable[[BaseDatabaseWrapper], T],
    *,
    handler: ConnectionHandler = connections,
    alias: str = DEFAULT_DB_ALIAS,
) -> T:
    """write(db) committed; on SQLite in a transaction, holding the turn,
    together with the writes of this process's threads that wait for it.

    write may run on another thread, with that thread's connection (the db
    it is given: never one it holds itself), and twice when the transaction
    it shared failed for another write's fault: it must only write, and
    never take a turn itself. Where no turn is taken (PostgreSQL, inside a
    caller's transaction, an in-memory database), write(db) runs here.
    """
    db = handler[alias]
    if db.vendor != "sqlite" or db.in_atomic_block:
        return write(db)
    if not _takes_turns(db):  # an in-memory database: one connection, no other writer
        with _transaction(db):
            return write(db)
    database = str(db.settings_dict["NAME"])
    mine: _Write[T] = _Write(write)
    with _waiting.lock:
        _waiting.writes.setdefault(database, []).append(mine)
    with _thread_turn:
        if not mine.done:  # nobody wrote it meanwhile: this thread writes all that wait
            with _waiting.lock:
                writes = _waiting.writes.pop(database)
            try:
                with _file_turn(db):
                    _write_together(db, writes)
            finally:
                for item in writes:
                    if not item.done:  # this thread was stopped: theirs must not wait
                        item.error, item.done = RuntimeError("not written"), True
    if mine.error is not None:
        raise mine.error
    return mine.result  # type: ignore[no-any-return]


@contextlib.contextmanager
def _transaction(db: BaseDatabaseWrapper) -> Iterator[None]:
    """transaction.atomic() on `db` itself (atomic() takes an alias of Django's own connections)."""
    db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    try:
        yield
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.set_autocommit(True)


def _write_together(db: BaseDatabaseWrapper, writes: list[_Write[Any]]) -> None:
    """One transaction for all; when it fails, one each, so that a bad write fails alone."""
    try:
        with _transaction(db):
            results = [item.write(db) for item in writes]
    except Exception as exc:
        if len(writes) == 1:
            writes[0].error, writes[0].done = exc, True
            return
        for item in writes:
            try:
                with _transaction(db):
                    item.result = item.write(db)
            except Exception as alone:
                item.error = alone
            item.done = True
    else:
        for item, result in zip(writes, results, strict=True):
            item.result, item.done = result, True
