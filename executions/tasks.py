"""Celery tasks: thin, they load nothing themselves and call a service."""

from __future__ import annotations

from celery import shared_task

from executions import services
from executions.services.lifecycle import EXECUTION_RUN_TASK
from executions.worker import get_pool, running


@shared_task(name=EXECUTION_RUN_TASK, ignore_result=True)
def execution_run(execution_pk: str) -> None:
    """Run one elastic execution; a duplicate delivery is a no-op (claim guard)."""
    with running(execution_pk):
        services.execution_run(execution_pk=execution_pk, pool=get_pool())
