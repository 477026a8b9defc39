"""The threads a parallel deployment's executions run on, and when a run keeps its database connection.

A thread per execution opened a database connection per execution: on
SQLite a file open and its PRAGMAs. These threads live on, and on SQLite
keep their connection from one execution to the next (closed after
IDLE_CLOSE_S without work). On PostgreSQL a checkout from the pool costs a
round trip (its health check), so the first KEEPING_THREADS threads of a
deployment keep theirs too, and the others keep theirs while the pool could
still serve someone else at once (a free connection or room to open one,
nobody waiting); otherwise they give theirs back after each run: the pool is
shared by every deployment of the host, however wide (a parallel deployment
of 50 on a pool of 10). A host whose busy deployments keep more than its
pool holds (PLATFORM_DB_POOL_SIZE) makes the others wait for one; a run that
waits past the pool's timeout is handed back, never lost. A run longer than
KEEP_CONNECTION_S gives its connection back while it runs.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from django.db import connection

logger = logging.getLogger(__name__)

IDLE_CLOSE_S = 1.0
# Threads of a deployment that keep a PostgreSQL connection between runs.
KEEPING_THREADS = 2


class RunThreads:
    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self.work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        """Run job() on one of the threads (the caller holds one of `size` slots)."""
        with self.lock:
            if not self.threads:
                for number in range(self.size):
                    thread = threading.Thread(
                        target=self._serve,
                        args=(number < KEEPING_THREADS,),
                        name=f"{self.name} #{number}",
                        daemon=True,
                    )
                    thread.start()
                    self.threads.append(thread)
        self.work.put(job)

    def stop(self) -> None:
        with self.lock:
            for _ in self.threads:
                self.work.put(None)
            self.threads = []

    def _serve(self, keeping: bool) -> None:
        try:
            while True:
                try:
                    job = self.work.get(timeout=IDLE_CLOSE_S)
                except queue.Empty:
                    connection.close()
                    continue
                if job is None:
                    return
                try:
                    job()
                except Exception:
                    # A job settles its own execution; the thread must live on.
                    logger.exception("%s: a run failed", self.name)
                finally:
                    connection_after_run(keep=keeping)
        finally:
            connection.close()


def connection_after_run(*, keep: bool) -> None:
    """Kept on SQLite (no pool, costly to reopen), when `keep`, or while the
    pool has room for others; back to the pool otherwise."""
    if keep or connection.vendor == "sqlite" or _pool_has_room():
        return
    connection.close()


def _pool_has_room() -> bool:
    pool = getattr(connection, "pool", None)
    if pool is None:  # no pool: each close is a disconnect, each open a connect
        return False
    stats: dict[str, int] = pool.get_stats()
    return stats.get("requests_waiting", 0) == 0 and (
        stats["pool_available"] > 0 or stats["pool_size"] < stats["pool_max"]
    )
