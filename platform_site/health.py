"""Liveness of the parts `make run` starts: database, broker, worker, scheduler."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection

HEARTBEAT_KEY = "platform:heartbeat:{part}"
HEARTBEAT_TTL_S = 15


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5
    )


def beat(part: str, client: redis.Redis | None = None) -> None:
    """Called by long-running processes (worker, scheduler) every few seconds."""
    (client or redis_client()).set(
        HEARTBEAT_KEY.format(part=part), str(time.time()), ex=HEARTBEAT_TTL_S
    )


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "down"
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def _check_part(client: redis.Redis, part: str) -> str | None:
    if client.get(HEARTBEAT_KEY.format(part=part)) is None:
        return f"no {part} has reported in the last {HEARTBEAT_TTL_S} s"
    return None


def check_all() -> dict:
    parts: dict[str, str] = {}
    problems: list[str] = []
    db_problem = _check_database()
    parts["database"] = db_problem or "ok"
    try:
        client = redis_client()
        client.ping()
        parts["broker"] = "ok"
        for part in ("worker", "scheduler"):
            problem = _check_part(client, part)
            parts[part] = problem or "ok"
    except redis.RedisError as exc:
        parts["broker"] = f"broker unreachable: {exc.__class__.__name__}"
        parts["worker"] = parts["scheduler"] = "unknown: broker is down"
    problems = [f"{name}: {state}" for name, state in parts.items() if state != "ok"]
    return {
        "status": "ok" if not problems else "down",
        "parts": parts,
        "message": "All parts answer." if not problems else "; ".join(problems),
        "name": "Healthy" if not problems else "Unavailable",
    }
