"""kombu's Redis transport, closing cleanly when Redis goes away under a busy worker.

Every Redis broker URL (redis://, rediss://, redis+socket://) resolves to the
transport kombu names "redis"/"rediss"; use_for_redis_urls() points those
names at ours. tests/faults/test_broker_channel_close.py fails once kombu
fixes the bug: this module can then go.
"""

from __future__ import annotations

import contextlib

import kombu.transport
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, closing cleanly when Redis went away mid-BRPOP.

    When Redis restarts under a worker with tasks in flight, Celery collects
    the broken connection (kombu's Connection.collect: close the task channel
    and the others, then detach the transport from the connection), then
    closes it. With kombu 5.7 the task channel's close stops at the BRPOP in
    flight (reading it raises), closing the others stops at the remote-control
    channel (its fanout queue cannot be deleted), and the transport is detached
    anyway. The second close then restores the unacked messages through a new
    Redis pool of a detached transport, and kombu's _connparams raises
    AttributeError ('NoneType' object has no attribute 'hostname'): not a
    connection error, so it escapes Celery's reconnect path and the worker
    shuts down ("Unrecoverable error") instead of reconnecting. An ack from a
    task thread finishing after the detach fails the same way.
    """

    def close(self) -> None:
        if self._in_poll and not self.closed:
            # The reply of that BRPOP is lost with its connection; carry on
            # closing (kombu's _brpop_read resets _in_poll whatever happens).
            with contextlib.suppress(kombu_redis.Empty, *self.connection_errors):
                self._brpop_read()
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict:
        if getattr(self.connection, "client", None) is None:
            # Its connection was closed: a connection error, which every
            # caller (restore, ack, reconnect) knows how to handle.
            raise RedisConnectionError(
                "the broker connection of this channel is closed"
            )
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


def use_for_redis_urls() -> None:
    """Every Redis broker URL of this process gets RedisTransport."""
    for name in ("redis", "rediss"):
        if kombu.transport.TRANSPORT_ALIASES.get(name, "").startswith(
            "kombu.transport.redis:"
        ):
            kombu.transport.TRANSPORT_ALIASES[name] = f"{__name__}:RedisTransport"
            kombu.transport._transport_cache.pop(name, None)
