"""Liveness of the parts `make run` starts: database, broker, worker, scheduler, sweeper.

Long-running processes call `beat(part)` every few seconds; a heartbeat key
expires after HEARTBEAT_TTL_S, so a dead or frozen process shows up as down
without anyone having to notice its death.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection

from platform_site.clients.redis_client import redis_client
from platform_site.http.disk import data_dir_free_mib
from platform_site.operations.roles import node_name, own_roles

HEARTBEAT_KEY = "platform:heartbeat:{part}"
# One key per part and machine, so /healthz can name who is alive where.
NODE_KEY = "platform:node:{part}:{node}"
HEARTBEAT_TTL_S = 15
# The processes that must have beaten within HEARTBEAT_TTL_S for /healthz to be 200.
BEATING_PARTS = ("worker", "scheduler", "sweeper")
# Listed by host in /healthz when they beat, never required: a platform with
# no low-latency deployment needs no pod host.
REPORTED_PARTS = (*BEATING_PARTS, "pods")


def beat(part: str, client: redis.Redis | None = None) -> None:
    """Called by long-running processes (worker, scheduler, sweeper) every few seconds."""
    client = client or redis_client()
    now = str(time.time())
    with client.pipeline(transaction=False) as pipe:
        pipe.set(HEARTBEAT_KEY.format(part=part), now, ex=HEARTBEAT_TTL_S)
        pipe.set(NODE_KEY.format(part=part, node=node_name()), now, ex=HEARTBEAT_TTL_S)
        pipe.execute()


def live_nodes(client: redis.Redis) -> dict[str, list[dict]]:
    """{part: [{"host", "seen_s_ago"}]} of every machine whose part beat within the TTL."""
    found: dict[str, list[dict]] = {part: [] for part in REPORTED_PARTS}
    now = time.time()
    for part in REPORTED_PARTS:
        prefix = NODE_KEY.format(part=part, node="")
        keys = sorted(client.scan_iter(match=f"{prefix}*", count=500))
        for key, value in zip(keys, client.mget(keys) if keys else [], strict=True):
            if value is None:  # expired between the scan and the read
                continue
            found[part].append(
                {
                    "host": key.decode()[len(prefix) :],
                    "seen_s_ago": round(max(0.0, now - float(value)), 1),
                }
            )
    return found


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
    """{"status": "ok"|"down", "parts": {part: "ok"|problem}, "message", "name"}."""
    parts: dict[str, str] = {}
    nodes: dict[str, list[dict]] = {}
    db_problem = _check_database()
    parts["database"] = db_problem or "ok"
    try:
        client = redis_client()
        client.ping()
        parts["broker"] = "ok"
        for part in BEATING_PARTS:
            problem = _check_part(client, part)
            parts[part] = problem or "ok"
        nodes = live_nodes(client)
    except redis.RedisError as exc:
        parts["broker"] = f"broker unreachable: {exc.__class__.__name__}"
        for part in BEATING_PARTS:
            parts[part] = "unknown: broker is down"
    problems = [f"{name}: {state}" for name, state in parts.items() if state != "ok"]
    report = {
        "status": "ok" if not problems else "down",
        "parts": parts,
        "message": "All parts answer." if not problems else "; ".join(problems),
        "name": "Healthy" if not problems else "Unavailable",
        # What this machine's runplatform owns; what is alive anywhere, by host.
        "node": {"host": node_name(), "roles": list(own_roles())},
        "nodes": nodes,
    }
    for contribute in _reports:
        contribute(report)
    _add_degradations(report, database_up=db_problem is None)
    return report


# What later apps add to every report (the sandbox's state and warnings),
# registered in their AppConfig.ready(): a function that updates the report.
_reports: list[Callable[[dict], None]] = []


def register_report(contribute: Callable[[dict], None]) -> None:
    """Let `contribute(report)` add its keys (and its "warnings") to every /healthz report."""
    if contribute not in _reports:
        _reports.append(contribute)


# Checks of later apps (the pods'), registered in their AppConfig.ready():
# {report key: a function returning a dict with "problems", a list of lines}.
_checks: dict[str, Callable[[], dict]] = {}


def register_check(key: str, check: Callable[[], dict]) -> None:
    """Add `check()`'s report to /healthz under `key`; its problems make it degraded."""
    _checks[key] = check


def _add_degradations(report: dict, *, database_up: bool) -> None:
    """What still works but needs an operator: a disk running full, low-latency calls waiting.

    "degraded" answers 200 (the platform serves) with the problems named.
    """
    free_mib = data_dir_free_mib()
    report["disk"] = {
        "free_mib": free_mib,
        "min_free_mib": settings.DISK_MIN_FREE_MIB,
    }
    problems = []
    if free_mib < settings.DISK_MIN_FREE_MIB:
        problems.append(
            f"disk: {free_mib} MiB free for the data dir, under "
            f"PLATFORM_DISK_MIN_FREE_MIB={settings.DISK_MIN_FREE_MIB}"
        )
    if database_up:
        for key, check in _checks.items():
            found = check()
            report[key] = {k: v for k, v in found.items() if k != "problems"}
            problems += [f"{key}: {problem}" for problem in found["problems"]]
    if problems and report["status"] == "ok":
        report.update(status="degraded", name="Degraded", message="; ".join(problems))
    if problems:
        report["degraded"] = problems
