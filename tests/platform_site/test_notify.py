"""Wake-ups over Redis: a watch registered before the change never misses it."""

from __future__ import annotations

import threading
import uuid

import pytest

from platform_site.http import notify


def test_a_message_sent_before_the_hold_still_ends_it_without_an_early_look():
    channel = notify.channel_for("test", uuid.uuid4().hex)
    looks = []

    with notify.watching(channel) as watched:
        notify.publish(channel)  # the work ends before the caller starts holding
        assert watched.wait(5)
        ended = notify.wait_until(
            channel, lambda: looks.append(1) or True, timeout_s=5, watched=watched
        )

    assert ended is True
    assert looks == [1]  # one look, once woken


def test_a_watched_hold_looks_only_when_woken():
    channel = notify.channel_for("test", uuid.uuid4().hex)
    state = {"done": False, "looks": 0}

    def done() -> bool:
        state["looks"] += 1
        return state["done"]

    def finish_later() -> None:
        state["done"] = True
        notify.publish(channel)

    with notify.watching(channel) as watched:
        threading.Timer(0.2, finish_later).start()
        ended = notify.wait_until(channel, done, timeout_s=5, watched=watched)

    assert ended is True
    assert state["looks"] == 1


def test_an_unwatched_hold_looks_first():
    channel = notify.channel_for("test", uuid.uuid4().hex)

    assert notify.wait_until(channel, lambda: True, timeout_s=5) is True


def test_a_listener_of_some_kinds_gets_their_messages_only():
    """A pod host's listener (listen_only) is not handed every other announcement."""
    kind, other = f"kept-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    narrow = notify.Listener(frozenset({kind}))
    assert narrow.subscribed.wait(5)
    wanted = narrow.watch(notify.channel_for(kind, "changed"))
    got: list[str] = []
    real_wake = narrow._wake
    narrow._wake = lambda channel, data: (got.append(channel), real_wake(channel, data))

    notify.publish(notify.channel_for(other, "x"))
    notify.publish(notify.channel_for(kind, "changed"))

    assert wanted.wait(5)
    assert got == [
        notify.channel_for(kind, "changed")
    ]  # in order: the other never came
    with pytest.raises(ValueError, match="listens only"):
        narrow.watch(notify.channel_for(other, "x"), wait=False)


def test_the_kinds_are_chosen_before_the_listener_starts():
    notify.listener()
    with pytest.raises(RuntimeError, match="started already"):
        notify.listen_only("environment-variables")
