"""The database work of async views, on a few long-lived threads that keep their connections.

Django runs each sync call of an ASGI request on a thread of that request,
which opens a database connection and closes it again: on SQLite a file
open and its PRAGMAs, on PostgreSQL a checkout from the pool, for every
call. These threads keep theirs between calls; a connection that failed is
closed, so that the next call opens a fresh one.

With PLATFORM_DB_THREADS=0 (in-process tests, whose database is one
transaction on the test's thread) calls run through Django's own
sync_to_async instead.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from platform_site.clients.db_retry import DATABASE_BLIPS
from platform_site.clients.per_process import per_process

P = ParamSpec("P")
T = TypeVar("T")


def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=settings.DB_THREADS, thread_name_prefix="db-thread"
    )


def _on_kept_connection(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return fn(*args, **kwargs)
    except DATABASE_BLIPS:
        connection.close()  # broken or in doubt: the next call reconnects
        raise
    finally:
        if connection.in_atomic_block:  # never left open by a caller: a bug
            connection.close()


async def in_db_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """fn(*args, **kwargs) on a database thread, awaited."""
    if not settings.DB_THREADS:
        return await sync_to_async(fn)(*args, **kwargs)
    executor = per_process("db-threads", _threads)
    call = functools.partial(_on_kept_connection, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(executor, call)
