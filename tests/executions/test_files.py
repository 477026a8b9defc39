"""executions/files.py: execution files on this machine's disk, or in S3 for every machine."""

from __future__ import annotations

import io
import uuid

import pytest

from executions.files import (
    S3_MARK,
    execution_file_name,
    execution_file_open,
    execution_file_store,
    execution_files_delete,
)


@pytest.fixture(params=["local", "s3"])
def storage(request, settings):
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


def test_it_stores_reads_and_copies_a_file(storage, tmp_path):
    pk = uuid.uuid4()
    source = tmp_path / "report.csv"
    source.write_bytes(b"a,b\n")

    file_path = execution_file_store(
        execution_pk=pk, relative="outputs/report/report.csv", source=source
    )
    with execution_file_open(file_path) as handle:
        content = handle.read()

    assert content == b"a,b\n"
    assert execution_file_name(file_path) == "report.csv"
    assert file_path.startswith(S3_MARK) == (storage == "s3")


def test_it_stores_an_upload_stream(storage):
    file_path = execution_file_store(
        execution_pk=uuid.uuid4(),
        relative="inputs/upload/data.bin",
        source=io.BytesIO(b"\x00\x01"),
    )
    with execution_file_open(file_path) as handle:
        assert handle.read() == b"\x00\x01"


def test_it_deletes_the_files_of_an_execution(storage):
    pk, other = uuid.uuid4(), uuid.uuid4()
    gone = execution_file_store(
        execution_pk=pk, relative="inputs/a/a.txt", source=io.BytesIO(b"a")
    )
    kept = execution_file_store(
        execution_pk=other, relative="inputs/a/a.txt", source=io.BytesIO(b"b")
    )

    execution_files_delete([pk])

    with pytest.raises(FileNotFoundError):
        execution_file_open(gone)
    with execution_file_open(kept) as handle:
        assert handle.read() == b"b"
