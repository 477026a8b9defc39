"""What the sweeper does: reap silent Running executions, re-send Pending ones whose message is gone.

PostgreSQL is the ledger and Redis only carries messages, so a message can
vanish (FLUSHALL, a Redis restart without persistence, a publish that
failed) while its row says Pending. Every change here is a conditional
UPDATE, so several sweepers may run side by side, and a duplicate message is
harmless: the worker's claim (Pending -> Running) lets one delivery win.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from executions.models import Execution, ExecutionStatus
from executions.services.lifecycle import (
    execution_channel,
    execution_enqueue,
)
from platform_site.http import notify

# A message may wait this long in a healthy queue before it is sent again anyway
# (a worker killed with a message reserved; Redis keeps it unacked for an hour).
REQUEUE_AFTER_S = 30
REQUEUE_BATCH = 500
# Kept in the broker's own database: it disappears exactly when the messages do.
BROKER_EPOCH_KEY = "platform:broker-epoch"
# What the reaper knows, no more: the worker may be dead, frozen or cut off.
NO_HEARTBEAT_REASON = (
    "No heartbeat for {seconds} s: the worker or pod host running it stopped "
    "reporting (dead, frozen or cut off from the database); the function may not "
    "have finished"
)


def executions_reap_lost(*, now: datetime | None = None) -> int:
    """Running executions whose worker stopped heartbeating become Error. Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.HEARTBEAT_TIMEOUT_S)
    stale = Execution.objects.filter(status=ExecutionStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=cutoff)
    )
    reaped = 0
    for execution in stale.only("pk", "heartbeat_at", "started_at", "created_at"):
        last = execution.heartbeat_at or execution.started_at or execution.created_at
        silent_s = int((now - last).total_seconds())
        # Conditional on the heartbeat we read: a worker that beat meanwhile wins.
        updated = Execution.objects.filter(
            pk=execution.pk,
            status=ExecutionStatus.RUNNING,
            heartbeat_at=execution.heartbeat_at,
        ).update(
            status=ExecutionStatus.ERROR,
            status_reason=NO_HEARTBEAT_REASON.format(seconds=silent_s),
            end_date=now,
        )
        if updated:
            reaped += 1
            notify.publish(execution_channel(execution))
    return reaped


def broker_lost_messages(client: redis.Redis) -> bool:
    """True, to one sweeper, once after the broker lost its data (flushed or restarted bare).

    The epoch key is written when missing; when it is missing again, every
    message queued before was lost with it. Also True at the first sweep of
    a new broker: re-sending what is Pending then costs duplicates only.
    """
    if client.exists(BROKER_EPOCH_KEY):
        return False
    return bool(client.set(BROKER_EPOCH_KEY, secrets.token_hex(8), nx=True))


def executions_requeue_pending(
    *, now: datetime | None = None, broker_lost: bool = False
) -> int:
    """Re-send Pending executions whose broker message is lost. Returns how many.

    Sent again: those marked unsent (the publish failed, or the database
    interrupted their run before user code started), every Pending one when
    the broker lost its messages, and any waiting past REQUEUE_AFTER_S.
    """
    now = now or timezone.now()
    # Low-latency executions are the pod host's to find (deployments/pods/runner.py), never Celery's.
    waiting = Execution.objects.filter(status=ExecutionStatus.PENDING).exclude(
        deployment__mode="low_latency"
    )
    sent_before = now if broker_lost else now - timedelta(seconds=REQUEUE_AFTER_S)
    waiting = waiting.filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=sent_before)
    )
    requeued = 0
    for execution in waiting.only("pk", "enqueued_at")[:REQUEUE_BATCH]:
        bumped = Execution.objects.filter(
            pk=execution.pk,
            status=ExecutionStatus.PENDING,
            enqueued_at=execution.enqueued_at,
        ).update(enqueued_at=now)
        if bumped:
            execution_enqueue(str(execution.pk))
            requeued += 1
    return requeued
