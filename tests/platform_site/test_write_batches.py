"""Group commit of concurrent async writers (platform_site/clients/write_batches.py), on real database threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

from platform_site.clients.write_batches import WriteBatches


class Refused(Exception):
    pass


class Writes:
    """A write that records its batches; the first waits until `release` (a write in flight)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.release = threading.Event()
        self.entered = threading.Event()

    def __call__(self, items: list[int]) -> list[int | Exception]:
        self.entered.set()
        if not self.batches:
            assert self.release.wait(10)
        self.batches.append(items)
        self.threads.add(threading.current_thread().name)
        if 666 in items and len(items) > 1:
            raise RuntimeError("the whole batch failed")
        return [Refused(item) if item < 0 else item * 10 for item in items]


async def _callers(batches: WriteBatches, writes: Writes, items: list[int]):
    first = asyncio.ensure_future(batches(items[0]))
    while not writes.entered.is_set():  # the first is being written
        await asyncio.sleep(0.005)
    others = [asyncio.ensure_future(batches(item)) for item in items[1:]]
    await asyncio.sleep(0.05)  # all queued behind the write in flight
    writes.release.set()
    return await asyncio.gather(first, *others, return_exceptions=True)


@pytest.fixture
def database_threads(settings):
    settings.DB_THREADS = 4  # one write in flight all the same


def test_callers_that_come_while_a_write_is_in_flight_are_written_together(
    database_threads,
):
    writes = Writes()
    results = asyncio.run(_callers(WriteBatches(writes), writes, [1, 2, 3, 4, 5]))

    assert results == [10, 20, 30, 40, 50]
    assert writes.batches == [[1], [2, 3, 4, 5]]
    assert all(name.startswith("db-thread") for name in writes.threads)


def test_a_caller_alone_is_written_at_once(database_threads):
    writes = Writes()
    writes.release.set()

    async def one_by_one():
        batches = WriteBatches(writes)
        return [await batches(item) for item in (1, 2, 3)]

    assert asyncio.run(one_by_one()) == [10, 20, 30]
    assert writes.batches == [[1], [2], [3]]


def test_what_fails_one_caller_is_raised_to_that_caller_only(database_threads):
    writes = Writes()
    results = asyncio.run(_callers(WriteBatches(writes), writes, [1, 2, -3, 4]))

    assert results[:2] == [10, 20] and results[3] == 40
    assert isinstance(results[2], Refused)


def test_a_write_that_raises_fails_its_whole_batch_and_no_other(database_threads):
    writes = Writes()
    results = asyncio.run(_callers(WriteBatches(writes), writes, [1, 2, 666]))

    assert results[0] == 10
    assert all(isinstance(r, RuntimeError) for r in results[1:])


def test_a_batch_holds_at_most_its_size(database_threads):
    writes = Writes()
    asyncio.run(_callers(WriteBatches(writes, most=2), writes, [1, 2, 3, 4, 5]))

    assert writes.batches == [[1], [2, 3], [4, 5]]


def test_without_database_threads_each_caller_is_written_alone(settings):
    settings.DB_THREADS = 0
    writes = Writes()
    writes.release.set()

    async def together():
        batches = WriteBatches(writes)
        return await asyncio.gather(*(batches(item) for item in (1, 2, 3)))

    assert asyncio.run(together()) == [10, 20, 30]
    assert sorted(writes.batches) == [[1], [2], [3]]
