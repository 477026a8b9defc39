"""This machine's copy of a pipeline's code and virtualenv, made from the archive in the database.

Worker machines share no disk. The build (on whichever worker takes it)
checks the pipeline; every other worker extracts the archive and installs
its requirements again on first use. A copy is keyed by the archive's
SHA-256 (a pipeline's code never changes: a new upload is a new pipeline),
and made under a file lock, so concurrent executions on one machine wait
for one preparation instead of racing over the same folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from pipelines.models import Pipeline, PipelineArchive, PipelineLog

logger = logging.getLogger(__name__)

MARKER = ".prepared"  # holds the SHA-256 of the archive the folder was made from
# A folder this young may belong to a pipeline whose creation has not committed yet.
PRUNE_MIN_AGE_S = 15 * 60

Log = Callable[[str], None]

# Pipelines whose copy this process saw complete: a pipeline never changes, so
# their next executions skip the digest query (a stat of the marker remains).
seen_complete: set[str] = set()


def pipeline_archive_save(*, pipeline: Pipeline, archive: UploadedFile | bytes) -> None:
    """Store the uploaded archive in the database (and this machine's copy of it)."""
    if isinstance(archive, bytes | bytearray):
        content = bytes(archive)
    else:
        content = b"".join(archive.chunks())
    PipelineArchive.objects.create(
        pipeline=pipeline, content=content, sha256=hashlib.sha256(content).hexdigest()
    )
    pipeline.folder.mkdir(parents=True, exist_ok=True)
    pipeline.archive_path.write_bytes(content)


def pipeline_archive_content(pipeline: Pipeline) -> bytes | None:
    """The archive's bytes; None when none was stored."""
    content = (
        PipelineArchive.objects.filter(pipeline=pipeline)
        .values_list("content", flat=True)
        .first()
    )
    return None if content is None else bytes(content)


def archive_sha256(pipeline: Pipeline) -> str | None:
    return (
        PipelineArchive.objects.filter(pipeline=pipeline)
        .values_list("sha256", flat=True)
        .first()
    )


def pipeline_archive_fetch(pipeline: Pipeline) -> bool:
    """Write this machine's copy of the archive from the database; False when none is stored."""
    content = pipeline_archive_content(pipeline)
    if content is None:
        return False
    pipeline.folder.mkdir(parents=True, exist_ok=True)
    temp = pipeline.archive_path.with_suffix(".partial")
    temp.write_bytes(content)
    temp.replace(pipeline.archive_path)
    return True


@contextlib.contextmanager
def local_lock(pipeline: Pipeline) -> Iterator[None]:
    """Held while this machine's copy is made (threads and processes alike: flock)."""
    locks = Path(settings.PIPELINES_DIR) / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / str(pipeline.pk), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def local_copy_marker(pipeline: Pipeline) -> Path:
    return pipeline.folder / MARKER


def local_copy_is(pipeline: Pipeline, sha256: str | None) -> bool:
    try:
        return local_copy_marker(pipeline).read_text() == sha256
    except FileNotFoundError:
        return False


def local_copy_mark(pipeline: Pipeline) -> None:
    """Say the folder is complete (the build or a preparation finished)."""
    sha256 = archive_sha256(pipeline)
    if sha256 is not None:
        local_copy_marker(pipeline).write_text(sha256)


def local_copy_forget(pipeline: Pipeline) -> None:
    seen_complete.discard(str(pipeline.pk))
    with contextlib.suppress(FileNotFoundError):
        local_copy_marker(pipeline).unlink()


def local_copies_prune(*, now: float | None = None) -> list[str]:
    """Remove this machine's copies of deleted pipelines; returns their ids.

    A delete only removes the copy of the machine that served it: the others
    forget theirs here, the next time they prepare a pipeline.
    """
    root = Path(settings.PIPELINES_DIR)
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    candidates = {}
    for entry in root.iterdir():
        with contextlib.suppress(ValueError, FileNotFoundError):
            if entry.is_dir() and now - entry.stat().st_mtime > PRUNE_MIN_AGE_S:
                candidates[str(uuid.UUID(entry.name))] = entry
    alive = {
        str(pk)
        for pk in Pipeline.objects.filter(pk__in=list(candidates)).values_list(
            "pk", flat=True
        )
    }
    gone = sorted(set(candidates) - alive)
    for pipeline_id in gone:
        shutil.rmtree(candidates[pipeline_id], ignore_errors=True)
        (root / ".locks" / pipeline_id).unlink(missing_ok=True)
    return gone


def pipeline_log_line(pipeline: Pipeline, message: str) -> None:
    from django.utils import timezone

    PipelineLog.objects.create(
        pipeline=pipeline, timestamp=timezone.now(), message=message
    )
