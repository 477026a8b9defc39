"""Pods: the delivery queue of low-latency executions, claims across pod hosts, pod logs and statuses.

The web process and the pod host share only PostgreSQL and Redis: an
execution row is written Pending in the request's transaction, and its pk
is pushed on the deployment's Redis list once committed. The list is a
wake-up with the order of arrival; the row stays the truth (a pod host also
picks up Pending rows whose message was lost).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments.models import (
    Deployment,
    DeploymentMode,
    DeploymentStatus,
    Pod,
    PodLog,
    PodStatus,
)
from executions.models import Execution, ExecutionStatus, RunnerKind
from executions.services.runners import runner_beat, runner_name
from platform_site.clients.redis_client import redis_client
from platform_site.http import notify

logger = logging.getLogger(__name__)


def pod_queue_key(deployment_pk) -> str:
    return f"platform:{settings.CELERY_TASK_DEFAULT_QUEUE}:pods:{deployment_pk}"


def pod_enqueue(*, execution_pk: str, deployment_pk, first: bool = False) -> None:
    """Best effort: a lost push is found by the pod host's scan of Pending rows.

    The pod host pops from the right: `first` puts the execution next in line.
    """
    client = redis_client()
    push = client.rpush if first else client.lpush
    try:
        push(pod_queue_key(deployment_pk), execution_pk)
    except redis.RedisError:
        logger.warning("Could not push execution %s to its pod", execution_pk)


def pod_route(executions: list[Execution]) -> list[Execution]:
    """executions/routing.py: low-latency executions go to their pod hosts (one
    round trip to Redis for all), never through Celery; the others are returned."""
    others, pushes = [], []
    for execution in executions:
        deployment = execution.deployment
        if deployment is None or deployment.mode != DeploymentMode.LOW_LATENCY:
            others.append(execution)
        else:
            pushes.append((pod_queue_key(deployment.pk), str(execution.pk)))
    if not pushes:
        return others
    # Best effort, as pod_enqueue.
    try:
        if len(pushes) == 1:
            redis_client().lpush(*pushes[0])
        else:
            with redis_client().pipeline(transaction=False) as pipe:
                for key, pk in pushes:
                    pipe.lpush(key, pk)
                pipe.execute()
    except redis.RedisError:
        logger.warning("Could not push %d executions to their pods", len(pushes))
    return others


def pods_claim(*, host: str, limit: int = 10) -> list[Deployment]:
    """Enabled low-latency deployments without a live pod host become `host`'s (row locks)."""
    now = timezone.now()
    # A pod host silent this long (its lease) loses its pods to another one.
    stale = now - timedelta(seconds=settings.RUNNER_LEASE_S)
    with transaction.atomic():
        claimable = (
            Deployment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(mode=DeploymentMode.LOW_LATENCY, is_enabled=True)
            .filter(Q(pod__isnull=True) | Q(pod__heartbeat_at__lt=stale))
            .select_related("pipeline")[:limit]
        )
        claimed = list(claimable)
        for deployment in claimed:
            Pod.objects.update_or_create(
                deployment=deployment,
                defaults={
                    "host": host,
                    "heartbeat_at": now,
                    "status": PodStatus.STARTING,
                    "pod_id": f"{deployment.name}-{os.urandom(4).hex()}",
                    "pid": None,
                },
            )
    return claimed


def pods_beat(*, host: str, deployment_pks: list, running_pks: list) -> None:
    """The host is alive: its pods and the executions they run."""
    now = timezone.now()
    runner_beat(name=host, kind=RunnerKind.POD_HOST, now=now)
    Pod.objects.filter(host=host, deployment_id__in=deployment_pks).update(
        heartbeat_at=now
    )
    if running_pks:
        Execution.objects.filter(
            pk__in=running_pks, status=ExecutionStatus.RUNNING
        ).update(heartbeat_at=now)


def pod_update(*, deployment_pk, host: str, **fields) -> None:
    Pod.objects.filter(deployment_id=deployment_pk, host=host).update(**fields)


def pod_release(*, deployment_pk, host: str) -> None:
    Pod.objects.filter(deployment_id=deployment_pk, host=host).delete()


def pods_release_host(*, host: str) -> None:
    """A pod host died: its pods are free for any pod host to claim at once."""
    Pod.objects.filter(host=host).delete()


def release_dead_host(sender, *, name: str, pid: int, **kwargs) -> None:
    """platform_site.signals.child_died: this machine's pod host died."""
    if name == "pods":
        pods_release_host(host=runner_name(pid))


def enqueue_first(sender, *, execution, **kwargs) -> None:
    """executions.signals.execution_runs_again: next in its deployment's line."""
    pod_enqueue(
        execution_pk=str(execution.pk),
        deployment_pk=execution.deployment_id,
        first=True,
    )


def pod_log(
    *, deployment_pk, pod_id: str, message: str, stream: str = "stdout"
) -> None:
    if not Deployment.objects.filter(pk=deployment_pk).exists():
        return  # deleted meanwhile
    PodLog.objects.create(
        deployment_id=deployment_pk,
        pod_id=pod_id,
        timestamp=timezone.now(),
        stream=stream,
        message=message,
    )


def deployment_status_set(*, deployment_pk, status: str) -> None:
    """A pod host's view of the deployment; never over `disabled` (the user's choice)."""
    updated = (
        Deployment.objects.filter(pk=deployment_pk, is_enabled=True)
        .exclude(status=status)
        .update(status=status)
    )
    if updated:
        notify.publish(notify.channel_for("deployment", deployment_pk))


def deployment_pods(deployment: Deployment) -> list[dict]:
    """§4.4 `pods`, with what the UI shows of each."""
    pod = Pod.objects.filter(deployment=deployment).first()
    if pod is None:
        return []
    return [
        {
            "pod_id": pod.pod_id,
            "status": pod.status,
            "rss_kib": pod.rss_kib,
            "restarts": pod.restarts,
            "host": pod.host,
        }
    ]


def deployment_enters_pending(deployment: Deployment) -> None:
    """A low-latency deployment (re)starting its pod waits in creation_pending."""
    if deployment.mode == DeploymentMode.LOW_LATENCY:
        deployment.status = DeploymentStatus.CREATION_PENDING
