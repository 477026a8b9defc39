"""Pipelines: create (store + enqueue the build), build, delete, logs.

Called alike by the API (pipelines/api.py), the UI (pipelines/views/) and
the Celery task (pipelines/tasks.py).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from pipelines.models import Pipeline, PipelineLog, PipelineStatus
from pipelines.services.build import BuildFailed, run_build
from pipelines.services.local import pipeline_archive_save
from pipelines.services.validation import pipeline_spec_validate
from pipelines.signals import pipeline_deleting, pipeline_dependents, responses
from platform_site.celery import app as celery_app
from platform_site.clients.redis_client import redis_client
from platform_site.http import notify
from platform_site.http.errors import Conflict, NotFound, TooLarge, ValidationFailed

logger = logging.getLogger(__name__)

MAX_LOG_LINE_CHARS = 10_000
PIPELINE_BUILD_TASK = "pipelines.build"  # pipelines/tasks.py
BUILD_LOCK_KEY = "platform:pipeline-build:{id}"
BUILD_LOCK_S = 30 * 60  # above the longest build (pip is capped at 15 min)
FINAL_STATUSES = (PipelineStatus.READY, PipelineStatus.CREATION_FAILED)
ARCHIVE_REQUIRED = (
    "step_file: the code archive is required; pass container_config="
    "{'local_folder': <folder>} so the client uploads it"
)
DELETE_NEEDS_FORCE = (
    "Pipeline '{name}' has deployments ({deployments}): delete them first or "
    "use force_deployments_deletion=True"
)


def pipeline_channel(pipeline: Pipeline) -> str:
    """Redis channel published on every status change of this pipeline."""
    return notify.channel_for("pipeline", pipeline.id)


def pipeline_log(*, pipeline: Pipeline, message: str) -> None:
    """Append to the creation log; a multi-line message becomes one row per line."""
    now = timezone.now()
    lines = [line[:MAX_LOG_LINE_CHARS] for line in str(message).splitlines()] or [""]
    PipelineLog.objects.bulk_create(
        PipelineLog(pipeline=pipeline, timestamp=now, message=line) for line in lines
    )


def _archive_size(archive: UploadedFile | bytes) -> int:
    return len(archive) if isinstance(archive, bytes | bytearray) else archive.size


def pipeline_create(
    *,
    name: str,
    function_path: str,
    function_name: str,
    description: str | None = None,
    inputs: list[dict] | None = None,
    outputs: list[dict] | None = None,
    container_config: dict | None = None,
    archive: UploadedFile | bytes | None,
    created_by: AbstractBaseUser | None,
) -> Pipeline:
    """Store a pipeline `creation_pending` with its archive; the build runs on commit.

    ValidationFailed names the bad field; Conflict if the name is taken;
    TooLarge past settings.MAX_UPLOAD_BYTES.
    """
    spec = pipeline_spec_validate(
        {
            "pipeline_name": name,
            "function_path": function_path,
            "function_name": function_name,
            "description": description,
            "inputs": inputs,
            "outputs": outputs,
            "container_config": container_config,
        }
    )
    if archive is None or _archive_size(archive) == 0:
        raise ValidationFailed(ARCHIVE_REQUIRED, data={"field": "step_file"})
    if _archive_size(archive) > settings.MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"step_file: the archive is larger than {settings.MAX_UPLOAD_BYTES} bytes",
            data={"field": "step_file"},
        )
    conflict = Conflict(
        f"A pipeline named '{spec.pipeline_name}' already exists.",
        data={"field": "pipeline_name"},
    )
    created: Pipeline | None = None
    try:
        with transaction.atomic():
            if Pipeline.objects.filter(name=spec.pipeline_name).exists():
                raise conflict
            try:
                with transaction.atomic():
                    created = Pipeline.objects.create(
                        name=spec.pipeline_name,
                        function_path=spec.function_path,
                        function_name=spec.function_name,
                        description=spec.description,
                        inputs=[item.model_dump() for item in spec.inputs],
                        outputs=[item.model_dump() for item in spec.outputs],
                        container_config=spec.container_config,
                        status=PipelineStatus.CREATION_PENDING,
                        created_by=created_by,
                    )
            except IntegrityError:
                raise conflict from None
            pipeline_archive_save(pipeline=created, archive=archive)
            who = created_by.get_username() if created_by is not None else "unknown"
            pipeline_log(
                pipeline=created, message=f"Pipeline creation requested by {who}"
            )
            pipeline = created
            # robust: a broker outage must not turn the committed 201 into a 500.
            transaction.on_commit(
                lambda: pipeline_build_enqueue(pipeline=pipeline), robust=True
            )
    except BaseException:
        # Rolled back: the archive written for the row must go too.
        if created is not None:
            shutil.rmtree(created.folder, ignore_errors=True)
        raise
    return pipeline


def pipeline_build_enqueue(*, pipeline: Pipeline) -> None:
    """Send the build message (also usable by a sweeper for stale creation_pending rows)."""
    # By name: the task module imports these services, not the reverse.
    celery_app.send_task(PIPELINE_BUILD_TASK, args=[str(pipeline.id)])


def _build_lock(pipeline_id: Any):
    """A Redis lock held while a build runs, so a duplicate message never builds twice.

    None when Redis is unreachable: building without the lock beats not building.
    """
    try:
        lock = redis_client().lock(
            BUILD_LOCK_KEY.format(id=pipeline_id), timeout=BUILD_LOCK_S
        )
        return lock if lock.acquire(blocking=False) else False
    except redis.RedisError:
        return None


def _release(lock) -> None:
    if lock:
        with contextlib.suppress(redis.RedisError):
            lock.release()


def pipeline_build(*, pipeline_id: Any) -> str | None:
    """Build a creation_pending pipeline; returns its final status (None if nothing to do)."""
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None or pipeline.status != PipelineStatus.CREATION_PENDING:
        return None
    lock = _build_lock(pipeline.pk)
    if lock is False:
        return None  # another worker is building it right now
    try:
        return _build(pipeline)
    finally:
        _release(lock)


def pipeline_requeue_stale(*, older_than_s: float = 120) -> int:
    """Re-enqueue creation_pending pipelines whose build message was lost; for a sweeper.

    A pipeline whose build holds its lock is left alone. Returns how many were sent.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    sent = 0
    for pipeline in Pipeline.objects.filter(
        status=PipelineStatus.CREATION_PENDING, created_at__lt=cutoff
    ):
        try:
            if redis_client().exists(BUILD_LOCK_KEY.format(id=pipeline.pk)):
                continue
        except redis.RedisError:
            return sent
        pipeline_build_enqueue(pipeline=pipeline)
        sent += 1
    return sent


def _build(pipeline: Pipeline) -> str | None:
    def log(message: str) -> None:
        pipeline_log(pipeline=pipeline, message=message)

    status = PipelineStatus.READY
    try:
        run_build(pipeline, log=log)
    except BuildFailed as exc:
        log(exc.message)
        for line in exc.details:
            log(line)
        status = PipelineStatus.CREATION_FAILED
    except Exception as exc:  # a platform bug must still end the build, not hang it
        logger.exception("Build of pipeline %s crashed", pipeline.name)
        log(f"Internal error while building the pipeline: {type(exc).__name__}: {exc}")
        status = PipelineStatus.CREATION_FAILED
    if status == PipelineStatus.READY:
        log("Pipeline is ready")
    else:
        log("Pipeline creation failed")
    return _finish(pipeline=pipeline, status=status)


def _finish(*, pipeline: Pipeline, status: str) -> str | None:
    with transaction.atomic():
        updated = Pipeline.objects.filter(
            pk=pipeline.pk, status=PipelineStatus.CREATION_PENDING
        ).update(status=status)
    if not Pipeline.objects.filter(pk=pipeline.pk).exists():
        # Deleted while building: do not leave its files behind.
        shutil.rmtree(pipeline.folder, ignore_errors=True)
        return None
    notify.publish(pipeline_channel(pipeline))
    return status if updated else None


def pipeline_wait(*, pipeline: Pipeline, timeout_s: float) -> Pipeline:
    """Hold while the pipeline is creation_pending (at most timeout_s); return it fresh."""

    def done() -> bool:
        return not Pipeline.objects.filter(
            pk=pipeline.pk, status=PipelineStatus.CREATION_PENDING
        ).exists()

    notify.wait_until(pipeline_channel(pipeline), done, timeout_s=timeout_s)
    return Pipeline.objects.filter(pk=pipeline.pk).first() or pipeline


def pipeline_delete(*, pipeline: Pipeline, force: bool) -> dict:
    """Delete a pipeline (and, with force, its deployments) and its files.

    Conflict while deployments exist and force is False.
    """
    with transaction.atomic():
        locked = Pipeline.objects.select_for_update().filter(pk=pipeline.pk).first()
        if locked is None:
            raise NotFound(f"Pipeline '{pipeline.name}' not found.")
        dependents = responses(pipeline_dependents, pipeline=locked)
        if dependents and not force:
            raise Conflict(
                DELETE_NEEDS_FORCE.format(
                    name=locked.name, deployments=", ".join(dependents)
                ),
                data={"deployments": dependents},
            )
        deleted = responses(pipeline_deleting, pipeline=locked)
        folder = locked.folder
        locked.delete()
        transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
        transaction.on_commit(lambda: notify.publish(pipeline_channel(pipeline)))
    return {
        "pipeline": {"name": pipeline.name},
        "deployments": [
            {"name": d["name"], "execution_rule": d["execution_rule"]} for d in deleted
        ],
    }
