"""SQLite's writers of the hot path take turns on a lock file, and never while holding SQLite's own lock."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest
from django.db import connection
from django.db.utils import ConnectionHandler

from platform_site.clients.sqlite_writer import sqlite_write_turn


@pytest.fixture
def sqlite_db(tmp_path):
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(tmp_path / "p.sqlite3"),
            }
        }
    )
    db = handler["default"]
    yield db
    db.close()


def _taken_by_someone(path: str) -> bool:
    """Another open of the lock file (as another process would have) cannot lock it."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_turn_excludes_other_processes_and_threads(sqlite_db):
    lock_path = f"{sqlite_db.settings_dict['NAME']}-writer.lock"
    order = []

    def other_thread():
        with sqlite_write_turn(sqlite_db):
            order.append("other")

    with sqlite_write_turn(sqlite_db):
        assert _taken_by_someone(lock_path)
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(0.2)
        assert thread.is_alive()  # waits for our turn to end
        order.append("first")
    thread.join(5)

    assert order == ["first", "other"]
    assert not _taken_by_someone(lock_path)


def test_no_turn_is_taken_inside_a_transaction(sqlite_db):
    """Its BEGIN IMMEDIATE holds SQLite's lock already: waiting for a turn then could deadlock."""
    lock_path = f"{sqlite_db.settings_dict['NAME']}-writer.lock"
    with sqlite_write_turn(sqlite_db):
        pass  # the lock file exists from now on
    sqlite_db.in_atomic_block = True  # as transaction.atomic() leaves it
    try:
        with sqlite_write_turn(sqlite_db):
            assert not _taken_by_someone(lock_path)
    finally:
        sqlite_db.in_atomic_block = False


@pytest.mark.django_db
def test_postgresql_writers_take_no_turn(tmp_path):
    with sqlite_write_turn(connection):
        assert connection.vendor != "sqlite"
    assert not list(tmp_path.iterdir())
