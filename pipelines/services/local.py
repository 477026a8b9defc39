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
from platform_site.operations.roles import node_name

logger = logging.getLogger(__name__)

MARKER = ".prepared"  # holds the SHA-256 of the archive the folder was made from
# A folder this young may belong to a pipeline whose creation has not committed yet.
PRUNE_MIN_AGE_S = 15 * 60

Log = Callable[[str], None]

# Pipelines whose copy this process saw complete: a pipeline never changes, so
# their next executions skip the digest query (a stat of the marker remains).
_seen_complete: set[str] = set()


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


def _archive_sha256(pipeline: Pipeline) -> str | None:
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


def _marker(pipeline: Pipeline) -> Path:
    return pipeline.folder / MARKER


def local_copy_is(pipeline: Pipeline, sha256: str | None) -> bool:
    try:
        return _marker(pipeline).read_text() == sha256
    except FileNotFoundError:
        return False


def local_copy_mark(pipeline: Pipeline) -> None:
    """Say the folder is complete (the build or a preparation finished)."""
    sha256 = _archive_sha256(pipeline)
    if sha256 is not None:
        _marker(pipeline).write_text(sha256)


def local_copy_forget(pipeline: Pipeline) -> None:
    _seen_complete.discard(str(pipeline.pk))
    with contextlib.suppress(FileNotFoundError):
        _marker(pipeline).unlink()


def pipeline_local_ensure(*, pipeline: Pipeline) -> None:
    """Make this machine's copy of a ready pipeline if it is missing; BuildFailed if it cannot.

    Nothing to do when no archive is stored (a folder written by hand in tests).
    """
    from pipelines.services.build import prepare_local_copy

    if str(pipeline.pk) in _seen_complete and _marker(pipeline).is_file():
        return
    sha256 = _archive_sha256(pipeline)
    if sha256 is None:
        return
    if local_copy_is(pipeline, sha256):
        _seen_complete.add(str(pipeline.pk))
        return
    with local_lock(pipeline):
        if local_copy_is(pipeline, sha256):  # another thread made it while we waited
            return
        host = node_name()
        started = time.monotonic()
        _log_line(pipeline, f"Preparing the code on {host}")
        prepare_local_copy(
            pipeline, log=lambda line: logger.info("%s: %s", pipeline.name, line)
        )
        local_copy_mark(pipeline)
        _seen_complete.add(str(pipeline.pk))
        _log_line(
            pipeline,
            f"Code ready on {host} in {time.monotonic() - started:.1f} s",
        )
    local_copies_prune()


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


def _log_line(pipeline: Pipeline, message: str) -> None:
    from django.utils import timezone

    PipelineLog.objects.create(
        pipeline=pipeline, timestamp=timezone.now(), message=message
    )
