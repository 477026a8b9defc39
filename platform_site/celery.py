from __future__ import annotations

import contextlib
import os

import kombu.transport
from celery import Celery
from celery.signals import worker_ready
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")


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


# Every Redis broker URL (redis://, rediss://, redis+socket://) resolves to
# the transport named "redis"/"rediss": point those names at ours.
for _name in ("redis", "rediss"):
    if kombu.transport.TRANSPORT_ALIASES.get(_name, "").startswith(
        "kombu.transport.redis:"
    ):
        kombu.transport.TRANSPORT_ALIASES[_name] = f"{__name__}:RedisTransport"
        kombu.transport._transport_cache.pop(_name, None)

app = Celery("platform_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def start_worker_heartbeat(**kwargs) -> None:
    """/healthz reports the worker as up while this beats."""
    import contextlib
    import threading
    import time

    from executions.worker import stop_watcher
    from platform_site import health, liveness

    def loop() -> None:
        while True:
            # The broker may be briefly away; keep beating.
            with contextlib.suppress(Exception):
                health.beat("worker")
            time.sleep(5)

    threading.Thread(target=loop, name="worker-heartbeat", daemon=True).start()
    liveness.touch_forever()
    stop_watcher()
