from __future__ import annotations

import os

import pytest

from executions.files import execution_file_open
from executions.models import ExecutionReplay, IoDirection
from executions.replays.services import ReplayRefused, execution_replay, replay_original


def inputs(execution):
    return {
        row.name: (row.mapping_type, row.value)
        for row in execution.io.filter(direction=IoDirection.INPUT)
    }


def test_it_repeats_the_resolved_inputs(make_execution, bob):
    original = make_execution(number1=7, label="x")
    replay = execution_replay(execution=original, created_by=bob)
    assert replay.pk != original.pk
    assert replay.pipeline_id == original.pipeline_id
    assert inputs(replay) == inputs(original)
    assert replay.created_by == bob
    assert replay_original(replay).original == original


def test_it_copies_input_files(with_file, alice):
    replay = execution_replay(execution=with_file, created_by=alice)
    row = replay.io.get(name="doc")
    assert row.file_path.endswith("/notes.txt")
    assert row.file_path != with_file.io.get(name="doc").file_path
    with execution_file_open(row.file_path) as f:
        assert f.read() == b"hello"


def test_it_refuses_when_an_input_file_is_gone(with_file, alice):
    os.remove(with_file.io.get(name="doc").file_path)
    with pytest.raises(ReplayRefused, match="Input 'doc': its file no longer exists"):
        execution_replay(execution=with_file, created_by=alice)
    assert not ExecutionReplay.objects.exists()


def test_it_refuses_when_the_pipeline_was_deleted(make_execution, alice):
    original = make_execution()
    original.pipeline.delete()
    original.refresh_from_db()
    with pytest.raises(
        ReplayRefused, match="Pipeline 'adder' of this execution was deleted"
    ):
        execution_replay(execution=original, created_by=alice)


def test_it_refuses_when_a_data_store_input_is_gone(make_execution, alice):
    original = make_execution()
    original.io.filter(name="label").update(
        mapping_type="datastore", mapping_value={"datastore_path": "gone/file.txt"}
    )
    with pytest.raises(ReplayRefused, match="gone/file.txt"):
        execution_replay(execution=original, created_by=alice)


def test_the_link_survives_the_originals_deletion(make_execution, alice):
    original = make_execution()
    replay = execution_replay(execution=original, created_by=alice)
    original_id = original.execution_id
    original.delete()
    link = replay_original(replay)
    assert link.original is None and link.original_execution_id == original_id
