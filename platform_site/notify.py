"""Wake-ups over Redis pub/sub, so held requests never poll at a fixed interval.

PostgreSQL stays the truth: a waiter re-checks the database after each wake-up
(and every `recheck_s` in case a message was missed), so a lost notification
costs latency, never correctness.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

import redis

from platform_site.draining import is_draining
from platform_site.health import redis_client

logger = logging.getLogger(__name__)


def channel_for(kind: str, key: object) -> str:
    return f"platform:{kind}:{key}"


def publish(channel: str) -> None:
    """Best effort: a broker hiccup must not fail the write that triggered it."""
    try:
        redis_client().publish(channel, "1")
    except redis.RedisError:
        logger.warning("Could not publish %s", channel)


def wait_until(
    channel: str, done: Callable[[], bool], *, timeout_s: float, recheck_s: float = 1.0
) -> bool:
    """Block until done() is true or timeout_s passes; return done()'s last value.

    A process that is stopping (platform_site/draining.py) stops holding at
    the next look, at most `recheck_s` later.
    """
    deadline = time.monotonic() + timeout_s
    try:
        pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel)
    except redis.RedisError:
        pubsub = None
    try:
        while True:
            if done():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or is_draining():
                return False
            wait = min(recheck_s, remaining)
            if pubsub is None:
                time.sleep(wait)
                continue
            try:
                pubsub.get_message(timeout=wait)
            except redis.RedisError:
                pubsub = None
    finally:
        if pubsub is not None:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()
