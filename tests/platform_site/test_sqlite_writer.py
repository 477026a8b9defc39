"""SQLite's writers of the hot path take turns on a lock file, and never while holding SQLite's own lock."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from django.db import IntegrityError, connection, connections
from django.db.utils import ConnectionHandler

from platform_site.clients.sqlite_writer import (
    _waiting,
    sqlite_write,
    sqlite_write_turn,
)


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


# -- writes done together (flat combining) ----------------------------------------


@pytest.fixture
def sqlite_handler(tmp_path, django_db_blocker):
    """Connections to a SQLite file of its own, one per thread as Django's."""
    django_db_blocker.unblock()
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(tmp_path / "w.sqlite3"),
            }
        }
    )
    with handler["default"].cursor() as cursor:
        cursor.execute("CREATE TABLE written (id INTEGER PRIMARY KEY, thread TEXT)")
    yield handler
    handler.close_all()
    django_db_blocker.restore()


def _insert(row_id: int):
    def write(db):
        with db.cursor() as cursor:
            cursor.execute(
                "INSERT INTO written VALUES (%s, %s)",
                [row_id, threading.current_thread().name],
            )
        return row_id * 10

    return write


def _waiting_writers(handler, writes) -> dict[str, object]:
    """Each write from a thread of its own, all started while this thread holds the turn."""
    outcome: dict[str, object] = {}

    def writer(name, write):
        try:
            outcome[name] = sqlite_write(write, handler=handler)
        except Exception as exc:
            outcome[name] = exc
        finally:
            handler["default"].close()

    threads = [
        threading.Thread(target=writer, args=(f"w{n}", write), name=f"w{n}")
        for n, write in enumerate(writes)
    ]
    with sqlite_write_turn(handler["default"]):
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        database = handler["default"].settings_dict["NAME"]
        while (
            len(_waiting.writes.get(database, [])) < len(writes)
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
    for thread in threads:
        thread.join(10)
    return outcome


def _rows(handler) -> dict[int, str]:
    with handler["default"].cursor() as cursor:
        cursor.execute("SELECT id, thread FROM written")
        return dict(cursor.fetchall())


def test_writes_waiting_for_the_turn_are_done_together_by_one_thread(sqlite_handler):
    outcome = _waiting_writers(sqlite_handler, [_insert(n) for n in (1, 2, 3)])

    assert outcome == {"w0": 10, "w1": 20, "w2": 30}
    rows = _rows(sqlite_handler)
    assert sorted(rows) == [1, 2, 3]
    assert len(set(rows.values())) == 1  # one thread wrote all three


def test_a_write_that_fails_fails_alone(sqlite_handler):
    with sqlite_handler["default"].cursor() as cursor:
        cursor.execute("INSERT INTO written VALUES (2, 'before')")

    outcome = _waiting_writers(sqlite_handler, [_insert(n) for n in (1, 2, 3)])

    assert outcome["w0"] == 10 and outcome["w2"] == 30
    assert isinstance(outcome["w1"], IntegrityError)
    rows = _rows(sqlite_handler)
    assert sorted(rows) == [1, 2, 3] and rows[2] == "before"


def test_a_write_alone_is_done_by_its_own_thread(sqlite_handler):
    assert sqlite_write(_insert(7), handler=sqlite_handler) == 70
    assert _rows(sqlite_handler) == {7: threading.current_thread().name}


@pytest.mark.django_db
def test_postgresql_writes_run_as_they_are_on_this_thread():
    if connection.vendor == "sqlite":
        pytest.skip("the test database is SQLite")

    assert sqlite_write(lambda db: db is connections["default"])
