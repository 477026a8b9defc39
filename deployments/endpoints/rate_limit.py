"""Calls per minute per endpoint deployment, counted in Redis (a fixed one-minute window).

Every web machine shares the count; a Redis outage lets calls through rather
than refusing them (the limit protects capacity, it is not authentication).
"""

from __future__ import annotations

import logging
import time

import redis

from deployments.models import Deployment
from platform_site.clients.redis_client import redis_client
from platform_site.http.errors import ApiError

logger = logging.getLogger(__name__)

WINDOW_S = 60


class RateLimited(ApiError):
    status = 429
    name = "TooManyRequests"

    def __init__(self, message: str, *, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def endpoint_rate_limit_check(
    deployment: Deployment, *, now: float | None = None
) -> None:
    """Count this call; RateLimited (429, Retry-After) past the deployment's limit."""
    limit = deployment.calls_per_minute
    if not limit:
        return
    now = time.time() if now is None else now
    window = int(now // WINDOW_S)
    key = f"platform:endpoint-calls:{deployment.pk}:{window}"
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_S * 2)
        count, _ = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("Rate limit not checked for %s: %s", deployment.name, exc)
        return
    if count > limit:
        retry_after = max(1, int((window + 1) * WINDOW_S - now + 0.999))
        raise RateLimited(
            f"Deployment '{deployment.name}' accepts {limit} call"
            f"{'s' if limit != 1 else ''} per minute. Try again in {retry_after} s.",
            retry_after_s=retry_after,
        )
