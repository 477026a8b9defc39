"""The worker's broker channel closes cleanly when Redis goes away mid-BRPOP.

What Celery does when Redis restarts under a consuming worker with tasks in
flight: Connection.collect() (close the channel, detach the transport), then
Connection.close(). With kombu's own Redis transport the second close raises
AttributeError ('NoneType' object has no attribute 'hostname') and the worker
shuts down instead of reconnecting (test_redis_faults.py's burst drill).
"""

from __future__ import annotations

import contextlib

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis

from platform_site.clients.redis_broker import RedisTransport
from tests.faults.services import drop_redis, start_redis


@pytest.fixture
def redis_server():
    server = start_redis()
    try:
        yield server
    finally:
        drop_redis(server)


def connection_lost_mid_brpop(url: str, transport=None) -> Connection:
    """A connection holding an unacked message and a BRPOP in flight."""
    conn = Connection(url, transport=transport)
    channel = conn.default_channel
    queue = Queue("q", Exchange("q", type="direct"), "q")
    queue(channel).declare()
    conn.Producer(channel).publish({"n": 1}, exchange=queue.exchange, routing_key="q")
    message = channel.basic_get("q", no_ack=False)  # delivered, not acked
    assert message is not None
    channel.basic_consume("q", False, lambda message: None, "tag")
    conn.transport.cycle._register_BRPOP(channel)  # what the worker's hub does
    assert channel._in_poll
    # The remote-control (pidbox) channel: an auto-delete fanout queue, which
    # its close deletes (and cannot, with Redis gone) before the task channel's.
    box = conn.channel()
    box_queue = Queue("box", Exchange("box", type="fanout"), auto_delete=True)
    box_queue(box).declare()
    box.basic_consume("box", True, lambda message: None, "box-tag")
    assert box.client is not None
    return conn


def collect_then_close(conn: Connection, server) -> None:
    """celery.worker.consumer.Consumer.on_connection_error_after_connected."""
    server.stop()
    with contextlib.suppress(Exception):  # as Celery does
        conn.collect(socket_timeout=1)
    conn.close()  # Celery's ignore_errors: only connection and channel errors


def test_kombus_own_transport_raises_attribute_error(redis_server):
    """The upstream bug the platform's transport works around (kombu 5.7).

    Fails once kombu fixes it: then platform_site/clients/redis_broker.py can go.
    """
    conn = connection_lost_mid_brpop(redis_server.url, transport=kombu_redis.Transport)
    assert type(conn.default_channel) is kombu_redis.Channel
    with pytest.raises(AttributeError, match="hostname"):
        collect_then_close(conn, redis_server)


def test_platform_transport_closes_and_acks_raise_connection_errors(redis_server):
    conn = connection_lost_mid_brpop(redis_server.url)
    assert isinstance(conn.transport, RedisTransport)
    channel = conn.default_channel
    collect_then_close(conn, redis_server)
    assert channel.closed
    # A task thread acking late: a connection error, which Celery logs.
    with pytest.raises(conn.connection_errors):
        channel.qos.ack("some-delivery-tag")
