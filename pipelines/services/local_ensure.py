"""A ready pipeline's copy on this machine, made on first use (pipelines/services/local.py says why).

Above both the local copies and the build: it checks the one and runs the
other's preparation when the copy is missing or stale.
"""

from __future__ import annotations

import logging
import time

from pipelines.models import Pipeline
from pipelines.services.build import prepare_local_copy
from pipelines.services.local import (
    archive_sha256,
    local_copies_prune,
    local_copy_is,
    local_copy_mark,
    local_copy_marker,
    local_lock,
    pipeline_log_line,
    seen_complete,
)
from platform_site.operations.roles import node_name

logger = logging.getLogger(__name__)


def pipeline_local_ensure(*, pipeline: Pipeline) -> None:
    """Make this machine's copy of a ready pipeline if it is missing; BuildFailed if it cannot.

    Nothing to do when no archive is stored (a folder written by hand in tests).
    """
    if str(pipeline.pk) in seen_complete and local_copy_marker(pipeline).is_file():
        return
    sha256 = archive_sha256(pipeline)
    if sha256 is None:
        return
    if local_copy_is(pipeline, sha256):
        seen_complete.add(str(pipeline.pk))
        return
    with local_lock(pipeline):
        if local_copy_is(pipeline, sha256):  # another thread made it while we waited
            return
        host = node_name()
        started = time.monotonic()
        pipeline_log_line(pipeline, f"Preparing the code on {host}")
        prepare_local_copy(
            pipeline, log=lambda line: logger.info("%s: %s", pipeline.name, line)
        )
        local_copy_mark(pipeline)
        seen_complete.add(str(pipeline.pk))
        pipeline_log_line(
            pipeline,
            f"Code ready on {host} in {time.monotonic() - started:.1f} s",
        )
    local_copies_prune()
