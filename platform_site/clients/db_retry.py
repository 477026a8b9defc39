"""Database writes that must survive a blip (a restart, a failover, a killed backend).

A pooled connection can be dead when it is used (PostgreSQL restarted since
it was checked); the write is then retried on a fresh one for a while, so a
function that finished never loses its outputs to a one-second restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The connection (or the server) went away: worth a new connection and another try.
# Anything else (IntegrityError, a bug) is not a blip and is raised at once.
DATABASE_BLIPS = (OperationalError, InterfaceError)
RETRY_FOR_S = 120.0
FIRST_DELAY_S = 0.1
MAX_DELAY_S = 2.0


def db_retry(
    fn: Callable[[], T],
    *,
    what: str,
    for_s: float = RETRY_FOR_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call fn(); on a lost connection, reconnect and call it again, for up to `for_s`.

    fn must be safe to run twice: each of ours is a conditional UPDATE.
    Inside a transaction nothing can be retried, so the error is raised.
    """
    deadline = time.monotonic() + for_s
    delay = FIRST_DELAY_S
    while True:
        try:
            return fn()
        except DATABASE_BLIPS as exc:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "Database unavailable while %s (%s); retrying in %.1f s",
                what,
                str(exc).strip().splitlines()[0] if str(exc).strip() else exc,
                delay,
            )
            # Hands the broken connection back (the pool drops it); the next
            # query takes a checked one.
            connection.close()
            sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
