"""Celery tasks of the pipelines app: thin, they load ids and call services."""

from __future__ import annotations

from celery import shared_task

from pipelines.services.pipelines import PIPELINE_BUILD_TASK, pipeline_build


@shared_task(name=PIPELINE_BUILD_TASK)
def pipeline_build_task(pipeline_id: str) -> None:
    """Build one pipeline; a redelivered message finds it final and does nothing."""
    pipeline_build(pipeline_id=pipeline_id)
