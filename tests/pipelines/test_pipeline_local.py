"""pipeline_local: a worker machine with an empty disk makes its own copy of a pipeline, once."""

from __future__ import annotations

import shutil
import threading
import time
import uuid

import pytest
from django.contrib.auth.models import User
from django.db import connection

from pipelines.models import PipelineArchive, PipelineStatus
from pipelines.services.local import (
    PRUNE_MIN_AGE_S,
    local_copies_prune,
    local_copy_is,
    pipeline_archive_content,
)
from pipelines.services.local_ensure import pipeline_local_ensure
from tests.pipelines.test_pipeline_build import MAIN, build, create


def another_machine(settings, tmp_path) -> None:
    """What a second worker sees: the same database, its own empty disk."""
    settings.PIPELINES_DIR = tmp_path / "machine-b" / "pipelines"


def test_it_keeps_the_archive_in_the_database(alice):
    pipeline = create(alice)

    assert pipeline_archive_content(pipeline)[:2] == b"\x1f\x8b"
    assert len(PipelineArchive.objects.get(pipeline=pipeline).sha256) == 64


def test_it_marks_the_built_copy_with_the_archive_digest(alice):
    pipeline = create(alice)
    build(pipeline)

    digest = PipelineArchive.objects.get(pipeline=pipeline).sha256
    assert pipeline.status == PipelineStatus.READY
    assert local_copy_is(pipeline, digest)


def test_it_prepares_the_code_on_a_machine_that_never_saw_it(alice, settings, tmp_path):
    pipeline = create(alice)
    build(pipeline)
    another_machine(settings, tmp_path)
    assert not pipeline.code_dir.exists()

    pipeline_local_ensure(pipeline=pipeline)

    assert (pipeline.code_dir / "src/main.py").read_text() == MAIN
    assert pipeline.logs.filter(message__startswith="Code ready on").count() == 1


def ensure_in_thread(pipeline) -> None:
    try:
        pipeline_local_ensure(pipeline=pipeline)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_it_prepares_once_under_concurrent_first_uses(settings, tmp_path):
    alice = User.objects.create_user("alice-threads")
    pipeline = create(alice)
    build(pipeline)
    another_machine(settings, tmp_path)

    threads = [
        threading.Thread(target=ensure_in_thread, args=(pipeline,)) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert pipeline.logs.filter(message__startswith="Preparing the code").count() == 1
    assert (pipeline.code_dir / "src/main.py").read_text() == MAIN


def test_it_prepares_again_when_the_copy_was_left_half_made(alice, settings, tmp_path):
    pipeline = create(alice)
    build(pipeline)
    (pipeline.folder / ".prepared").unlink()
    shutil.rmtree(pipeline.code_dir / "src")

    pipeline_local_ensure(pipeline=pipeline)

    assert (pipeline.code_dir / "src/main.py").read_text() == MAIN


def test_it_forgets_the_copies_of_deleted_pipelines(alice, settings):
    kept = create(alice)
    build(kept)
    deleted_id = uuid.uuid4()
    stale = settings.PIPELINES_DIR / str(deleted_id)
    (stale / "code").mkdir(parents=True)
    later = time.time() + PRUNE_MIN_AGE_S + 60

    gone = local_copies_prune(now=later)

    assert gone == [str(deleted_id)]
    assert not stale.exists()
    assert kept.code_dir.exists()


def test_it_leaves_a_young_folder_alone(alice, settings):
    young = settings.PIPELINES_DIR / str(uuid.uuid4())
    young.mkdir(parents=True)

    assert local_copies_prune() == []
    assert young.exists()
