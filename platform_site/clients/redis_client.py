"""The platform's Redis client (wake-ups, heartbeats, queues of pods, rate limits)."""

from __future__ import annotations

import redis
from django.conf import settings

from platform_site.clients.per_process import per_process


def redis_client() -> redis.Redis:
    """One pooled client per process and REDIS_URL."""
    url = settings.REDIS_URL
    return per_process(
        ("redis", url),
        lambda: redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5),
    )
