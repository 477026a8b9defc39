"""Wake-ups over Redis pub/sub, so held requests never poll at a fixed interval.

PostgreSQL stays the truth: a waiter re-checks the database after each wake-up
(and every `recheck_s` in case a message was missed), so a lost notification
costs latency, never correctness.

One listener thread per process holds one subscription to every platform
channel (a pattern) and wakes the waiters of the channel a message names: a
held request costs no Redis connection, SUBSCRIBE or UNSUBSCRIBE of its own.
A process that waits on few kinds of channel says so (listen_only): a pod
host is not handed every endpoint call's announcement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

import redis

from platform_site.clients.redis_client import redis_client
from platform_site.http.draining import is_draining

logger = logging.getLogger(__name__)

PATTERN = "platform:*"
# How long a first waiter waits for the listener to subscribe before it relies
# on its periodic re-checks alone.
SUBSCRIBE_WAIT_S = 1.0
RECONNECT_PAUSE_S = 1.0


def channel_for(kind: str, key: object) -> str:
    return f"platform:{kind}:{key}"


def _kind_of(channel: str) -> str:
    return channel.split(":", 2)[1]


def publish(channel: str, data: str = "1") -> None:
    """Best effort: a broker hiccup must not fail the write that triggered it.

    `data` travels to the channel's async watchers (AsyncWatch.data); thread
    waiters only wake up.
    """
    try:
        redis_client().publish(channel, data)
    except redis.RedisError:
        logger.warning("Could not publish %s", channel)


class AsyncWatch:
    """What a coroutine awaits on a channel: set from the listener's thread, with the message's data.

    `data` keeps the last message that carried more than a wake-up ("1"),
    so a waiter that was busy when it came still finds it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        self.data: str | None = None

    def set(self, data: str | None = None) -> None:
        """Thread-safe: called by the listener thread."""
        self.loop.call_soon_threadsafe(self._set, data)

    def _set(self, data: str | None) -> None:
        if data is not None and data != "1":
            self.data = data
        self.event.set()

    async def wait(self, seconds: float) -> None:
        """Until the next message or `seconds`, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)
        self.event.clear()


class Listener:
    """The process's one subscription; waiters register an Event per channel.

    `kinds`: the only kinds of channel it subscribes to (None: every one).
    """

    def __init__(self, kinds: frozenset[str] | None = None) -> None:
        self.kinds = kinds
        self.patterns = (
            [PATTERN] if kinds is None else [channel_for(k, "*") for k in sorted(kinds)]
        )
        self.waiters: dict[str, set[threading.Event | AsyncWatch]] = {}
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self.thread.start()

    def watch(self, channel: str, *, wait: bool = True) -> threading.Event:
        """An event set by every message on `channel`; with `wait`, once subscribed (at most SUBSCRIBE_WAIT_S)."""
        self._check(channel)
        event = threading.Event()
        with self.lock:
            self.waiters.setdefault(channel, set()).add(event)
        if wait:
            self.subscribed.wait(SUBSCRIBE_WAIT_S)
        return event

    def add(self, channel: str, watch: AsyncWatch) -> None:
        """Register a coroutine's watch (from any thread); it never waits for the subscription."""
        self._check(channel)
        with self.lock:
            self.waiters.setdefault(channel, set()).add(watch)

    def _check(self, channel: str) -> None:
        if self.kinds is not None and _kind_of(channel) not in self.kinds:
            raise ValueError(
                f"This process listens only to {sorted(self.kinds)}: {channel}"
            )

    def forget(self, channel: str, event: threading.Event | AsyncWatch) -> None:
        with self.lock:
            events = self.waiters.get(channel)
            if events is not None:
                events.discard(event)
                if not events:
                    del self.waiters[channel]

    def _run(self) -> None:
        while True:
            try:
                self._listen()
            except redis.RedisError as exc:
                logger.warning("Wake-up listener lost Redis (%s); reconnecting", exc)
            self.subscribed.clear()
            self._wake_everyone()  # they re-check the database while we reconnect
            time.sleep(RECONNECT_PAUSE_S)

    def _listen(self) -> None:
        pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe(*self.patterns)
            while True:
                # get_message polls with a timeout: an idle subscription is not an error.
                message = pubsub.get_message(timeout=1.0)
                if not self.subscribed.is_set() and pubsub.subscribed:
                    self.subscribed.set()
                    # What changed while we were away was not announced to anyone.
                    self._wake_everyone()
                if message is not None:
                    self._wake(
                        message["channel"].decode("utf-8", "replace"),
                        message["data"].decode("utf-8", "replace"),
                    )
        finally:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()

    def _wake(self, channel: str, data: str) -> None:
        with self.lock:
            events = list(self.waiters.get(channel, ()))
        for event in events:
            if isinstance(event, AsyncWatch):
                event.set(data)
            else:
                event.set()

    def _wake_everyone(self) -> None:
        with self.lock:
            events = [e for events in self.waiters.values() for e in events]
        for event in events:
            event.set()


_listeners: dict[int, Listener] = {}
_listeners_lock = threading.Lock()
_kinds: frozenset[str] | None = None


def listen_only(*kinds: str) -> None:
    """This process waits only on channels of these kinds; before its listener starts."""
    global _kinds
    with _listeners_lock:
        if os.getpid() in _listeners:
            raise RuntimeError("The listener of this process has started already.")
        _kinds = frozenset(kinds)


def listener() -> Listener:
    """This process's listener, started on first use (a forked child gets its own)."""
    pid = os.getpid()
    with _listeners_lock:
        if pid not in _listeners:
            _listeners[pid] = Listener(_kinds)
        return _listeners[pid]


@contextlib.contextmanager
def watching(channel: str) -> Iterator[threading.Event]:
    """An event set by every message on `channel` while the block runs.

    Registered before the change it waits for is sent (e.g. inside the
    transaction whose commit sends the work), no message can be missed.
    """
    hub = listener()
    event = hub.watch(channel)
    try:
        yield event
    finally:
        hub.forget(channel, event)


def wait_until(
    channel: str,
    done: Callable[[], bool],
    *,
    timeout_s: float,
    recheck_s: float = 1.0,
    watched: threading.Event | None = None,
) -> bool:
    """Block until done() is true or timeout_s passes; return done()'s last value.

    With `watched` (from watching(), registered before the change was sent)
    the first look waits for a message instead of reading at once.
    A process that is stopping (platform_site/http/draining.py) stops holding at
    the next look, at most `recheck_s` later.
    """
    deadline = time.monotonic() + timeout_s
    with contextlib.ExitStack() as stack:
        # Registered before the first look: a message sent in between still wakes us.
        event = watched or stack.enter_context(watching(channel))
        if watched is not None:
            _wait(event, min(recheck_s, timeout_s))
        while True:
            if done():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or is_draining():
                return False
            _wait(event, min(recheck_s, remaining))


def _wait(event: threading.Event, seconds: float) -> None:
    event.wait(seconds)
    event.clear()
