"""Wake-ups over Redis: a watch registered before the change never misses it."""

from __future__ import annotations

import threading
import uuid

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
